"""A fail-over leaves a site whose browser is in the built-in bridge's conference where it
is: its room is not called on the new bridge (it would be in the meeting twice)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.api import Api, FakeClock, make_settings
from tests.orchestration.conftest import book, settle, sim
from tests.orchestration.test_channels import by_code, live_of, mcu, start_now, until
from tests.webrtc.live import Whip
from tests.webrtc.peers import Peer
from tests.world import World
from vcorch.config import Settings
from vcorch.mcu_adapter.base import ConferenceRef
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge
from vcorch.orchestration.models import RunConference
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.web.keys import SESSIONS


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        bridges=[sim("mcu-a", 10), sim("mcu-b", 20)],
        dial_attempts=2,
        failover_after=2,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
        webrtc_host_addresses=["127.0.0.1"],
    )


async def test_a_browser_site_stays_in_its_conference_through_a_fail_over(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=1)
    meeting_id = await book(api, world, start)
    await start_now(api, world, meeting_id)
    await settle(app, clock)
    url = by_code(await live_of(api, world, meeting_id), world)["dien-bien"]["fallback_url"]
    peer = Peer("dien-bien", 660.0)
    try:
        await peer.join(Whip(app_client, url.rsplit("/", 1)[1]))
        async with app[SESSIONS]() as session:
            builtin = await session.scalar(
                select(RunConference).where(RunConference.role == "fallback")
            )
        assert builtin is not None
        ref = ConferenceRef("webrtc", builtin.conference_id)

        async def browser_in() -> bool:
            return any(p.connected for p in await app[REGISTRY]["webrtc"].participants(ref))

        await until(browser_in)
        await app[ORCHESTRATOR].step_all()
        assert by_code(await live_of(api, world, meeting_id), world)["dien-bien"]["channel"] == (
            "browser"
        )

        other = app[REGISTRY]["mcu-b"]
        assert isinstance(other, SimulatedBridge)
        called: list[str | None] = []
        dial = other.mcu.dial

        async def recording_dial(conference_id: str, address: str, *args: Any) -> str:
            called.append(address)
            return await dial(conference_id, address, *args)

        other.mcu.dial = recording_dial  # type: ignore[method-assign]
        mcu(app).mcu.down = True
        for _ in range(3):
            await app[ORCHESTRATOR].step_all()
        await settle(app, clock)

        live = await live_of(api, world, meeting_id)
        assert [b["name"] for b in live["bridges"] if b["active"] and b["role"] == "host"] == [
            "mcu-b"
        ]
        sites = by_code(live, world)
        assert (sites["dien-bien"]["state"], sites["dien-bien"]["channel"]) == (
            "connected",
            "browser",
        )
        assert sites["dien-bien"]["bridge"] == "webrtc"
        assert sites["lao-cai"]["state"] == "connected"
        # The others were called on mcu-b; Điện Biên's room was not.
        assert sorted(called) == sorted(
            f"sip:phonghop@{code}.example.vn" for code in ("central", "lao-cai", "lao-cai.bac-ha")
        )
    finally:
        await peer.close()
