"""A cascaded bridge that dies takes only its own sites with it: they move, everyone else
keeps the call they have."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.api import Api, FakeClock, make_settings
from tests.orchestration.conftest import book, settle, sim
from tests.orchestration.test_launch import live_of
from tests.world import World
from vcorch.config import Settings
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge
from vcorch.orchestration.models import RunConference, RunSite
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.web.keys import SESSIONS


@pytest.fixture
def settings(database_url: str) -> Settings:
    bridges = [
        sim("mcu-a", 10, unreachable=[]),
        sim("mcu-b", 20, unreachable=[]),
        sim("mcu-c", 30, unreachable=[]),
    ]
    for bridge in bridges:
        bridge["ports"] = 3
    return make_settings(
        database_url,
        bridges=bridges,
        failover_after=2,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
    )


async def where_sites_are(app: Any) -> dict[int, tuple[str, str | None, str]]:
    """Site: (bridge, its call leg, state)."""
    async with app[SESSIONS]() as session:
        rows = (
            await session.execute(
                select(
                    RunSite.id, RunConference.bridge, RunSite.participant_id, RunSite.state
                ).join(RunConference, RunConference.id == RunSite.conference_row_id)
            )
        ).all()
    return {site: (bridge, leg, state) for site, bridge, leg, state in rows}


async def test_a_dead_cascade_moves_only_its_own_sites(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    status, _ = await api.as_(world.tokens["central_sec"]).post(f"/api/meetings/{meeting_id}/start")
    assert status == 202
    await settle(app, clock)
    before = await where_sites_are(app)
    assert {state for _, _, state in before.values()} == {"connected"}
    on_b = {site for site, (bridge, _, _) in before.items() if bridge == "mcu-b"}
    others = {site: leg for site, (bridge, leg, _) in before.items() if bridge != "mcu-b"}
    assert on_b and others, before

    dead = app[REGISTRY]["mcu-b"]
    assert isinstance(dead, SimulatedBridge)
    dead.mcu.down = True
    for _ in range(3):
        await app[ORCHESTRATOR].step_all()
    await settle(app, clock)

    after = await where_sites_are(app)
    # Everyone not on the dead bridge kept the very call they had.
    assert {site: after[site][1] for site in others} == others
    assert all(after[site][2] == "connected" for site in others)
    # The dead bridge's sites are somewhere else now, in the meeting or on their browser link.
    for site in on_b:
        bridge, _, state = after[site]
        assert bridge != "mcu-b"
        assert state in ("connected", "fallback")
    live = await live_of(api, world, meeting_id)
    hosts = [b["name"] for b in live["bridges"] if b["active"] and b["role"] == "host"]
    assert hosts == ["mcu-a"]
    failover = [i for i in live["incidents"] if i["kind"] == "failover"]
    assert len(failover) == 1 and failover[0]["from_bridge"] == "mcu-b"
