"""A bridge under pressure: busy is not down, a shifting listing is not the truth, and a
launch's progress is written site by site as it lands."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.api import Api, FakeClock, make_settings
from tests.orchestration.conftest import book, settle, sim
from tests.orchestration.test_launch import live_of, states
from tests.world import World
from vcorch.access.principal import SYSTEM_ACTOR
from vcorch.config import Settings
from vcorch.mcu_adapter.base import (
    BridgeBusy,
    BridgeHealth,
    ConferenceRef,
    DialTarget,
    ListingUnreliable,
    Participant,
    ParticipantRef,
)
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge
from vcorch.orchestration.models import RunIncident, RunSite
from vcorch.orchestration.orchestrator import Orchestrator
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.web.keys import SESSIONS


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        bridges=[sim("mcu-a", 10, unreachable=[]), sim("mcu-b", 20, unreachable=[])],
        dial_attempts=2,
        failover_after=2,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
    )


def bridge_of(app: Any, name: str) -> SimulatedBridge:
    bridge = app[REGISTRY][name]
    assert isinstance(bridge, SimulatedBridge)
    return bridge


def legs_per_site(bridge: SimulatedBridge) -> Counter[str | None]:
    conference = next(iter(bridge.mcu._conferences.values()))
    return Counter(leg.site_id for leg in conference.legs.values())


async def failovers(app: Any) -> int:
    async with app[SESSIONS]() as session:
        count = await session.scalar(
            select(func.count()).select_from(RunIncident).where(RunIncident.kind == "failover")
        )
    return int(count or 0)


def busy_half_the_time(bridge: SimulatedBridge, clock: FakeClock, until: datetime) -> list[str]:
    """Until ``until`` (service time), half the calls to the bridge answer busy (two in a
    row, then two answered); its health checks, if anyone made them, fail as often."""
    answered: list[str] = []
    calls: Counter[str] = Counter()
    participants, dial_out, health = bridge.participants, bridge.dial_out, bridge.health

    def busy(what: str) -> bool:
        # Two busy answers, two good ones, and so on, for each kind of call.
        calls[what] += 1
        if clock.now < until and (calls[what] // 2) % 2 == 1:
            answered.append(what)
            return True
        return False

    async def busy_participants(ref: ConferenceRef) -> list[Participant]:
        if busy("participants"):
            raise BridgeBusy(bridge.name, "HTTP 503 after retries")
        return await participants(ref)

    async def busy_dial_out(ref: ConferenceRef, target: DialTarget) -> ParticipantRef:
        if busy("dial_out"):
            raise BridgeBusy(bridge.name, "HTTP 503 after retries", retry_after=1)
        return await dial_out(ref, target)

    async def busy_health() -> BridgeHealth:
        if busy("health"):
            return BridgeHealth(reachable=False, detail="HTTP 503")
        return await health()

    bridge.participants = busy_participants  # type: ignore[method-assign]
    bridge.dial_out = busy_dial_out  # type: ignore[method-assign]
    bridge.health = busy_health  # type: ignore[method-assign]
    return answered


async def test_a_bridge_busy_half_the_time_for_a_minute_fails_nothing_over(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=3)
    meeting_id = await book(api, world, start)
    bridge = bridge_of(app, "mcu-a")
    answered = busy_half_the_time(bridge, clock, until=clock.now + timedelta(minutes=1))
    status, _ = await api.as_(world.tokens["central_sec"]).post(f"/api/meetings/{meeting_id}/start")
    assert status == 202
    # A minute and a half of service time, 5 s a round (bounded).
    for _ in range(18):
        await app[ORCHESTRATOR].step_all()
        await asyncio.sleep(0.03)
        clock.advance(seconds=5)
    await settle(app, clock)

    assert "participants" in answered and "dial_out" in answered, answered
    live = await live_of(api, world, meeting_id)
    assert set(states(live, world).values()) == {"connected"}, states(live, world)
    assert await failovers(app) == 0
    hosts = [b["name"] for b in live["bridges"] if b["active"] and b["role"] == "host"]
    assert hosts == ["mcu-a"]
    assert max(legs_per_site(bridge).values()) == 1
    assert not bridge_of(app, "mcu-b").mcu._conferences


async def test_a_listing_that_shifted_while_read_calls_nobody(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=3)
    meeting_id = await book(api, world, start)
    status, _ = await api.as_(world.tokens["central_sec"]).post(f"/api/meetings/{meeting_id}/start")
    assert status == 202
    await settle(app, clock)
    bridge = bridge_of(app, "mcu-a")
    before = bridge.mcu.api_calls
    participants = bridge.participants

    async def shifted(ref: ConferenceRef) -> list[Participant]:
        listed = await participants(ref)
        if listed:
            raise ListingUnreliable(bridge.name, "the call's leg count changed between pages")
        return listed

    bridge.participants = shifted  # type: ignore[method-assign]
    for _ in range(3):
        await app[ORCHESTRATOR].step_all()
        clock.advance(seconds=5)
    live = await live_of(api, world, meeting_id)
    assert set(states(live, world).values()) == {"connected"}
    # Only the listings themselves: nobody was called or hung up.
    assert bridge.mcu.api_calls - before == 3
    assert await failovers(app) == 0


async def connected_count(app: Any, run_id: int) -> int:
    async with app[SESSIONS]() as session:
        count = await session.scalar(
            select(func.count()).where(RunSite.run_id == run_id, RunSite.state == "connected")
        )
    return int(count or 0)


async def test_progress_is_written_site_by_site_and_a_restart_resumes_from_it(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=3)
    meeting_id = await book(api, world, start)
    first: Orchestrator = app[ORCHESTRATOR]
    bridge = bridge_of(app, "mcu-a")
    # Slow calls, one at a time: a site connects every ~250 ms of the step.
    bridge.mcu.settings = type(bridge.mcu.settings)(
        **{**bridge.mcu.settings.__dict__, "latency": 0.25}
    )
    bridge.config.options["dial_concurrency"] = 1
    run_id, _ = await first.claim(meeting_id, None, SYSTEM_ACTOR)
    step = asyncio.create_task(first.step(run_id))
    # A sampler of its own, reading the database as the live view does, not the step.
    seen: list[int] = []
    async with asyncio.timeout(10):
        while not step.done():
            seen.append(await connected_count(app, run_id))
            if seen[-1] >= 2:
                break
            await asyncio.sleep(0.01)
    assert not step.done(), f"the step ended before two sites showed connected: {seen}"
    # The process dies here, with two sites connected and others being called.
    step.cancel()
    await asyncio.gather(step, return_exceptions=True)
    gc.collect()
    kept = await connected_count(app, run_id)
    assert 2 <= kept < 4, seen
    async with app[SESSIONS]() as session:
        legs_before = dict(
            (
                await session.execute(
                    select(RunSite.id, RunSite.participant_id).where(
                        RunSite.run_id == run_id, RunSite.state == "connected"
                    )
                )
            ).all()
        )

    second = Orchestrator(app[SESSIONS], app[REGISTRY], clock, first.policy, links=first.links)
    for _ in range(8):
        await second.step_all()
        if await connected_count(app, run_id) == 4:
            break
        await asyncio.sleep(0.1)
        clock.advance(seconds=5)
    assert await connected_count(app, run_id) == 4
    async with app[SESSIONS]() as session:
        legs_after = dict(
            (
                await session.execute(
                    select(RunSite.id, RunSite.participant_id).where(RunSite.run_id == run_id)
                )
            ).all()
        )
    # The sites connected before the restart kept their calls; nobody was called twice.
    assert all(legs_after[site] == leg for site, leg in legs_before.items())
    assert max(legs_per_site(bridge).values()) == 1
