"""The demo in a browser: the fallen-back site's logged link opens the join page, joins,
and the page lists the room-system sites of the same meeting, connected on the MCU."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.api import Api, FakeClock, make_settings
from tests.browser import Browser
from tests.demo.test_demo import _admin_password, _demo_meetings, _sites
from tests.orchestration.conftest import settle, sim
from tests.test_cli import vcorch
from vcorch.mcu_adapter.base import ConferenceRef
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.monitoring.routes import MONITORING
from vcorch.orchestration.models import RunConference
from vcorch.rooms import SILENT_UNIT
from vcorch.scheduler.routes import SCHEDULER
from vcorch.web.keys import SESSIONS

STATE = "document.getElementById('status').dataset.state"


async def test_the_demo_link_joins_and_lists_the_meetings_room_systems(
    database_url: str,
    aiohttp_client: Any,
    browser: Browser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from vcorch.app import create_app

    assert vcorch(database_url, "demo").returncode == 0
    password = _admin_password(database_url)
    clock = FakeClock()
    settings = make_settings(
        database_url,
        bridges=[sim("mo-phong", 10, unreachable=[])],
        dial_attempts=2,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
        webrtc_host_addresses=["127.0.0.1"],
    )
    client = await aiohttp_client(create_app(settings, clock=clock, background=False))
    app = client.server.app
    (meeting,) = await _demo_meetings(app)
    sites = await _sites(app, meeting.id)
    await app[MONITORING].sweep_all(clock.now)
    caplog.set_level(logging.INFO, logger="vcorch.demo")
    clock.now = meeting.start_at - timedelta(minutes=5)
    await app[SCHEDULER].tick()
    await settle(app, clock)

    admin = Api(client).as_(await Api(client).login("admin", password))
    _, live = await admin.get(f"/api/meetings/{meeting.id}/live")
    silent = next(s for s in live["sites"] if s["room_id"] == sites[SILENT_UNIT][0])
    assert silent["state"] == "fallback"
    # The built-in bridge's conference is dialled into the MCU's as one participant, so the
    # browser site is in the meeting, not in a room of its own.
    assert silent["separate_room"] is False, silent
    async with app[SESSIONS]() as session:
        conferences = {
            row.bridge: row
            for row in await session.scalars(
                select(RunConference).where(RunConference.run_id == live["run_id"])
            )
        }
    link = conferences["webrtc"].link_participant_id
    assert link is not None
    host = conferences["mo-phong"]
    legs = await app[REGISTRY]["mo-phong"].participants(
        ConferenceRef("mo-phong", host.conference_id, dict(host.extra or {}))
    )
    assert [leg.connected for leg in legs if leg.participant_id == link] == [True], legs
    logged = [r.getMessage() for r in caplog.records if r.name == "vcorch.demo"]
    assert any(silent["fallback_url"] in line for line in logged), logged
    # The page is served by this test's server, under the logged link's own path.
    path = silent["fallback_url"].removeprefix(settings.public_url)

    page = await browser.new_page(width=1366, height=800)
    await page.goto(str(client.make_url(path)))
    await page.wait_for(f"{STATE} === 'lobby' && !document.getElementById('join').disabled")
    await page.click("#join")
    await page.wait_for(f"{STATE} === 'connected'", timeout=20)
    await settle(app, clock)  # the supervisor's next look finds the browser in the meeting
    await page.wait_for(
        "document.querySelectorAll('#participants li[data-state=\"connected\"]').length === 5",
        timeout=20,
    )
    listed = await page.evaluate(
        "[...document.querySelectorAll('#participants li')].map(li => "
        "[li.querySelector('.name').textContent, li.dataset.channel || '', "
        "li.classList.contains('me')])"
    )
    mine = [name for name, _, me in listed if me]
    others = {name: channel for name, channel, me in listed if not me}
    assert len(mine) == 1 and len(others) == 4, listed
    assert set(others.values()) == {"room_system"}, listed
    assert await page.evaluate("document.getElementById('separate').hidden")
    assert page.errors == []
