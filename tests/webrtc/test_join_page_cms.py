"""A meeting hosted on Cisco Meeting Server with its web app configured: a site's link leads
to the web app's guest link of the meeting's own coSpace, and the page offers it with one
clear button (no preview: the web app has its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests import databases
from tests.api import Api, FakeClock, make_settings
from tests.browser import Browser, artifact
from tests.emulators.cisco_cms import CmsEmulator
from tests.webrtc.live import link_for, live_meeting
from tests.world import World, build_world
from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import ConferenceSpec
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.orchestration.models import RunConference, RunSite
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.web.keys import SESSIONS

WEBAPP = "https://join.cms.example.gov.vn"


@pytest.fixture
async def cms() -> AsyncIterator[CmsEmulator]:
    emulated = CmsEmulator()
    await emulated.start()
    yield emulated
    await emulated.stop()


@pytest.fixture
async def cms_client(
    cms: CmsEmulator, sqlite_template: Path, tmp_path: Path, clock: FakeClock, aiohttp_client: Any
) -> Any:
    from vcorch.app import create_app

    password = tmp_path / "cms-password"
    password.write_text(cms.password, encoding="utf-8")
    bridge = BridgeConfig(
        name="cms-hn",
        type="cisco_cms",
        url=cms.url,
        username=cms.username,
        password_file=password,
        timeout_seconds=2,
        retries=1,
        options={"webapp_url": WEBAPP},
    )
    settings = make_settings(databases.copy_sqlite(sqlite_template, tmp_path), bridges=[bridge])
    return await aiohttp_client(create_app(settings, clock=clock, background=False))


async def test_the_link_opens_the_cms_web_app_in_the_meetings_space(
    cms_client: Any, cms: CmsEmulator, browser: Browser, clock: FakeClock
) -> None:
    app = cms_client.server.app
    api = Api(cms_client)
    world: World = await build_world(app, api)
    ref = await app[REGISTRY]["cms-hn"].create_conference(
        ConferenceSpec(key="meeting-cms", title="Giao ban", expected_sites=3)
    )
    live = await live_meeting(
        app, api, world, clock.now, host_bridge="cms-hn", host_conference=ref.conference_id
    )
    async with app[SESSIONS].begin() as session:
        conference = (
            await session.execute(select(RunConference).where(RunConference.run_id == live.run_id))
        ).scalar_one()
        assert conference.bridge == "cms-hn"
        conference.extra = dict(ref.extra)
    token = await link_for(api, world, live, "lao-cai")
    status, info = await api.as_(None).get(f"/api/join/{token}")
    assert status == 200 and info["mode"] == "bridge", info
    space = cms.cospaces[ref.extra["coSpace"]]
    link = urlsplit(info["url"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{WEBAPP}/meeting/{space.call_id}"
    assert parse_qs(link.query)["secret"] == [space.secret]
    assert parse_qs(link.query)["name"] == ["Phòng họp lao-cai"]
    assert info["separate_room"] is False
    page = await browser.new_page(width=390, height=844, mobile=True)
    await page.goto(str(cms_client.make_url(f"/join/{token}")))
    await page.wait_for("!document.getElementById('bridge').hidden", timeout=10)
    assert await page.evaluate("document.getElementById('open').textContent") == "Mở phòng họp"
    assert await page.evaluate("document.getElementById('open').href") == info["url"]
    # No preview and no camera here: the web app asks for them itself.
    assert await page.evaluate("document.getElementById('lobby').hidden")
    await page.wait_for("document.querySelectorAll('#participants li').length === 3")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.screenshot(artifact("join-page-cms.png"))
    assert page.errors == []

    # Lào Cai's room system had not answered; its people open the web app from the link.
    async with app[SESSIONS].begin() as session:
        fallen = await session.get(RunSite, live.run_sites["lao-cai"])
        assert fallen is not None
        fallen.state = "fallback"
    cms.web_app_guest_joins(ref.extra["coSpace"], "Phòng họp lao-cai")
    await app[ORCHESTRATOR].step(live.run_id)
    status, view = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{live.meeting_id}/live"
    )
    assert status == 200, view
    row = next(x for x in view["sites"] if x["room_id"] == world.rooms["lao-cai"])
    assert (row["state"], row["channel"]) == ("connected", "browser"), row
    clock.advance(minutes=10)
    await app[ORCHESTRATOR].step(live.run_id)
    status, report = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{live.meeting_id}/attendance"
    )
    assert status == 200, report
    counted = next(x for x in report["sites"] if x["room_id"] == world.rooms["lao-cai"])
    assert counted["took_part_via"] == "browser", counted
