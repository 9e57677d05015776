"""Storing a sweep of 10,000 endpoints: the monitoring service's fold into the database.

    .venv/bin/python benchmarks/health_store.py [--count 10000] [--postgres URL]

benchmarks/health_sweep.py measures probing 10,000 endpoints and folding the results in
memory.  The service also folds every result into the stored row (state, counters, last
result) that every process shares, stores each change and looks for meetings to alert
about, in one transaction.  This measures that part, on SQLite (a fresh file) and, with
``--postgres`` (or VCORCH_TEST_POSTGRES_URL), on a throw-away PostgreSQL database:

- baseline: one executemany UPDATE of the same 10,000 rows with fixed values, in one
  transaction: the least any per-endpoint write can cost on that database;
- first sweep: 10,000 rows inserted and 10,000 changes (unknown -> up) stored;
- steady sweep: 10,000 rows updated, no change (the common minute);
- outage: 1% of the endpoints cross the hysteresis threshold (100 changes stored and
  checked against the meetings of the next 24 hours; none there, so no mail).

Wall and CPU seconds per phase are printed and saved to benchmarks/results/health_store.json.
In production a sweep covers the endpoints due in one second (10,000 / 60 at the default
interval), so the full-sweep figures are the worst case, at start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import insert, update

from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.db.migrate import upgrade
from vcorch.monitoring.alerts import AlertPolicy
from vcorch.monitoring.hysteresis import HysteresisPolicy
from vcorch.monitoring.models import EndpointHealthRecord
from vcorch.monitoring.probes.result import down, healthy
from vcorch.monitoring.store import Observation, fold_results
from vcorch.orchestration.hot_endpoints import MeetingSites
from vcorch.rooms.models import Endpoint, Room, Unit

RESULTS = Path(__file__).resolve().parent / "results" / "health_store.json"
PROVINCES = 63
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _timed(work: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), _cpu()
    await work()
    return {
        "seconds": round(time.perf_counter() - wall, 4),
        "cpu_seconds": round(_cpu() - cpu, 4),
    }


async def _seed(url: str, count: int) -> list[int]:
    """Provinces under the root, one room per endpoint's province, ``count`` SIP endpoints."""
    engine = make_engine(url)
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(
            insert(Unit),
            [
                {
                    "id": 1000 + index,
                    "code": f"tinh-{index}",
                    "name": f"Tỉnh {index}",
                    "level": "province",
                    "parent_id": 1,
                    "path": f"/1/{1000 + index}/",
                    "search_text": "",
                    "created_at": T0,
                    "updated_at": T0,
                }
                for index in range(PROVINCES)
            ],
        )
        await connection.execute(
            insert(Room),
            [
                {
                    "id": 1 + index,
                    "unit_id": 1000 + index,
                    "name": f"Phòng họp {index}",
                    "seats": 30,
                    "search_text": "",
                    "created_at": T0,
                    "updated_at": T0,
                }
                for index in range(PROVINCES)
            ],
        )
        await connection.execute(
            insert(Endpoint),
            [
                {
                    "id": 1 + index,
                    "room_id": 1 + index % PROVINCES,
                    "name": f"Thiết bị {index}",
                    "kind": "sip",
                    "address": f"sip:room@10.{index // 65536}.{index // 256 % 256}.{index % 256}",
                    "probe_enabled": True,
                    "search_text": "",
                    "created_at": T0,
                    "updated_at": T0,
                }
                for index in range(count)
            ],
        )
    await engine.dispose()
    return list(range(1, count + 1))


async def _measure(url: str, count: int) -> dict[str, Any]:
    ids = await _seed(url, count)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    policy = HysteresisPolicy()
    alerts = AlertPolicy()
    meetings = MeetingSites()
    answer = healthy(1.2, "200 OK", 200)
    failure = down("timeout after 2 s")

    async def fold(observations: list[Observation], now: datetime) -> None:
        async with sessions.begin() as session:
            await fold_results(
                session,
                observations,
                now,
                policy_for=lambda _kind: policy,
                cause="sweep",
                alerts=alerts,
                meetings=meetings,
            )

    all_up = [Observation(endpoint_id, "sip", answer) for endpoint_id in ids]
    phases: dict[str, Any] = {}
    phases["first_sweep"] = await _timed(lambda: fold(all_up, T0))
    phases["steady_sweep"] = await _timed(lambda: fold(all_up, T0 + timedelta(minutes=1)))

    async def baseline() -> None:
        # Through a session: only the ORM turns a list of rows into UPDATE ... WHERE pk.
        async with sessions.begin() as session:
            await session.execute(
                update(EndpointHealthRecord),
                [
                    {
                        "endpoint_id": endpoint_id,
                        "last_checked_at": T0 + timedelta(minutes=2),
                        "latency_ms": 1.3,
                        "failures": 0,
                        "successes": 3,
                    }
                    for endpoint_id in ids
                ],
            )

    phases["baseline_update"] = await _timed(baseline)
    failing = set(ids[:: max(len(ids) // 100, 1)])
    outage = [
        Observation(endpoint_id, "sip", failure if endpoint_id in failing else answer)
        for endpoint_id in ids
    ]
    for minute in (3, 4):  # two failures: still up (hysteresis)
        await fold(outage, T0 + timedelta(minutes=minute))
    phases["outage_sweep"] = await _timed(lambda: fold(outage, T0 + timedelta(minutes=5)))
    phases["outage_sweep"]["changes"] = len(failing)
    await engine.dispose()
    return phases


async def _postgres_database(admin_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"vcorch_bench_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    return f"{admin_url.rsplit('/', 1)[0]}/{name}", drop


async def run(count: int, postgres: str | None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "health_store",
        "at": datetime.now(UTC).isoformat(),
        "endpoints": count,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        # The machine is shared: a high load average makes every figure slower.
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "backends": {},
    }
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/bench.db"
        report["backends"]["sqlite"] = await _measure(url, count)
    if postgres:
        url, drop = await _postgres_database(postgres)
        try:
            report["backends"]["postgresql"] = await _measure(url, count)
        finally:
            await drop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--postgres", default=os.environ.get("VCORCH_TEST_POSTGRES_URL"))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    report = asyncio.run(run(args.count, args.postgres))
    for backend, phases in report["backends"].items():
        for phase, figures in phases.items():
            extra = f", {figures['changes']} changes" if "changes" in figures else ""
            print(
                f"{backend:10} {phase:16} {figures['seconds']:8.3f} s wall"
                f" {figures['cpu_seconds']:8.3f} s CPU{extra}"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
