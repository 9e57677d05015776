"""Access log lines without credentials: no query strings (feed tokens and hook secrets
travel there) and no link tokens in paths (``/join/<token>``, ``/api/checkin/<token>``...)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from vcorch.web.addresses import CLIENT_ADDRESS

# Path parts that are credentials themselves: whoever holds the link may use it.
SECRET_PATH_PARTS = ("token",)
REDACTED = "<redacted>"


def loggable_path(request: web.BaseRequest) -> str:
    """The request's path with the routes' credential parts replaced."""
    path = request.path
    if isinstance(request, web.Request):
        match_info = request.match_info
        for name in SECRET_PATH_PARTS:
            value = match_info.get(name)
            if value:
                path = path.replace(value, REDACTED)
    return path


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1fms %s',
            request.get(CLIENT_ADDRESS) or request.remote,
            request.method,
            loggable_path(request),
            response.status,
            time * 1000,
            response.headers.get("X-Request-ID", "-"),
        )
