"""A meeting hosted on Jitsi Meet: a fallen-back site's link is Jitsi's own room link (with
a room token for the site); once its browser is in the room the live view shows the site
connected by browser and attendance counts it, from Jitsi's own listing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests import databases
from tests.api import Api, FakeClock, make_settings
from tests.emulators.jitsi import JitsiEmulator
from tests.webrtc.live import link_for, live_meeting
from tests.world import World, build_world
from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import ConferenceSpec
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.orchestration.models import RunSite
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.web.keys import SESSIONS

SECRET = "jitsi-app-secret-of-a-good-length-0123456789"


@pytest.fixture
async def jitsi() -> AsyncIterator[JitsiEmulator]:
    emulated = JitsiEmulator(app_secret=SECRET)
    await emulated.start()
    yield emulated
    await emulated.stop()


@pytest.fixture
async def jitsi_client(
    jitsi: JitsiEmulator,
    sqlite_template: Path,
    tmp_path: Path,
    clock: FakeClock,
    aiohttp_client: Any,
) -> Any:
    from vcorch.app import create_app

    secret = tmp_path / "jitsi-secret"
    secret.write_text(SECRET, encoding="utf-8")
    bridge = BridgeConfig(
        name="jitsi",
        type="jitsi",
        url="https://meet.example.vn/",
        secret_file=secret,
        ports=200,
        timeout_seconds=2,
        retries=1,
        options={
            "domain": "meet.example.vn",
            "app_id": "vcorch-app",
            "prosody_url": jitsi.prosody_url,
            "jvb_url": jitsi.jvb_url,
        },
    )
    settings = make_settings(databases.copy_sqlite(sqlite_template, tmp_path), bridges=[bridge])
    return await aiohttp_client(create_app(settings, clock=clock, background=False))


async def test_a_browser_in_the_jitsi_room_is_the_site_connected_by_browser(
    jitsi_client: Any, jitsi: JitsiEmulator, clock: FakeClock
) -> None:
    app = jitsi_client.server.app
    api = Api(jitsi_client)
    world: World = await build_world(app, api)
    ref = await app[REGISTRY]["jitsi"].create_conference(
        ConferenceSpec(key="meeting-jitsi", title="Giao ban", expected_sites=3)
    )
    live = await live_meeting(
        app, api, world, clock.now, host_bridge="jitsi", host_conference=ref.conference_id
    )
    async with app[SESSIONS].begin() as session:
        fallen = await session.get(RunSite, live.run_sites["lao-cai"])
        assert fallen is not None
        fallen.state = "fallback"
    token = await link_for(api, world, live, "lao-cai")
    status, info = await api.as_(None).get(f"/api/join/{token}")
    assert status == 200 and info["mode"] == "bridge", info
    assert info["url"].startswith("https://meet.example.vn/")
    await jitsi.join(info["url"])

    await app[ORCHESTRATOR].step(live.run_id)
    sec = api.as_(world.tokens["central_sec"])
    status, view = await sec.get(f"/api/meetings/{live.meeting_id}/live")
    assert status == 200, view
    row = next(x for x in view["sites"] if x["room_id"] == world.rooms["lao-cai"])
    assert (row["state"], row["channel"], row["separate_room"]) == (
        "connected",
        "browser",
        False,
    ), row
    clock.advance(minutes=10)
    await app[ORCHESTRATOR].step(live.run_id)
    status, report = await sec.get(f"/api/meetings/{live.meeting_id}/attendance")
    assert status == 200, report
    counted = next(x for x in report["sites"] if x["room_id"] == world.rooms["lao-cai"])
    assert counted["took_part_via"] == "browser", counted
    assert counted["connected_seconds"] >= 600, counted
