"""The PostgreSQL server restarted under a running vcorch: while bridges push events, and
while a meeting is being launched and others booked.  Nothing acknowledged is lost (a
request answered 200/201/202 is stored; one that met the outage got 503 + Retry-After and
was sent again), and the service recovers by itself: the pool throws away dead
connections (pre-ping), the leader takes its lock again and the launch carries on.

PostgreSQL only: an SQLite database is a file inside the process; there is no server to
restart (its equivalent, a lock held past the busy timeout, answers 503 the same way)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests import databases
from tests.api import Api, make_settings
from tests.orchestration.conftest import sim
from tests.reliability.pgcluster import PgCluster, pg_cluster
from tests.world import World, build_world
from vcorch.app import create_app
from vcorch.booking.models import Meeting
from vcorch.bridge_events.models import BridgeEventRecord
from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.db.migrate import upgrade
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge
from vcorch.web.keys import SESSIONS

pytestmark = pytest.mark.postgres
__all__ = ["pg_cluster"]  # the module-scoped cluster fixture, used below

HOOK_SECRET = "cdr-hook-secret-database-restart"
SESSION = str(uuid.uuid4())


@pytest.fixture
async def database(pg_cluster: PgCluster) -> AsyncIterator[str]:
    url = await databases.create_postgres_database(pg_cluster.admin_url)
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    yield url
    await databases.drop_postgres_database(pg_cluster.admin_url, url)


def cdr(index: int) -> bytes:
    """One Cisco Meeting Server CDR batch: a call leg connecting (a join)."""
    return (
        f'<?xml version="1.0"?><records session="{SESSION}">'
        f'<record type="callLegUpdate" time="{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"'
        f' recordIndex="{index}" correlatorIndex="{index}">'
        f'<callLeg id="{uuid.uuid4()}"><state>connected</state>'
        f"<call>call-1</call><remoteAddress>room{index}@example.vn</remoteAddress>"
        f"</callLeg></record></records>"
    ).encode()


async def test_bridge_events_posted_across_restarts_are_stored_once_each(
    pg_cluster: PgCluster, database: str, aiohttp_client: Any, tmp_path: Path
) -> None:
    password = tmp_path / "cms-password"
    password.write_text("unused", encoding="utf-8")
    hook = tmp_path / "cms-hook"
    hook.write_text(HOOK_SECRET, encoding="utf-8")
    settings = make_settings(
        database,
        bridges=[
            {
                "name": "cms",
                "type": "cisco_cms",
                "url": "http://127.0.0.1:9",  # the API is not needed to take CDRs
                "username": "vcorch",
                "password_file": str(password),
                "options": {"hook_secret_file": str(hook)},
            }
        ],
    )
    client = await aiohttp_client(create_app(settings, background=False))
    # Senders go on with new records until the faults are over (at least ``least``), so the
    # outage meets requests however fast the service takes them.
    least, senders, most = 600, 4, 20_000
    statuses: dict[int, list[int]] = {}
    numbers = iter(range(most))
    faults_over = asyncio.Event()

    def next_index() -> int | None:
        index = next(numbers, None)
        if index is None or (index >= least and faults_over.is_set()):
            return None
        return index

    async def send() -> None:
        while (index := next_index()) is not None:
            seen = statuses.setdefault(index, [])
            body = cdr(index)
            while True:
                response = await client.post(
                    f"/api/hooks/cms?token={HOOK_SECRET}",
                    data=body,
                    headers={"Content-Type": "text/xml"},
                )
                seen.append(response.status)
                if response.status == 200:
                    break
                # A sender that got no acknowledgement sends again, as bridges do.
                assert response.headers.get("Retry-After") == "1", await response.text()
                await asyncio.sleep(0.05)

    async def faults() -> None:
        try:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(pg_cluster.restart)  # pg_ctl restart -m fast
            await asyncio.sleep(0.6)
            await pg_cluster.outage(1.0)  # down for a second, then up again
        finally:
            faults_over.set()

    await asyncio.wait_for(
        asyncio.gather(faults(), *(send() for _ in range(senders))),
        timeout=90,
    )
    total = len(statuses)
    assert least <= total < most

    every = Counter(status for seen in statuses.values() for status in seen)
    assert set(every) <= {200, 503}, every
    assert every[503] > 0, "the outage never met a request"
    assert all(seen[-1] == 200 for seen in statuses.values())
    async with client.server.app[SESSIONS]() as session:
        stored = Counter(
            (
                await session.execute(
                    select(BridgeEventRecord.event_id).where(BridgeEventRecord.bridge == "cms")
                )
            ).scalars()
        )
    assert set(stored.values()) == {1}
    assert set(stored) == {f"cms:{SESSION}:{index}" for index in range(total)}
    # Recovered by itself: no restart of vcorch, readiness answers again.
    response = await client.get("/readyz")
    assert response.status == 200, await response.text()


def launch_settings(database: str) -> Any:
    slow = sim("mcu", 10, latency_ms=30, answer_delay_ms=300, unreachable=[])
    return make_settings(
        database,
        bridges=[slow],
        dial_concurrency=2,
        supervise_seconds=0.2,
        scheduler_sync_seconds=0.5,
        leader_check_seconds=0.2,
        monitoring_enabled=False,
        mail_poll_seconds=60,
    )


async def test_a_launch_and_bookings_carry_on_across_a_database_restart(
    pg_cluster: PgCluster, database: str, aiohttp_client: Any
) -> None:
    # The real clock and the background work (leader election, supervisor) of `vcorch serve`.
    client = await aiohttp_client(create_app(launch_settings(database)))
    app = client.server.app
    api = Api(client)
    world: World = await build_world(app, api)
    sec = api.as_(world.tokens["central_sec"])
    site_codes = ("central", "lao-cai", "dien-bien", "lao-cai.bac-ha")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    status, created = await sec.post(
        "/api/meetings",
        {
            "title": "Họp trực tuyến khi cơ sở dữ liệu khởi động lại",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": world.units["central"],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "sites": [{"room_id": world.rooms[code]} for code in site_codes],
        },
    )
    assert status == 201, created
    meeting_id = created["id"]
    bridge = app[REGISTRY]["mcu"]
    assert isinstance(bridge, SimulatedBridge)

    booked: dict[int, int] = {}  # slot -> meeting id
    answers: Counter[int] = Counter()

    async def book(slot: int) -> None:
        begin = start + timedelta(days=1, hours=slot)
        body = {
            "title": f"Họp định kỳ số {slot}",
            "kind": "meeting",
            "mode": "in_person",
            "organizer_unit_id": world.units["lao-cai"],
            "start": begin.isoformat(),
            "end": (begin + timedelta(minutes=45)).isoformat(),
            "host_room_id": world.rooms["lao-cai"],
            "sites": [{"room_id": world.rooms["lao-cai"]}],
        }
        laocai = api.as_(world.tokens["laocai_sec"])
        while True:
            status, answer = await laocai.post("/api/meetings", body)
            answers[status] += 1
            if status == 201:
                booked[slot] = answer["id"]
                return
            if status == 409 and answers[503]:
                # The first try's commit went through but its answer did not: the room is
                # taken by that very booking (checked below: exactly one per slot).
                return
            assert status == 503, answer
            await asyncio.sleep(0.1)

    async def bookings() -> None:
        for slot in range(40):
            await book(slot)
            await asyncio.sleep(0.05)

    status, body = await sec.post(f"/api/meetings/{meeting_id}/start")
    assert status == 202, body
    booking = asyncio.create_task(bookings())
    # The restart falls inside the launch: some calls placed, not all connected.
    deadline = time.monotonic() + 10
    while bridge.mcu.api_calls < 4 and time.monotonic() < deadline:  # noqa: ASYNC110 -- the MCU has no event to wait on
        await asyncio.sleep(0.02)
    legs_before = sum(len(c.legs) for c in bridge.mcu._conferences.values())
    assert legs_before < len(site_codes)
    await pg_cluster.outage(1.5)
    await asyncio.wait_for(booking, 60)

    deadline = time.monotonic() + 30
    live: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, live = await sec.get(f"/api/meetings/{meeting_id}/live")
        if status == 200 and all(s["state"] == "connected" for s in live["sites"]):
            break
        await asyncio.sleep(0.2)
    assert live["status"] == "live", live
    assert {s["state"] for s in live["sites"]} == {"connected"}, live["sites"]
    conference = next(iter(bridge.mcu._conferences.values()))
    per_site = Counter(leg.site_id for leg in conference.legs.values())
    assert len(per_site) == len(site_codes) and set(per_site.values()) == {1}, per_site

    assert answers[503] > 0, "the outage never met a booking"
    async with app[SESSIONS]() as session:
        titles = Counter(
            (
                await session.execute(
                    select(Meeting.title).where(Meeting.title.like("Họp định kỳ số %"))
                )
            ).scalars()
        )
        count = await session.scalar(select(func.count()).select_from(Meeting))
    assert titles == Counter(f"Họp định kỳ số {slot}" for slot in range(40))
    assert count == 41
    for meeting in booked.values():
        status, _ = await sec.get(f"/api/meetings/{meeting}")
        assert status == 200


async def test_the_pool_reconnects_without_help(pg_cluster: PgCluster, database: str) -> None:
    """The engine vcorch makes: after a restart the next checkout works (pre-ping)."""
    engine = make_engine(database)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Meeting)) == 0
        await asyncio.to_thread(pg_cluster.restart)
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Meeting)) == 0
    finally:
        await engine.dispose()
