"""Bridges over HTTP: status without credentials; pushed events stored once, before the answer."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.api import Api, FakeClock, make_settings
from tests.world import World
from vcorch.bridge_events.models import BridgeEventRecord
from vcorch.config import BridgeConfig, Settings
from vcorch.mcu_adapter.routes import BRIDGE_HEALTH
from vcorch.web.keys import SESSIONS

CDR = Path(__file__).resolve().parent.parent / "fixtures" / "cisco_cms" / "cdr"
HOOK_SECRET = "chia-khoa-hook-rat-dai-0123456789"
API_PASSWORD = "mat-khau-api-cms-khong-duoc-lo"


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("VCORCH_TEST_CMS_PASSWORD", API_PASSWORD)
    monkeypatch.setenv("VCORCH_TEST_CMS_HOOK", HOOK_SECRET)
    cms = BridgeConfig(
        name="cms-trung-uong",
        type="cisco_cms",
        url="https://127.0.0.1:9",
        username="vcorch",
        password_env="VCORCH_TEST_CMS_PASSWORD",
        ports=120,
        timeout_seconds=0.5,
        retries=0,
        options={"hook_secret_env": "VCORCH_TEST_CMS_HOOK"},
    )
    broken = BridgeConfig(name="hong", type="no-such-kind")
    sim = BridgeConfig(name="mo-phong", type="simulated", ports=50)
    return make_settings(database_url, bridges=[cms, broken, sim])


async def stored_events(api: Api) -> int:
    async with api.client.server.app[SESSIONS]() as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(BridgeEventRecord))
            ).scalar_one()
        )


async def test_bridges_are_listed_with_health_and_without_credentials(
    api: Api, world: World
) -> None:
    status, body = await api.as_(world.tokens["laocai_op"]).get("/api/bridges")
    assert status == 200
    rows = {row["name"]: row for row in body["items"]}
    # The built-in browser bridge (WebRTC fallback) is always there too.
    assert set(rows) == {"cms-trung-uong", "hong", "mo-phong", "webrtc"}
    assert rows["mo-phong"]["healthy"] is True and rows["mo-phong"]["ports_total"] == 50
    # Nothing answers on port 9: the CMS is reported unhealthy, not a crash.
    assert rows["cms-trung-uong"]["healthy"] is False and rows["cms-trung-uong"]["last_error"]
    assert rows["hong"]["loaded"] is False and "no-such-kind" in rows["hong"]["last_error"]
    text = str(body)
    assert API_PASSWORD not in text and HOOK_SECRET not in text
    status, one = await api.as_(world.tokens["laocai_op"]).get("/api/bridges/mo-phong")
    assert status == 200 and one["type"] == "simulated"
    assert (await api.as_(world.tokens["laocai_op"]).get("/api/bridges/khong-co"))[0] == 404
    assert (
        await api.as_(world.tokens["laocai_op"]).get(
            "/api/bridges", headers={"Authorization": "Bearer x"}
        )
    )[0] == 401


async def test_pushed_cdrs_are_stored_once_and_need_the_secret(api: Api, world: World) -> None:
    batch = (CDR / "batch.xml").read_bytes()
    hook = "/api/hooks/cms-trung-uong"
    response = await api.client.post(
        hook, data=batch, headers={"X-Vcorch-Hook-Secret": HOOK_SECRET}
    )
    assert response.status == 200, await response.text()
    first = await response.json()
    assert first["received"] >= 1 and first["stored"] == first["received"]
    assert await stored_events(api) == first["stored"]
    # A replay (the CMS retries on any doubt) stores nothing new.
    basic = base64.b64encode(f"cms:{HOOK_SECRET}".encode()).decode()
    response = await api.client.post(hook, data=batch, headers={"Authorization": f"Basic {basic}"})
    assert (await response.json())["stored"] == 0
    assert await stored_events(api) == first["stored"]

    response = await api.client.post(hook, data=batch, headers={"X-Vcorch-Hook-Secret": "sai"})
    assert response.status == 401
    response = await api.client.post(
        hook, data=b"<records><record", headers={"X-Vcorch-Hook-Secret": HOOK_SECRET}
    )
    # Kept as rejected and acknowledged: a refused batch would be resent for ever.
    assert response.status == 200, await response.text()
    assert (await response.json())["rejected_id"] is not None
    # An unknown name answers as a wrong secret: bridge names are not told.
    assert (await api.client.post("/api/hooks/khong-co", data=batch)).status == 401
    # The simulated bridge pushes in process, not over HTTP.
    assert (await api.client.post("/api/hooks/mo-phong", data=b"{}")).status in (401, 404)
    assert await stored_events(api) == first["stored"]


async def test_bridge_health_is_read_from_one_snapshot_polled_again_when_stale(
    api: Api, world: World, clock: FakeClock
) -> None:
    health = api.client.server.app[BRIDGE_HEALTH]
    operator = api.as_(world.tokens["laocai_op"])
    # Requests arriving together share one poll of every bridge.
    answers = await asyncio.gather(*(operator.get("/api/bridges") for _ in range(8)))
    assert {status for status, _ in answers} == {200}
    assert health.polls == 1
    assert (await operator.get("/api/bridges/mo-phong"))[0] == 200
    assert health.polls == 1
    clock.advance(seconds=31)  # older than the route's max age
    assert (await operator.get("/api/bridges"))[0] == 200
    assert health.polls == 2
