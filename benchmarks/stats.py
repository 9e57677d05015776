"""The yearly online-share report over a register of 1,000,000 meetings.

    .venv/bin/python benchmarks/stats.py [--meetings 1000000] [--runs 15]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres] [--no-sqlite]

For each database (SQLite always unless ``--no-sqlite``; PostgreSQL when ``--postgres`` or
VCORCH_TEST_POSTGRES_URL names a server where a throwaway database may be created) the
script migrates an empty database and fills it in SQL (one ``INSERT ... SELECT`` per table,
deterministic): 694 units (central, 63 provinces, 630 districts), ``--meetings`` one-off
meetings all in 2025 -- the worst case for a yearly report -- (40% in person, 40% online,
20% hybrid; 1% cancelled meetings, 1% cancelled occurrences), and a run for every online
meeting that has ended (1 in 53 of them missed).  The clock stands at 20 November 2025, so
the year is the current target period: its projection is computed too.

Then the product's own code takes over: the statistics are rebuilt from the register
(``StatsRefresher.rebuild``), every ended online occurrence is given the verdict a judging
pass stores (70% verified; judging itself reads the bridges' records and is measured by the
tests, not here), and one refresh round builds the monthly summary.  Measured, ``--runs``
times each, through ``StatsService.online_share`` (what ``GET /api/stats/online-share``
runs, without HTTP):

- the year 2025 by month, and by province (the goal: under 300 ms on PostgreSQL);
- a province's leader's year by month (a subtree);
- the slow path: a range that cuts months (15 Jan - 15 Dec), counted from the
  per-occurrence table for the cut months.

Baselines in the same run: a bare ``COUNT(*)`` of the year's occurrences in the register,
and the year's figures by month straight from the per-occurrence table without the summary
(what the report would cost without it).  Prints and writes JSON to
benchmarks/results/stats.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from tests import databases

from vcorch.access.principal import Principal, Role
from vcorch.booking.models import MeetingOccurrence
from vcorch.db.base import UtcDateTime
from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.db.migrate import upgrade
from vcorch.rooms.models import Unit
from vcorch.stats import rules
from vcorch.stats.facts import rewrite_meeting
from vcorch.stats.models import StatsOccurrence
from vcorch.stats.schemas import OnlineShareQuery
from vcorch.stats.service import StatsPolicy, StatsService

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
CREATED = datetime(2024, 12, 1, tzinfo=UTC)
# 2025-01-01 00:00 in Hà Nội.
EPOCH = datetime(2024, 12, 31, 17, 0, tzinfo=UTC)
PROVINCES = 63
DISTRICTS_PER_PROVINCE = 10
ROOT = Principal("user", 0, "benchmark", Role.ADMIN, 1, "/1/")
PROVINCE_LEADER = Principal("user", 0, "benchmark", Role.LEADERSHIP, 2, "/1/2/")


def district_id(province: int, district: int) -> int:
    return 100 + province * DISTRICTS_PER_PROVINCE + district


def units_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for province in range(1, PROVINCES + 1):
        ident = 1 + province
        rows.append(
            {
                "id": ident,
                "code": f"tinh-{province:02d}",
                "name": f"Tỉnh số {province}",
                "level": "province",
                "parent_id": 1,
                "path": f"/1/{ident}/",
                "search_text": "",
                "created_at": CREATED,
                "updated_at": CREATED,
            }
        )
        for district in range(DISTRICTS_PER_PROVINCE):
            child = district_id(province, district)
            rows.append(
                {
                    "id": child,
                    "code": f"tinh-{province:02d}.huyen-{district}",
                    "name": f"Huyện {district} tỉnh {province}",
                    "level": "district",
                    "parent_id": ident,
                    "path": f"/1/{ident}/{child}/",
                    "search_text": "",
                    "created_at": CREATED,
                    "updated_at": CREATED,
                }
            )
    return rows


def sequence(dialect: str, count: int) -> str:
    if dialect == "postgresql":
        return f"WITH g(i) AS (SELECT generate_series(1::bigint, {count:d}))"
    # An integer, formatted as one: nothing else enters the statement.
    return f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {count:d})"  # noqa: S608


def instant(dialect: str, minutes: str) -> str:
    """EPOCH plus ``minutes`` (an SQL expression), stored the way UtcDateTime stores it."""
    if dialect == "postgresql":
        return f"(TIMESTAMPTZ '2024-12-31 17:00:00+00' + ({minutes}) * INTERVAL '1 minute')"
    epoch = int(EPOCH.timestamp())
    return f"(strftime('%Y-%m-%d %H:%M:%S', {epoch} + ({minutes}) * 60, 'unixepoch') || '.000000')"


def meetings_sql(dialect: str, count: int) -> str:
    # Deterministic spread: 365 days, starts every half hour from 08:00 to 17:30 local,
    # 1-3 hours long; 10% organised centrally, 30% by provinces, 60% by districts.
    start = "(((i * 7919) % 365) * 1440 + 60 + 30 * ((i * 104729) % 20))"
    length = "(60 + 60 * ((i * 31) % 3))"
    unit = (
        "CASE WHEN i % 10 = 0 THEN 1"
        f" WHEN i % 10 < 4 THEN 2 + (i * 7) % {PROVINCES}"
        f" ELSE 100 + (1 + (i * 7) % {PROVINCES}) * {DISTRICTS_PER_PROVINCE} + i % 10 END"
    )
    kind = (
        "CASE (i * 13) % 4 WHEN 0 THEN 'meeting' WHEN 1 THEN 'conference'"
        " WHEN 2 THEN 'workshop' ELSE 'training' END"
    )
    mode = (
        "CASE WHEN (i * 17) % 10 < 4 THEN 'in_person' WHEN (i * 17) % 10 < 8 THEN 'online'"
        " ELSE 'hybrid' END"
    )
    begin, finish = instant(dialect, start), instant(dialect, f"{start} + {length}")
    return (
        f"{sequence(dialect, count)} "  # noqa: S608 - fixed expressions and an integer
        "INSERT INTO meetings (id, title, search_text, kind, mode, organizer_unit_id, start_at,"
        " end_at, timezone, exdates, series_start, series_end, invited, status, version,"
        " sequence, created_by, created_at, updated_at) "
        f"SELECT i, 'Họp ' || i, '', {kind}, {mode}, {unit}, {begin}, {finish},"
        f" 'Asia/Ho_Chi_Minh', '[]', {begin}, {finish}, '[]',"
        " CASE WHEN i % 100 = 0 THEN 'cancelled' ELSE 'scheduled' END, 1, 0, 'benchmark',"
        " :created, :created FROM g"
    )


OCCURRENCES_SQL = (
    "INSERT INTO meeting_occurrences (meeting_id, occurrence_key, start_at, end_at, cancelled,"
    " own_sites) SELECT id, start_at, start_at, end_at, id % 97 = 0, FALSE FROM meetings"
)
RUNS_SQL = (
    "INSERT INTO meeting_runs (meeting_id, occurrence_key, start_at, end_at, status,"
    " whole_fallback, launched_at, ended_at, created_at)"
    " SELECT id, start_at, start_at, end_at,"
    " CASE WHEN id % 53 = 0 THEN 'missed' ELSE 'ended' END, FALSE, start_at, end_at, start_at"
    " FROM meetings WHERE mode <> 'in_person' AND status = 'scheduled' AND end_at <= :now"
)
# What a judging pass stores for an ended online occurrence: 70% verified (three sites, all
# at once), the rest with one site.
VERDICTS_SQL = (
    "UPDATE stats_occurrences SET needs_judging = FALSE, judged_at = :now, basis = 'run',"
    " verified = (meeting_id % 10 < 7), sites_invited = 3,"
    " sites_connected = CASE WHEN meeting_id % 10 < 7 THEN 3 ELSE 1 END,"
    " peak_sites = CASE WHEN meeting_id % 10 < 7 THEN 3 ELSE 1 END,"
    " sites_attended = CASE WHEN meeting_id % 10 < 7 THEN 3 ELSE 1 END"
    " WHERE needs_judging AND end_at <= :now"
)


def _typed(sql: str, *names: str) -> Any:
    return text(sql).bindparams(*(bindparam(name, type_=UtcDateTime()) for name in names))


async def fill(engine: AsyncEngine, count: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    dialect = engine.dialect.name
    async with engine.begin() as connection:
        await connection.execute(insert(Unit), units_rows())
        began = time.perf_counter()
        await connection.execute(
            _typed(meetings_sql(dialect, count), "created"), {"created": CREATED}
        )
        timings["meetings_seconds"] = time.perf_counter() - began
        began = time.perf_counter()
        await connection.execute(text(OCCURRENCES_SQL))
        timings["occurrences_seconds"] = time.perf_counter() - began
        began = time.perf_counter()
        await connection.execute(_typed(RUNS_SQL, "now"), {"now": NOW})
        timings["runs_seconds"] = time.perf_counter() - began
        if dialect == "postgresql":
            for table in ("meetings", "meeting_occurrences", "meeting_runs"):
                await connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608 - fixed names
                    f" (SELECT max(id) FROM {table}))"
                )
    await analyze(engine)
    return {name: round(value, 1) for name, value in timings.items()}


async def analyze(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")


def service_for(engine: AsyncEngine) -> StatsService:
    return StatsService(
        make_sessionmaker(engine),
        StatsPolicy(zone=ZONE, target=Fraction(3, 10), period="year"),
        lambda: NOW,
    )


async def derive(engine: AsyncEngine, service: StatsService) -> dict[str, float]:
    """The statistics as the product builds them, with verdicts set as judging sets them."""
    timings: dict[str, float] = {}
    sessions = make_sessionmaker(engine)
    began = time.perf_counter()
    async with sessions.begin() as session:
        await service.refresher.rebuild(session)
    timings["rebuild_seconds"] = time.perf_counter() - began
    async with engine.begin() as connection:
        await connection.execute(_typed(VERDICTS_SQL, "now"), {"now": NOW})
    await analyze(engine)
    began = time.perf_counter()
    await service.refresher.refresh()
    timings["first_summary_seconds"] = time.perf_counter() - began
    await analyze(engine)
    return {name: round(value, 1) for name, value in timings.items()}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(values), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
        "min_ms": round(ordered[0], 1),
    }


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> tuple[dict[str, float], Any]:
    result = await call()  # warm: plans and caches, as a running service has them
    values = []
    for _ in range(runs):
        began = time.perf_counter()
        result = await call()
        values.append((time.perf_counter() - began) * 1000)
    return summary(values), result


async def measure(
    engine: AsyncEngine, service: StatsService, runs: int, meetings: int
) -> dict[str, Any]:
    sessions = make_sessionmaker(engine)
    year = {"from": "2025-01-01", "to": "2025-12-31"}
    results: dict[str, Any] = {}

    async def report(who: Principal, group_by: str, **dates: str) -> Any:
        query = OnlineShareQuery.model_validate({**(dates or year), "group_by": group_by})
        return await service.online_share(who, query)

    results["year_by_month"], by_month = await timed(lambda: report(ROOT, "month"), runs)
    results["year_by_province"], by_province = await timed(lambda: report(ROOT, "province"), runs)
    results["province_leader_year_by_month"], _ = await timed(
        lambda: report(PROVINCE_LEADER, "month"), runs
    )
    results["cut_months_by_province_slow_path"], _ = await timed(
        lambda: report(ROOT, "province", **{"from": "2025-01-15", "to": "2025-12-15"}), runs
    )
    start, end = datetime(2024, 12, 31, 17, tzinfo=UTC), datetime(2025, 12, 31, 17, tzinfo=UTC)

    async def bare_count() -> Any:
        async with sessions() as session:
            return await session.scalar(
                select(func.count(MeetingOccurrence.id)).where(
                    MeetingOccurrence.start_at >= start, MeetingOccurrence.start_at < end
                )
            )

    async def without_summary() -> Any:
        facts = StatsOccurrence
        async with sessions() as session:
            rows = await session.execute(
                select(facts.month, *rules.figures_columns(NOW))
                .where(rules.in_register(), facts.start_at >= start, facts.start_at < end)
                .group_by(facts.month)
            )
            return rows.all()

    # What every booking write now also does: the meeting's rows rewritten in its
    # transaction (baseline: reading the meeting's occurrences).
    picks = iter([1 + (i * 7919) % meetings for i in range(1, 3 * runs + 3)])

    async def listener() -> Any:
        async with sessions.begin() as session:
            return await rewrite_meeting(session, next(picks), ZONE)

    async def read_meeting() -> Any:
        async with sessions() as session:
            found = await session.execute(
                select(MeetingOccurrence).where(MeetingOccurrence.meeting_id == next(picks))
            )
            return found.all()

    results["booking_listener_rewrite_one_meeting"], _ = await timed(listener, runs)
    results["baseline_read_one_meetings_occurrences"], _ = await timed(read_meeting, runs)
    results["baseline_bare_count_of_the_year"], occurrences = await timed(bare_count, runs)
    results["baseline_year_by_month_without_summary"], _ = await timed(without_summary, runs)
    total = by_month.total
    results["figures"] = {
        "occurrences_in_year": occurrences,
        "held": total.held,
        "declared_online": total.declared_online,
        "verified_online": total.verified_online,
        "share": total.share,
        "booked_rest_of_year": total.booked,
        "projected_share": by_month.current_period.projected_share,
        "provinces": len(by_province.groups),
    }
    return results


async def bench(url: str, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        began = time.perf_counter()
        await upgrade(engine)
        filled = await fill(engine, args.meetings)
        filled["fill_seconds"] = round(time.perf_counter() - began, 1)
        service = service_for(engine)
        derived = await derive(engine, service)
        return {**filled, **derived, **await measure(engine, service, args.runs, args.meetings)}
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as directory:
            results["sqlite"] = await bench(
                databases.sqlite_url(Path(directory) / "stats.db"), args
            )
        print(json.dumps({"sqlite": results["sqlite"]}, indent=2), file=sys.stderr, flush=True)
    admin = args.postgres or os.environ.get("VCORCH_TEST_POSTGRES_URL")
    if admin:
        url = await databases.create_postgres_database(admin)
        try:
            results["postgresql"] = await bench(url, args)
        finally:
            await databases.drop_postgres_database(admin, url)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meetings", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--postgres")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    report = {
        "benchmark": "stats",
        "meetings": args.meetings,
        "year": 2025,
        "clock": NOW.isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "goal": "yearly report by month and by province under 300 ms on PostgreSQL",
        "results": figures,
        "measured_at": datetime.now(UTC).isoformat(),
        "date": date.today().isoformat(),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    out = Path(__file__).resolve().parent / "results" / "stats.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
