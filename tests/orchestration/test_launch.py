"""A meeting comes up by itself at its time, keeps its sites, moves when its bridge dies."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.api import Api, FakeClock
from tests.orchestration.conftest import book, settle
from tests.waiting import eventually
from tests.world import World
from vcorch.access.principal import SYSTEM_ACTOR
from vcorch.auth.models import User
from vcorch.mail.models import OutboxMail
from vcorch.mcu_adapter.base import ConferenceRef, DialTarget, ParticipantRef
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge
from vcorch.orchestration.models import MeetingRun
from vcorch.orchestration.orchestrator import Orchestrator
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.scheduler.models import ExecutedJob
from vcorch.scheduler.routes import SCHEDULER
from vcorch.web.keys import SESSIONS


def states(live: dict[str, Any], world: World) -> dict[str, str]:
    names = {room_id: code for code, room_id in world.rooms.items()}
    return {names[s["room_id"]]: s["state"] for s in live["sites"]}


async def live_of(api: Api, world: World, meeting_id: int, who: str = "central_sec") -> Any:
    status, body = await api.as_(await api.login(who)).get(f"/api/meetings/{meeting_id}/live")
    assert status == 200, body
    return body


def sim(app: Any, name: str) -> SimulatedBridge:
    bridge = app[REGISTRY][name]
    assert isinstance(bridge, SimulatedBridge)
    return bridge


async def cut_off_once_a_call_is_placed(
    step: Coroutine[Any, Any, Any], bridge: SimulatedBridge
) -> None:
    """Run ``step`` until its first call is placed, then cut it off right there: the calls
    are on the bridge, their answers never reach the process, nothing of them is recorded."""
    placed = asyncio.Event()
    dial_out = bridge.dial_out

    async def dial_and_die(ref: ConferenceRef, target: DialTarget) -> ParticipantRef:
        call = await dial_out(ref, target)
        placed.set()
        await asyncio.Event().wait()  # the process is gone before it hears back
        return call

    bridge.dial_out = dial_and_die  # type: ignore[method-assign]
    try:
        task = asyncio.create_task(step)
        await eventually(lambda: placed.is_set() or task.done(), what="a call placed")
        assert not task.done(), task.exception() or task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        del bridge.dial_out  # the bridge's own method again, for the next process


async def test_a_meeting_launches_at_its_time_and_ends_at_its_end(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=20)
    meeting_id = await book(api, world, start)
    scheduler = app[SCHEDULER]

    # Nothing runs before its time; the pre-flight runs 30 min before (here: catch-up
    # rules say it is not owed, since the scheduler was never alive before).
    assert await scheduler.tick() == []
    clock.now = start - timedelta(minutes=5)
    ran = await scheduler.tick()
    assert any(job.startswith("launch:") for job in ran), ran
    await settle(app, clock)

    live = await live_of(api, world, meeting_id)
    assert live["status"] == "live"
    assert states(live, world) == {
        "central": "connected",
        "lao-cai": "connected",
        "lao-cai.bac-ha": "connected",
        "dien-bien": "fallback",
    }
    fallback = next(s for s in live["sites"] if s["state"] == "fallback")
    assert fallback["fallback_url"].startswith("http://127.0.0.1:8080/join/")
    assert fallback["last_error"]
    active = {b["name"]: b["role"] for b in live["bridges"] if b["active"]}
    # The fallen-back site went to the built-in WebRTC bridge (mcu-a takes no browsers).
    assert active == {"mcu-a": "host", "webrtc": "fallback"}
    # Every connected site is on the bridge exactly once.
    conference = next(iter(sim(app, "mcu-a").mcu._conferences.values()))
    per_site = Counter(leg.site_id for leg in conference.legs.values())
    # ... and the built-in bridge's conference is linked in as one more participant.
    assert per_site.pop(f"link-run-{live['run_id']}") == 1
    assert sorted(per_site.values()) == [1, 1, 1]

    clock.now = start + timedelta(minutes=60)
    ran = await scheduler.tick()
    assert any(job.startswith("end:") for job in ran), ran
    live = await live_of(api, world, meeting_id)
    assert live["status"] == "ended"
    assert set(states(live, world).values()) == {"disconnected"}
    assert sim(app, "mcu-a").mcu.ports_in_use() == 0


async def test_a_dead_bridge_moves_the_meeting_and_the_sites_follow(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=3)
    meeting_id = await book(api, world, start)
    status, _ = await api.as_(world.tokens["central_sec"]).post(f"/api/meetings/{meeting_id}/start")
    assert status == 202
    await settle(app, clock)
    assert states(await live_of(api, world, meeting_id), world)["lao-cai"] == "connected"

    sim(app, "mcu-a").mcu.down = True
    for _ in range(3):
        await app[ORCHESTRATOR].step_all()
    await settle(app, clock)

    live = await live_of(api, world, meeting_id)
    assert live["status"] == "live"
    active = [b["name"] for b in live["bridges"] if b["active"] and b["role"] == "host"]
    assert active == ["mcu-b"]
    assert states(live, world)["lao-cai"] == "connected"
    assert states(live, world)["central"] == "connected"
    failover = [i for i in live["incidents"] if i["kind"] == "failover"]
    assert failover and failover[0]["from_bridge"] == "mcu-a"
    assert failover[0]["to_bridge"] == "mcu-b"


async def test_a_launch_cut_off_midway_and_resumed_never_calls_a_site_twice(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=3)
    meeting_id = await book(api, world, start)
    first: Orchestrator = app[ORCHESTRATOR]
    bridge = sim(app, "mcu-a")
    # Slow calls, one at a time: the cut falls between placing calls and recording them.
    bridge.mcu.settings = type(bridge.mcu.settings)(
        **{**bridge.mcu.settings.__dict__, "latency": 0.05}
    )
    run_id, _ = await first.claim(meeting_id, None, SYSTEM_ACTOR)
    await cut_off_once_a_call_is_placed(first.step(run_id), bridge)
    # A dead process leaves nothing behind; a cancelled task keeps its frames, and a cut
    # inside a query would keep an unfinalised SQLite statement, its closed connection and
    # the database's write lock with them until the task is collected.
    gc.collect()
    placed_before = bridge.mcu.api_calls
    # The cut fell where it was meant to: one call is on the bridge, and the process
    # recorded nothing of it (no site is known to be in).
    (conference,) = bridge.mcu._conferences.values()
    cut_sites = [leg.site_id for leg in conference.legs.values()]
    assert len(cut_sites) == 1, cut_sites
    before = states(await live_of(api, world, meeting_id), world)
    assert "connected" not in before.values(), before

    # A new process (a new orchestrator over the same database and the same far side).
    second = Orchestrator(app[SESSIONS], app[REGISTRY], clock, first.policy, links=first.links)
    for _ in range(8):
        await second.step_all()
        await asyncio.sleep(0.08)
        clock.advance(seconds=5)
    assert bridge.mcu.api_calls > placed_before

    assert list(bridge.mcu._conferences.values()) == [conference]
    per_site = Counter(leg.site_id for leg in conference.legs.values())
    assert per_site and max(per_site.values()) == 1, per_site
    live = await live_of(api, world, meeting_id)
    assert states(live, world)["lao-cai"] == "connected"
    assert states(live, world)["central"] == "connected"


async def test_a_start_missed_while_down_is_launched_late_or_marked_missed(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    scheduler = app[SCHEDULER]
    base = clock.now.replace(microsecond=0)
    soon = await book(
        api, world, base + timedelta(minutes=10), sites=[{"room_id": world.rooms["central"]}]
    )
    other_rooms = [{"room_id": world.rooms["dien-bien"]}]
    long_ago = await book(
        api,
        world,
        base + timedelta(minutes=15),
        sites=other_rooms,
        host_room_id=None,
        title="Tập huấn chuyển đổi số",
    )
    async with app[SESSIONS].begin() as session:
        secretary = await session.scalar(select(User).where(User.username == "central_sec"))
        assert secretary is not None
        secretary.email = "thu.ky@ubdt.gov.vn"
    await scheduler.tick()  # alive now; then "down" for a while
    clock.now = base + timedelta(minutes=33)
    await scheduler.tick()
    # Both started more than the 15 min grace ago while no scheduler ran: missed.
    async with app[SESSIONS]() as session:
        runs = {
            r.meeting_id: r.status for r in (await session.execute(select(MeetingRun))).scalars()
        }
    assert runs == {soon: "missed", long_ago: "missed"}
    live = await live_of(api, world, soon)
    assert live["status"] == "missed"
    # The organiser's secretariat is told, once per occurrence.
    await scheduler.tick()
    async with app[SESSIONS]() as session:
        mails = (await session.execute(select(OutboxMail))).scalars().all()
    told = [m for m in mails if m.subject.startswith("Không khởi động được")]
    assert len(told) == 2 and {tuple(m.recipients) for m in told} == {("thu.ky@ubdt.gov.vn",)}


async def test_a_late_start_within_the_grace_window_is_launched(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    scheduler = app[SCHEDULER]
    base = clock.now.replace(microsecond=0)
    meeting_id = await book(api, world, base + timedelta(minutes=10))
    await scheduler.tick()
    clock.now = base + timedelta(minutes=16)  # 6 min after the start, inside the grace
    ran = await scheduler.tick()
    assert f"launch:{meeting_id}:" in " ".join(ran)
    await settle(app, clock)
    assert (await live_of(api, world, meeting_id))["status"] == "live"


async def test_pre_flight_and_end_warning_run_once_whoever_runs_them(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    scheduler = app[SCHEDULER]
    base = clock.now.replace(microsecond=0)
    meeting_id = await book(api, world, base + timedelta(minutes=40))
    async with app[SESSIONS].begin() as session:
        operator = await session.scalar(select(User).where(User.username == "laocai_op"))
        assert operator is not None
        operator.email = "van.hanh@laocai.gov.vn"
    await scheduler.tick()
    clock.now = base + timedelta(minutes=11)  # pre-flight is 30 min before the start
    ran = await scheduler.tick()
    assert [j for j in ran if j.startswith("preflight:")] == [
        f"preflight:{meeting_id}:" + ran[0].split(":")[2]
    ]
    # Another scheduler (a new leader) planning the same moment does not run it again.
    again = await scheduler.tick()
    assert not [j for j in again if j.startswith("preflight:")]
    async with app[SESSIONS]() as session:
        done = (await session.execute(select(ExecutedJob))).scalars().all()
    assert [j.kind for j in done] == ["preflight"]
    # The sites' endpoints (addresses under example.vn) do not answer: the operators of
    # Lào Cai hear about their two rooms (the province's and the commune's) before the start.
    assert done[0].outcome and done[0].outcome.startswith("0/4 endpoints answer")
    async with app[SESSIONS]() as session:
        mails = (await session.execute(select(OutboxMail))).scalars().all()
    warned = [m for m in mails if m.subject.startswith("Kiểm tra trước họp")]
    assert sorted(m.subject for m in warned) == [
        "Kiểm tra trước họp: Phòng họp lao-cai không phản hồi",
        "Kiểm tra trước họp: Phòng họp lao-cai.bac-ha không phản hồi",
    ]
    assert {tuple(m.recipients) for m in warned} == {("van.hanh@laocai.gov.vn",)}
