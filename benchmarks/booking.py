"""Conflict-checked booking into a calendar that already holds 100,000 meetings.

    .venv/bin/python benchmarks/booking.py [--meetings 100000] [--bookings 200]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

For each database (SQLite always; PostgreSQL when ``--postgres`` or VCORCH_TEST_POSTGRES_URL
names a server where a throwaway database may be created) the script migrates an empty
database, fills it with ``--meetings`` meetings over two years (600 rooms, 2-6 sites each,
a tenth of them weekly series, a quarter in person, with their stored occurrences), then
books ``--bookings`` new meetings
through ``BookingService.create`` -- the same code the API runs, with the room and port
conflict checks, the audit entry, the change feed and the queued invitations -- and times
each.  Baseline, same run: the same bookings inserted by hand without any conflict check
(what a booking costs at least in this database).  Prints and writes JSON to
benchmarks/results/booking.json.  Goal: p95 under 50 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert
from tests import databases

from vcorch.access.principal import Actor, Principal, Role
from vcorch.booking import schemas
from vcorch.booking.errors import BookingConflict
from vcorch.booking.models import Meeting, MeetingOccurrence, MeetingSite
from vcorch.booking.placement_pool import PortPool
from vcorch.booking.service import BookingPolicy, BookingService
from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.db.migrate import upgrade
from vcorch.rooms.models import Room, Unit

ROOMS = 600
ACTOR = Actor(Principal("user", 0, "benchmark", Role.ADMIN, 1, "/1/"))
EPOCH = datetime(2027, 1, 4, 0, 0, tzinfo=UTC)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def fill(url: str, meetings: int, seed: int) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.execute(
            insert(Unit),
            [
                {
                    "id": 1 + i,
                    "code": f"u{i}",
                    "name": f"Đơn vị {i}",
                    "level": "province",
                    "parent_id": 1,
                    "path": f"/1/{1 + i}/",
                    "search_text": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, 35)
            ],
        )
        await connection.execute(
            insert(Room),
            [
                {
                    "id": r,
                    "unit_id": 1 + (r % 35),
                    "name": f"Phòng {r}",
                    "seats": 30,
                    "search_text": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for r in range(1, ROOMS + 1)
            ],
        )
        batch_meetings: list[dict[str, Any]] = []
        batch_sites: list[dict[str, Any]] = []
        batch_occurrences: list[dict[str, Any]] = []
        for ident in range(1, meetings + 1):
            # Working hours in Hà Nội (01:00-10:30 UTC) on any day of two years.
            start = EPOCH + timedelta(days=rng.randrange(0, 730), minutes=30 * rng.randrange(2, 21))
            end = start + timedelta(hours=rng.choice((1, 2, 3)))
            weekly = rng.random() < 0.1
            mode = rng.choice(("online", "online", "hybrid", "in_person"))
            batch_meetings.append(
                {
                    "id": ident,
                    "title": f"Họp {ident}",
                    "search_text": "",
                    "kind": "meeting",
                    "mode": mode,
                    "organizer_unit_id": 1,
                    "start_at": start,
                    "end_at": end,
                    "timezone": "Asia/Ho_Chi_Minh",
                    "rrule": "FREQ=WEEKLY;COUNT=8" if weekly else None,
                    "exdates": [],
                    "series_start": start,
                    "series_end": end + timedelta(weeks=7) if weekly else end,
                    "status": "scheduled",
                    "version": 1,
                    "sequence": 0,
                    "invited": [],
                    "created_by": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for week in range(8 if weekly else 1):
                shift = timedelta(weeks=week)
                batch_occurrences.append(
                    {
                        "meeting_id": ident,
                        "occurrence_key": start + shift,
                        "start_at": start + shift,
                        "end_at": end + shift,
                        "cancelled": False,
                        "own_sites": False,
                    }
                )
            for room in rng.sample(range(1, ROOMS + 1), rng.randrange(2, 7)):
                batch_sites.append(
                    {"meeting_id": ident, "room_id": room, "endpoint_id": None, "contacts": []}
                )
            if len(batch_meetings) >= 5000:
                await connection.execute(insert(Meeting), batch_meetings)
                await connection.execute(insert(MeetingSite), batch_sites)
                await connection.execute(insert(MeetingOccurrence), batch_occurrences)
                batch_meetings, batch_sites, batch_occurrences = [], [], []
        if batch_meetings:
            await connection.execute(insert(Meeting), batch_meetings)
            await connection.execute(insert(MeetingSite), batch_sites)
            await connection.execute(insert(MeetingOccurrence), batch_occurrences)
        if connection.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind; bring them up to the data.
            for table in ("units", "rooms", "meetings", "meeting_sites", "meeting_occurrences"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                await connection.exec_driver_sql(
                    f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"  # noqa: S608 - fixed names
                )
    await engine.dispose()


def booking(rng: random.Random) -> schemas.MeetingCreate:
    start = EPOCH + timedelta(days=rng.randrange(0, 700), hours=rng.randrange(1, 9))
    rooms = rng.sample(range(1, ROOMS + 1), 4)
    return schemas.MeetingCreate(
        title="Họp thử hiệu năng",
        kind="meeting",
        mode="online",
        organizer_unit_id=1,
        start=start,
        end=start + timedelta(hours=1),
        sites=[schemas.SiteIn(room_id=r) for r in rooms],
    )


async def measure(url: str, bookings: int, seed: int) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    service = BookingService(
        sessions,
        policy=BookingPolicy(),
        pools=lambda: [PortPool("mcu", 100_000)],
        default_zone="Asia/Ho_Chi_Minh",
        clock=lambda: datetime(2026, 12, 1, tzinfo=UTC),
    )
    rng = random.Random(seed)
    checked: list[float] = []
    accepted: list[float] = []
    refused: list[float] = []
    for _ in range(bookings):
        data = booking(rng)
        began = time.perf_counter()
        outcome = accepted
        try:
            await service.create(ACTOR, data)
        except BookingConflict:
            outcome = refused
        elapsed = (time.perf_counter() - began) * 1000
        outcome.append(elapsed)
        checked.append(elapsed)
    rng = random.Random(seed + 1)
    unchecked: list[float] = []
    for _ in range(bookings):
        data = booking(rng)
        began = time.perf_counter()
        async with sessions.begin() as session:
            meeting = Meeting(
                title=data.title,
                search_text="",
                kind=data.kind,
                mode=data.mode,
                organizer_unit_id=1,
                start_at=data.start,
                end_at=data.end,
                timezone="Asia/Ho_Chi_Minh",
                exdates=[],
                series_start=data.start,
                series_end=data.end,
                status="scheduled",
                version=1,
                sequence=0,
                invited=[],
                created_by="bench",
            )
            session.add(meeting)
            await session.flush()
            session.add_all(
                [
                    MeetingSite(meeting_id=meeting.id, room_id=s.room_id, contacts=[])
                    for s in data.sites
                ]
            )
            session.add(
                MeetingOccurrence(
                    meeting_id=meeting.id,
                    occurrence_key=data.start,
                    start_at=data.start,
                    end_at=data.end,
                    cancelled=False,
                    own_sites=False,
                )
            )
        unchecked.append((time.perf_counter() - began) * 1000)
    await engine.dispose()

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "median_ms": round(statistics.median(values), 2),
            "p95_ms": round(percentile(values, 0.95), 2),
            "max_ms": round(max(values), 2),
        }

    return {
        "checked_booking": summary(checked),
        "checked_booking_accepted": summary(accepted) if accepted else None,
        "checked_booking_refused_409": summary(refused) if refused else None,
        "baseline_unchecked_insert": summary(unchecked),
        "bookings": bookings,
        "refused_as_conflicts": len(refused),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as directory:
        url = databases.sqlite_url(Path(directory) / "bench.db")
        began = time.perf_counter()
        await fill(url, args.meetings, args.seed)
        filled = time.perf_counter() - began
        results["sqlite"] = {
            "fill_seconds": round(filled, 1),
            **await measure(url, args.bookings, args.seed),
        }
    admin = args.postgres or os.environ.get("VCORCH_TEST_POSTGRES_URL")
    if admin:
        url = await databases.create_postgres_database(admin)
        try:
            began = time.perf_counter()
            await fill(url, args.meetings, args.seed)
            filled = time.perf_counter() - began
            engine = make_engine(url)
            async with engine.begin() as connection:
                await connection.exec_driver_sql("ANALYZE")
            await engine.dispose()
            results["postgresql"] = {
                "fill_seconds": round(filled, 1),
                **await measure(url, args.bookings, args.seed),
            }
        finally:
            await databases.drop_postgres_database(admin, url)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meetings", type=int, default=100_000)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    report = {
        "benchmark": "booking",
        "calendar_meetings": args.meetings,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "goal": "p95 of a conflict-checked booking under 50 ms on PostgreSQL",
        "results": figures,
        "measured_at": datetime.now(UTC).isoformat(),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    out = Path(__file__).resolve().parent / "results" / "booking.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
