"""Access log lines without query strings: feed tokens and links travel there."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1fms %s',
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
            response.headers.get("X-Request-ID", "-"),
        )
