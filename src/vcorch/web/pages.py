"""The few HTML pages people open (the operator board, ...): files served as they are.

Pages are plain HTML with their script and style under ``/static/``; there is no build
step and no server-side templating (each page reads the JSON API from the browser).  The
security headers forbid inline scripts and framing, so a page can only run its own file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aiohttp import web

WEB_DIR = Path(__file__).parent
TEMPLATES = WEB_DIR / "templates"
STATIC = WEB_DIR / "static"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> bytes:
    return (TEMPLATES / name).read_bytes()


def page_response(name: str) -> web.Response:
    """The page ``web/templates/<name>`` with the pages' security headers."""
    return web.Response(
        body=_read(name), content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
    )


async def home(_request: web.Request) -> web.StreamResponse:
    """The console's home page: it signs in and reads the API from the browser."""
    return page_response("home.html")


def mount_home(app: web.Application) -> None:
    """``GET /``: the console's home page (each package mounts its own pages)."""
    app.router.add_get("/", home)


def mount_static(app: web.Application) -> None:
    """``/static/<file>`` from ``web/static`` (scripts and styles of the pages)."""
    app.router.add_static("/static/", STATIC, name="static", follow_symlinks=False)
