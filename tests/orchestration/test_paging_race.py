"""The offset-paging race on a Cisco Meeting Server: a leg leaves between two pages of a
call's leg list, so a connected site's leg slides onto a page already read and is missing
from that listing.  Nobody is called again for it: the site is confirmed (a direct look,
or the next listing) before anything is done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api import Api, FakeClock, make_settings
from tests.emulators.cms_pressure import PressuredCms
from tests.orchestration.conftest import book, settle
from tests.orchestration.test_launch import live_of, states
from tests.world import World
from vcorch.config import BridgeConfig, Settings
from vcorch.orchestration.routes import ORCHESTRATOR


@pytest.fixture
async def emulator() -> AsyncIterator[PressuredCms]:
    # Two legs a page: the four sites and a guest take three pages.
    emulated = PressuredCms(page_size=2, ring_delay=0.02, ring_timeout=0.3)
    await emulated.start()
    try:
        yield emulated
    finally:
        await emulated.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, emulator: PressuredCms) -> Settings:
    password = tmp_path / "cms-password"
    password.write_text(emulator.password, encoding="utf-8")
    bridge = BridgeConfig(
        name="cms",
        type="cisco_cms",
        url=emulator.url,
        username=emulator.username,
        password_file=password,
        ports=50,
        timeout_seconds=2,
        retries=1,
        options={"retry_base_delay": 0.02},
    )
    return make_settings(
        database_url,
        bridges=[bridge],
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
        failover_after=2,
    )


def leg_creations(emulator: PressuredCms) -> int:
    return sum(
        1 for method, path in emulator.requests if method == "POST" and path.endswith("/callLegs")
    )


async def test_a_leg_leaving_between_pages_redials_nobody(
    app_client: Any, api: Api, world: World, clock: FakeClock, emulator: PressuredCms
) -> None:
    app = app_client.server.app
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    status, _ = await api.as_(world.tokens["central_sec"]).post(f"/api/meetings/{meeting_id}/start")
    assert status == 202
    await settle(app, clock, rounds=20)
    live = await live_of(api, world, meeting_id)
    assert set(states(live, world).values()) == {"connected"}, states(live, world)
    calls_placed = leg_creations(emulator)

    # A guest joins by the web app, first in the call's leg list, and leaves while the
    # supervisor reads the list: every leg after it slides back one place.
    [call] = emulator.calls.values()
    guest = emulator.web_app_guest_joins(call.cospace_id, "Khách mời")
    call.legs = {guest: call.legs[guest], **{k: v for k, v in call.legs.items() if k != guest}}
    emulator.leave_between_pages = guest
    for _ in range(3):
        await app[ORCHESTRATOR].step_all()
        clock.advance(seconds=30)

    assert emulator.races == 1
    assert leg_creations(emulator) == calls_placed, "a site was called again"
    live = await live_of(api, world, meeting_id)
    assert set(states(live, world).values()) == {"connected"}
    assert all(s["last_error"] is None for s in live["sites"])
