"""Swagger UI's files come from vcorch itself (the installed wheel), and only those."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon-32x32.png", "image/png"),
    ],
)
async def test_the_page_s_files_are_served_locally(
    app_client: TestClient[Any, Any], name: str, content_type: str
) -> None:
    response = await app_client.get(f"/api/docs/assets/{name}")
    assert response.status == 200 and response.content_type == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert len(await response.read()) > 500


@pytest.mark.parametrize(
    "name", ["index.html", "swagger-initializer.js", "..%2F__init__.py", "swagger-ui.js.map"]
)
async def test_nothing_else_of_the_wheel_is_served(
    app_client: TestClient[Any, Any], name: str
) -> None:
    assert (await app_client.get(f"/api/docs/assets/{name}")).status == 404


async def test_the_page_loads_nothing_from_elsewhere(app_client: TestClient[Any, Any]) -> None:
    response = await app_client.get("/api/docs")
    page = await response.text()
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "http://" not in page and "https://" not in page
    assert '<script src="/static/api-docs.js">' in page
    script = await (await app_client.get("/static/api-docs.js")).text()
    assert "validatorUrl: null" in script
