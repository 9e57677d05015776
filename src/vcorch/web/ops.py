"""Operational routes: liveness, readiness, the OpenAPI document and its page."""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from aiohttp import web
from sqlalchemy import text

from vcorch.db import current_revision, head_revision
from vcorch.web.keys import ENGINE
from vcorch.web.openapi import render_docs
from vcorch.web.pages import PAGE_HEADERS

OPENAPI = web.AppKey("openapi", dict[str, Any])
READY_TIMEOUT_SECONDS = 3.0


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    checks: dict[str, str] = {}
    ready = True
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            current = await current_revision(engine)
        head = head_revision()
        checks["database"] = "ok"
        if current == head:
            checks["migrations"] = "ok"
        else:
            ready = False
            checks["migrations"] = f"at {current}, expected {head}: run `vcorch db upgrade`"
    except (TimeoutError, OSError, Exception) as err:
        ready = False
        checks["database"] = f"unreachable: {type(err).__name__}"
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


async def docs_page(request: web.Request) -> web.Response:
    # The pages' policy: the reference echoes every summary, and nothing may frame it.
    # Swagger UI keeps to it: its styles are a file, the styles it sets at run time go
    # through the DOM (which style-src does not govern), and our own file starts it.
    return web.Response(
        text=render_docs(request.app[OPENAPI]), content_type="text/html", headers=PAGE_HEADERS
    )


# Swagger UI's files, from the swagger-ui-bundle-v2 wheel the install step fetches (never a
# CDN: the programme's networks are often closed).  Only these are served.
SWAGGER_UI_FILES = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}


@cache
def _swagger_ui_file(name: str) -> bytes:
    return (Path(str(swagger_ui_bundle.swagger_ui_path)) / name).read_bytes()


async def docs_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    content_type = SWAGGER_UI_FILES.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=_swagger_ui_file(name),
        content_type=content_type,
        charset=None if content_type.startswith("image/") else "utf-8",
        headers={
            "X-Content-Type-Options": "nosniff",
            # The file changes only with the installed wheel, and the name with it not.
            "Cache-Control": "public, max-age=86400",
        },
    )


async def _anonymous_server(_request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp would say "Python/3.x aiohttp/3.y": a list of versions to look up exploits for.
    response.headers["Server"] = "vcorch"


def mount(app: web.Application) -> None:
    app.on_response_prepare.append(_anonymous_server)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
    app.router.add_get("/api/docs/assets/{name}", docs_asset)
