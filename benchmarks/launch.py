"""A national meeting coming up: how long until every site of several hundred is connected.

    .venv/bin/python benchmarks/launch.py [--sites 500] [--latency-ms 20] [--answer-ms 300]
        [--concurrency 8] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

For each database (SQLite; PostgreSQL when ``--postgres`` or VCORCH_TEST_POSTGRES_URL names a
server where a throwaway database may be created) the script builds the app as ``vcorch serve``
does (migrated database, one simulated MCU whose every API call takes ``--latency-ms`` and whose
endpoints answer after ``--answer-ms``), books a meeting with ``--sites`` rooms, then claims it and
runs the supervisor -- the code the scheduler leader runs -- until every site is connected,
timing it.  Baseline, same run: the same number of calls placed straight on a fresh simulated MCU
with the same concurrency and nothing recorded (what the far side costs at least).  Prints and
writes JSON to benchmarks/results/launch.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web
from sqlalchemy import func, select
from tests import databases

from vcorch.access.principal import SYSTEM_ACTOR
from vcorch.app import create_app
from vcorch.booking import schemas as booking_schemas
from vcorch.booking.routes import BOOKING
from vcorch.config import BridgeConfig, Settings
from vcorch.db.engine import make_engine
from vcorch.db.migrate import upgrade
from vcorch.mcu_adapter.simulated.mcu import SimLeg, SimSettings, SimulatedMcu
from vcorch.orchestration.models import RunSite
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.rooms import schemas as room_schemas
from vcorch.rooms.routes import ROOMS
from vcorch.web.keys import SESSIONS

RESULTS = Path(__file__).resolve().parent / "results"


def settings(
    url: str, sites: int, latency_ms: float, answer_ms: float, concurrency: int
) -> Settings:
    bridge = BridgeConfig(
        name="mcu",
        type="simulated",
        ports=sites + 10,
        options={"latency_ms": latency_ms, "answer_delay_ms": answer_ms},
    )
    return Settings.model_validate(
        {
            "database_url": url,
            "secret_key": "benchmark-signing-key-0123456789abcdefgh",
            "bridges": [bridge.model_dump()],
            "dial_concurrency": concurrency,
            "supervise_seconds": 0.2,
        }
    )


async def vcorch_launch(
    url: str, sites: int, latency_ms: float, answer_ms: float, concurrency: int
) -> dict[str, Any]:
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    app = create_app(settings(url, sites, latency_ms, answer_ms, concurrency), background=False)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        rooms = app[ROOMS]
        room_ids = []
        for n in range(sites):
            room = await rooms.create_room(
                SYSTEM_ACTOR, room_schemas.RoomCreate(unit_id=1, name=f"Phòng {n}", seats=20)
            )
            await rooms.create_endpoint(
                SYSTEM_ACTOR,
                room_schemas.EndpointCreate(
                    room_id=room.id, name=f"Thiết bị {n}", kind="sip", address=f"sip:r{n}@x.vn"
                ),
            )
            room_ids.append(room.id)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=3)
        record = await app[BOOKING].create(
            SYSTEM_ACTOR,
            booking_schemas.MeetingCreate.model_validate(
                {
                    "title": "Hội nghị toàn quốc",
                    "kind": "conference",
                    "mode": "online",
                    "organizer_unit_id": 1,
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=2)).isoformat(),
                    "sites": [{"room_id": r} for r in room_ids],
                }
            ),
        )
        orchestrator = app[ORCHESTRATOR]
        began = time.perf_counter()
        run_id, _ = await orchestrator.claim(record.meeting.id, None, SYSTEM_ACTOR)
        first_connected = None
        steps = 0
        while True:
            await orchestrator.step(run_id)
            steps += 1
            async with app[SESSIONS]() as session:
                connected = await session.scalar(
                    select(func.count()).where(
                        RunSite.run_id == run_id, RunSite.state == "connected"
                    )
                )
            if connected and first_connected is None:
                first_connected = time.perf_counter() - began
            if connected == sites:
                break
            if time.perf_counter() - began > 300:
                raise RuntimeError(f"only {connected}/{sites} connected after 300 s")
            await asyncio.sleep(0.2)
        total = time.perf_counter() - began
    finally:
        await runner.cleanup()
    return {
        "all_connected_s": round(total, 3),
        "first_connected_s": first_connected,
        "steps": steps,
    }


async def bare_dialling(sites: int, latency_ms: float, answer_ms: float, concurrency: int) -> float:
    connected = asyncio.Event()
    count = 0

    async def answers(_: SimLeg) -> bool:
        return True

    async def on_event(event: Any) -> None:
        nonlocal count
        if event.kind == "join":
            count += 1
            if count == sites:
                connected.set()

    mcu = SimulatedMcu(
        SimSettings(latency=latency_ms / 1000, answer_delay=answer_ms / 1000, ports=sites + 10),
        clock=lambda: datetime.now(UTC),
        answers=answers,
        on_event=on_event,
    )
    gate = asyncio.Semaphore(concurrency)
    began = time.perf_counter()
    conference = await mcu.create("bench", "bench")

    async def dial(n: int) -> None:
        async with gate:
            await mcu.dial(conference, f"sip:r{n}@x.vn", "sip", f"r{n}", str(n))

    await asyncio.gather(*(dial(n) for n in range(sites)))
    await asyncio.wait_for(connected.wait(), 300)
    took = time.perf_counter() - began
    await mcu.close()
    return took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--answer-ms", type=float, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", default=os.environ.get("VCORCH_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    shape = (args.sites, args.latency_ms, args.answer_ms, args.concurrency)
    results: dict[str, Any] = {
        "what": "seconds from claiming a meeting to every site connected",
        "sites": args.sites,
        "latency_ms": args.latency_ms,
        "answer_ms": args.answer_ms,
        "concurrency": args.concurrency,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "baseline_bare_dialling_s": round(await bare_dialling(*shape), 3),
        "vcorch": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        sqlite = databases.sqlite_url(Path(folder) / "launch.db")
        results["vcorch"]["sqlite"] = await vcorch_launch(sqlite, *shape)
    if args.postgres:
        url = await databases.create_postgres_database(args.postgres)
        try:
            results["vcorch"]["postgresql"] = await vcorch_launch(url, *shape)
        finally:
            await databases.drop_postgres_database(args.postgres, url)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    out = RESULTS / "launch.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
