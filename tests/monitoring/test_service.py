"""The monitoring service over a real database and real SIP endpoints: schedule, hot
endpoints, hysteresis shared by processes, probe now, probing switched off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.api import FakeClock
from tests.monitoring.conftest import Monitored
from vcorch.mcu_adapter.routes import BRIDGE_HEALTH
from vcorch.monitoring.metrics import Metrics
from vcorch.monitoring.models import EndpointHealthRecord, EndpointHealthTransition
from vcorch.monitoring.probes.h323 import H323Probe
from vcorch.monitoring.probes.sip import SipProbe
from vcorch.monitoring.schedule import next_due
from vcorch.monitoring.service import MonitoringService, monitoring_policy
from vcorch.orchestration.hot_endpoints import MeetingSites
from vcorch.orchestration.models import MeetingRun, RunSite
from vcorch.web.keys import SESSIONS, SETTINGS


def another_process(monitored: Monitored, clock: FakeClock, **policy: Any) -> MonitoringService:
    """A second service over the same database, as another vcorch process would run."""
    app = monitored.app
    return MonitoringService(
        app[SESSIONS],
        policy=replace(monitoring_policy(app[SETTINGS]), **policy),
        probes={"sip": SipProbe(), "h323": H323Probe()},
        meetings=MeetingSites(),
        clock=clock,
    )


async def _rows(monitored: Monitored) -> dict[int, EndpointHealthRecord]:
    async with monitored.app[SESSIONS]() as session:
        rows = (await session.execute(select(EndpointHealthRecord))).scalars()
        return {row.endpoint_id: row for row in rows}


async def _transitions(monitored: Monitored, endpoint_id: int) -> list[tuple[str, str, str]]:
    async with monitored.app[SESSIONS]() as session:
        rows = (
            await session.execute(
                select(EndpointHealthTransition)
                .where(EndpointHealthTransition.endpoint_id == endpoint_id)
                .order_by(EndpointHealthTransition.id)
            )
        ).scalars()
        return [(row.previous, row.current, row.cause) for row in rows]


def _z(moment: datetime) -> str:
    whole = moment.astimezone(UTC).replace(microsecond=0)
    return whole.isoformat().replace("+00:00", "Z")


async def test_every_endpoint_on_its_interval_and_hot_ones_every_ten_seconds(
    monitored: Monitored, clock: FakeClock
) -> None:
    world = monitored.world
    secretariat = monitored.api.as_(world.tokens["laocai_sec"])
    # An online meeting in 30 minutes makes its sites hot...
    status, online = await secretariat.post(
        "/api/meetings",
        {
            "title": "Giao ban trực tuyến tỉnh Lào Cai",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": world.units["lao-cai"],
            "start": _z(clock.now + timedelta(minutes=30)),
            "end": _z(clock.now + timedelta(minutes=90)),
            "host_room_id": world.rooms["lao-cai"],
            "sites": [
                {"room_id": world.rooms["lao-cai"]},
                {"room_id": world.rooms["lao-cai.bac-ha"]},
            ],
        },
    )
    assert status == 201, online
    # ... an in-person one does not (nobody is dialled) ...
    status, in_person = await monitored.api.as_(world.tokens["central_sec"]).post(
        "/api/meetings",
        {
            "title": "Họp trực tiếp",
            "kind": "meeting",
            "mode": "in_person",
            "organizer_unit_id": world.units["central"],
            "start": _z(clock.now + timedelta(minutes=10)),
            "end": _z(clock.now + timedelta(minutes=70)),
            "host_room_id": world.rooms["central"],
            "sites": [{"room_id": world.rooms["central"]}],
        },
    )
    assert status == 201, in_person
    # ... and a run that is live makes its sites hot whatever the booking said.
    async with monitored.app[SESSIONS].begin() as session:
        run = MeetingRun(
            meeting_id=online["id"],
            occurrence_key=clock.now - timedelta(days=1),
            start_at=clock.now - timedelta(hours=3),
            end_at=clock.now - timedelta(hours=1),  # overrunning
            status="live",
        )
        session.add(run)
        await session.flush()
        session.add(
            RunSite(
                run_id=run.id,
                room_id=world.rooms["dien-bien"],
                endpoint_id=world.endpoints["dien-bien"],
                unit_id=world.units["dien-bien"],
                state="connected",
                since=clock.now,
            )
        )
    service = another_process(monitored, clock, targets_max_age=timedelta(0))
    probed: Counter[int] = Counter()
    first = await service.tick(clock.now)
    assert first is not None
    # Never checked: everything at once, so the board is filled after one tick.
    assert sorted(target.endpoint_id for target, _ in first.results) == sorted(
        world.endpoints.values()
    )
    assert service.hot == {
        world.endpoints["lao-cai"],
        world.endpoints["lao-cai.bac-ha"],
        world.endpoints["dien-bien"],
    }
    for _ in range(24):  # two minutes, a tick every five seconds
        clock.advance(seconds=5)
        outcome = await service.tick(clock.now)
        if outcome is not None:
            probed.update(target.endpoint_id for target, _ in outcome.results)
    assert probed == {
        world.endpoints["central"]: 2,  # every 60 s by default
        world.endpoints["lao-cai"]: 12,  # every 10 s: its meeting starts within the hour
        world.endpoints["lao-cai.bac-ha"]: 12,
        world.endpoints["dien-bien"]: 12,  # its run is live
    }


async def test_endpoints_new_or_unchecked_for_two_intervals_are_probed_at_once(
    monitored: Monitored, clock: FakeClock
) -> None:
    service = another_process(monitored, clock, targets_max_age=timedelta(0))
    assert await service.tick(clock.now) is not None
    status, created = await monitored.admin.post(
        "/api/endpoints",
        {
            "room_id": monitored.world.rooms["central"],
            "name": "Thiết bị mới",
            "kind": "sip",
            "address": monitored.healthy_address(),
        },
    )
    assert status == 201
    before = clock.now
    clock.advance(seconds=1)
    outcome = await service.tick(clock.now)
    assert outcome is not None
    # The new endpoint, and only those others whose slot fell in this very second.
    on_schedule = {
        endpoint_id
        for endpoint_id in monitored.world.endpoints.values()
        if next_due(endpoint_id, before, timedelta(seconds=60)) <= clock.now
    }
    assert {target.endpoint_id for target, _ in outcome.results} == {created["id"], *on_schedule}
    # A restart after a long pause: a new process probes everything overdue at once.
    clock.advance(minutes=10)
    restarted = another_process(monitored, clock)
    outcome = await restarted.tick(clock.now)
    assert outcome is not None and len(outcome.results) == 5


async def test_hysteresis_lives_in_the_database_and_each_change_is_logged_once(
    monitored: Monitored, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vcorch.monitoring")
    endpoint = monitored.world.endpoints["lao-cai"]
    leader = monitored.service
    other = another_process(monitored, clock)
    await leader.sweep_all(clock.now)
    assert (await _rows(monitored))[endpoint].state == "up"
    await monitored.point("lao-cai", monitored.refusing_address())
    # Three failures in a row, counted across two processes, take it down once.
    for service, state in ((leader, "up"), (other, "up"), (leader, "down")):
        clock.advance(seconds=60)
        await service.sweep_all(clock.now)
        row = (await _rows(monitored))[endpoint]
        assert row.state == state
    assert row.failures == 3 and row.since == clock.now and row.detail == "refused"
    went_down = clock.now
    clock.advance(seconds=60)
    await other.sweep_all(clock.now)  # a fourth failure changes nothing
    assert await _transitions(monitored, endpoint) == [
        ("unknown", "up", "sweep"),
        ("up", "down", "sweep"),
    ]
    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and f"endpoint {endpoint} is down" in record.message
    ]
    assert len(warnings) == 1

    # Back: two successes in a row, again from either process.
    await monitored.point("lao-cai", monitored.healthy_address())
    clock.advance(seconds=60)
    results = await other.probe_now([endpoint], clock.now)
    assert results[endpoint].ok
    assert (await _rows(monitored))[endpoint].state == "down"
    clock.advance(seconds=60)
    await leader.sweep_all(clock.now)
    row = (await _rows(monitored))[endpoint]
    assert row.state == "up" and row.since == clock.now and row.successes == 2
    assert await _transitions(monitored, endpoint) == [
        ("unknown", "up", "sweep"),
        ("up", "down", "sweep"),
        ("down", "up", "sweep"),
    ]
    # A result older than the stored one (a slow probe of an earlier moment) is ignored.
    await other.probe_now([endpoint], went_down)
    assert (await _rows(monitored))[endpoint].last_checked_at == clock.now


async def test_two_processes_storing_first_results_at_once_make_one_change_each(
    monitored: Monitored, clock: FakeClock
) -> None:
    first = another_process(monitored, clock)
    second = another_process(monitored, clock)
    await asyncio.gather(first.sweep_all(clock.now), second.sweep_all(clock.now))
    rows = await _rows(monitored)
    for code, state in (
        ("central", "up"),
        ("lao-cai", "up"),
        ("lao-cai.bac-ha", "down"),
        ("dien-bien", "down"),
    ):
        endpoint = monitored.world.endpoints[code]
        assert rows[endpoint].state == state
        assert len(await _transitions(monitored, endpoint)) == 1


async def test_probe_now_leaves_out_what_cannot_be_probed_and_stores_only_enabled(
    monitored: Monitored, clock: FakeClock
) -> None:
    world = monitored.world
    status, browser = await monitored.admin.post(
        "/api/endpoints",
        {
            "room_id": world.rooms["central"],
            "name": "Trình duyệt",
            "kind": "webrtc",
            "address": "trinh-duyet",
        },
    )
    assert status == 201
    status, _ = await monitored.admin.patch(
        f"/api/endpoints/{world.endpoints['central']}", {"probe_enabled": False}
    )
    assert status == 200
    results = await monitored.service.probe_now(
        [world.endpoints["central"], world.endpoints["dien-bien"], browser["id"], 999_999],
        clock.now,
    )
    assert set(results) == {world.endpoints["central"], world.endpoints["dien-bien"]}
    assert results[world.endpoints["central"]].ok
    assert results[world.endpoints["dien-bien"]].detail == "refused"
    rows = await _rows(monitored)
    assert world.endpoints["central"] not in rows  # probing is off: answered, not stored
    assert rows[world.endpoints["dien-bien"]].state == "down"
    assert await _transitions(monitored, world.endpoints["dien-bien"]) == [
        ("unknown", "down", "probe-now")
    ]


async def test_switching_probing_off_returns_the_endpoint_to_unknown(
    monitored: Monitored, clock: FakeClock
) -> None:
    world = monitored.world
    endpoint = world.endpoints["lao-cai"]
    service = monitored.service
    await service.sweep_all(clock.now)
    status, _ = await monitored.admin.patch(f"/api/endpoints/{endpoint}", {"probe_enabled": False})
    assert status == 200
    clock.advance(seconds=30)
    await service.housekeeping(clock.now)
    row = (await _rows(monitored))[endpoint]
    assert row.state == "unknown" and row.since == clock.now
    assert await _transitions(monitored, endpoint) == [
        ("unknown", "up", "sweep"),
        ("up", "unknown", "disabled"),
    ]
    clock.advance(seconds=120)
    outcome = await service.sweep_all(clock.now)
    assert endpoint not in {target.endpoint_id for target, _ in outcome.results}
    await service.housekeeping(clock.now)  # nothing more to reset
    assert len(await _transitions(monitored, endpoint)) == 2


async def test_the_leaders_loop_probes_keeps_house_and_stops_cleanly(
    monitored: Monitored,
) -> None:
    metrics = Metrics()
    app = monitored.app
    service = MonitoringService(
        app[SESSIONS],
        policy=replace(
            monitoring_policy(app[SETTINGS]),
            tick_seconds=0.05,
            housekeeping_seconds=0.05,
        ),
        probes={"sip": SipProbe(), "h323": H323Probe()},
        bridge_health=app[BRIDGE_HEALTH],
        meetings=MeetingSites(),
        metrics=metrics,
    )
    loop = asyncio.create_task(service.run_forever())
    try:
        for _ in range(300):  # up to 15 s on a busy machine
            rows = await _rows(monitored)
            rendered = metrics.render().decode()
            if (
                len(rows) == 4
                and 'vcorch_bridge_up{bridge="mo-phong"} 1.0' in rendered
                and "vcorch_endpoints{" in rendered
                and 'state="unknown"' not in rendered
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert {row.state for row in rows.values()} == {"up", "down"}
    assert 'vcorch_endpoints{kind="sip",province="lao-cai",state="up"} 1.0' in rendered
    assert loop.cancelled()


async def test_an_occurrence_with_its_own_sites_or_cancelled_decides_who_is_hot(
    monitored: Monitored, clock: FakeClock
) -> None:
    world = monitored.world
    secretariat = monitored.api.as_(world.tokens["central_sec"])
    start = (clock.now + timedelta(minutes=30)).replace(microsecond=0)
    status, series = await secretariat.post(
        "/api/meetings",
        {
            "title": "Tập huấn trực tuyến hằng ngày",
            "kind": "training",
            "mode": "online",
            "organizer_unit_id": world.units["central"],
            "start": _z(start),
            "end": _z(start + timedelta(hours=1)),
            "host_room_id": world.rooms["lao-cai"],
            "sites": [
                {"room_id": world.rooms["lao-cai"]},
                {"room_id": world.rooms["lao-cai.bac-ha"]},
            ],
            "rrule": "FREQ=DAILY;COUNT=3",
        },
    )
    assert status == 201, series
    service = another_process(monitored, clock, targets_max_age=timedelta(0))
    await service.refresh_targets(clock.now)
    assert service.hot == {world.endpoints["lao-cai"], world.endpoints["lao-cai.bac-ha"]}
    key = start.strftime("%Y%m%dT%H%M%SZ")
    # Today's session moves to Điện Biên's room only.
    status, changed = await secretariat.patch(
        f"/api/meetings/{series['id']}/occurrences/{key}",
        {"sites": [{"room_id": world.rooms["dien-bien"]}]},
        headers={"If-Match": f'"v{series["version"]}"'},
    )
    assert status == 200, changed
    await service.refresh_targets(clock.now)
    assert service.hot == {world.endpoints["dien-bien"]}
    # Cancelled: nobody is hot (tomorrow's session is more than an hour away).
    status, cancelled = await secretariat.delete(
        f"/api/meetings/{series['id']}/occurrences/{key}",
        headers={"If-Match": f'"v{changed["version"]}"'},
    )
    assert status == 200, cancelled
    await service.refresh_targets(clock.now)
    assert service.hot == set()
