"""Middleware of the HTTP edge: request ids, problem+json for every error, safe headers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from vcorch.db import database_unavailable
from vcorch.web.access_log import loggable_path
from vcorch.web.addresses import client_address
from vcorch.web.api import REQUEST_ID, request_id
from vcorch.web.problems import HttpProblem, problem_response

log = logging.getLogger("vcorch.http")

_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problems_middleware(request: web.Request, handler: Next) -> web.StreamResponse:
    rid = request.headers.get("X-Request-ID", "")[:64]
    if rid and rid.isprintable() and rid.isascii():
        request[REQUEST_ID] = rid
    rid = request_id(request)
    client_address(request)  # once, so that the access log names the same client
    try:
        response = await handler(request)
    except HttpProblem as problem:
        response = problem.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        slug, title = _HTTP_SLUGS.get(exc.status, ("http-error", exc.reason))
        detail = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        response = problem_response(exc.status, slug, title, detail or title, headers=headers)
    except Exception as err:
        if database_unavailable(err):
            # A database restart or fail-over: nothing was written, the caller may resend.
            log.warning(
                "database unavailable in %s %s (request %s): %s",
                request.method,
                loggable_path(request),
                rid,
                type(err).__name__,
            )
            response = problem_response(
                503,
                "database-unavailable",
                "Service unavailable",
                "the database cannot be reached right now; nothing was changed, try again",
                headers={"Retry-After": "1"},
            )
        else:
            # The traceback goes to the log with the request id; the client gets the id only.
            log.exception(
                "unhandled error in %s %s (request %s)",
                request.method,
                loggable_path(request),
                rid,
            )
            response = problem_response(
                500, "internal-error", "Internal error", f"the error was logged as request {rid}"
            )
    response.headers["X-Request-ID"] = rid
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
