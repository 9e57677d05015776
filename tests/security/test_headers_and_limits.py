"""Smaller findings of issue 16 (finding 6 and 10):

- no response tells the server's software and version (``Server``);
- the API reference page has the pages' Content-Security-Policy, framing forbidden;
- the limits the API documents are the ones it enforces (a meeting's title);
- open data neutralises a cell that a spreadsheet would run as a formula, as the
  authenticated exports do.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api import Api
from tests.booking.test_booking_api import meeting
from tests.stats.conftest import Calendar, calendar, clock  # noqa: F401 - fixtures
from tests.stats.test_online_share import build
from tests.world import World
from vcorch.stats.routes import STATS

PATHS = [
    "/healthz",
    "/api/docs",
    "/api/openapi.json",
    "/api/auth/me",
    "/api/khong-co",
    "/static/board.js",
    "/open-data/online-share.csv",
]


@pytest.mark.parametrize("path", PATHS)
async def test_no_response_names_the_server_software(
    app_client: TestClient[Any, Any], path: str
) -> None:
    response = await app_client.get(path)
    server = response.headers.get("Server", "")
    assert "python" not in server.lower() and "aiohttp" not in server.lower(), server
    assert not any(char.isdigit() for char in server), server


async def test_the_api_reference_has_the_pages_policy(app_client: TestClient[Any, Any]) -> None:
    response = await app_client.get("/api/docs")
    assert response.status == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    page = await response.text()
    # Under that policy an inline style would not apply: the page's style is a file.
    assert "<style" not in page and "style=" not in page
    assert 'href="/static/api-docs.css"' in page
    sheet = await app_client.get("/static/api-docs.css")
    assert sheet.status == 200 and sheet.content_type == "text/css"


async def test_a_documented_limit_is_the_enforced_one(api: Api, world: World) -> None:
    _, document = await api.get("/api/openapi.json")
    schemas = document["components"]["schemas"]
    sec = api.as_(world.tokens["central_sec"])
    for name in ("MeetingCreate", "MeetingUpdate"):
        title = schemas[name]["properties"]["title"]
        limits = [title.get("maxLength")] + [o.get("maxLength") for o in title.get("anyOf", [])]
        assert [limit for limit in limits if limit] == [255], (name, title)
    status, created = await sec.post("/api/meetings", meeting(world, title="T" * 255))
    assert status == 201, created
    status, problem = await sec.post("/api/meetings", meeting(world, title="T" * 256))
    assert status == 422 and problem["errors"][0]["field"] == "title", problem


FORMULA = '=HYPERLINK("http://evil.example/x","Bấm vào đây")'


async def test_open_data_neutralises_formula_cells(calendar: Calendar) -> None:  # noqa: F811
    await build(calendar)
    admin = calendar.api.as_(await calendar.token("admin"))
    unit = calendar.world.units["lao-cai"]
    status, body = await admin.patch(f"/api/units/{unit}", {"name": FORMULA})
    assert status == 200, body
    await calendar.app[STATS].refresher.refresh()
    response = await calendar.api.client.get("/open-data/online-share.csv")
    rows = list(csv.reader(io.StringIO(await response.text())))
    names = {row[2] for row in rows[1:] if row[1] == "lao-cai"}
    # Prefixed as in the authenticated exports (the same function does both).
    assert names == {"'" + FORMULA}, names
