"""A national meeting coming up: how long until every site of several hundred is connected,
on a Cisco Meeting Server that paces its API and on the simulated MCU, in one run.

    .venv/bin/python benchmarks/launch.py [--sites 700] [--latency-ms 50] [--answer-ms 300]
        [--concurrency 8] [--budget 50] [--steady-seconds 30]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

For each database (SQLite; PostgreSQL when ``--postgres`` or VCORCH_TEST_POSTGRES_URL names a
server where a throwaway database may be created) the script builds the app as ``vcorch serve``
does (migrated database, the hook route listening on 127.0.0.1), books a meeting with
``--sites`` rooms, claims it and runs the supervisor loop -- the code the scheduler leader runs
-- until every site is connected, against

- the CMS emulator (tests/emulators/cisco_cms.py): page size 10, ``--latency-ms`` on every
  request, an enforced budget of ``--budget`` requests/s (503 above it), endpoints answering
  after ``--answer-ms``, CDRs pushed to vcorch's hook; vcorch's CMS adapter is given the same
  budget (``options.request_budget_per_second``);
- the simulated MCU, every API call taking ``--latency-ms``, endpoints answering after
  ``--answer-ms``.

A sampler of its own reads the database every 20 ms (what the live view reads), independently
of the supervisor's steps: it gives the first site connected and the count over time.  Then
``--steady-seconds`` of steady supervision count the requests the CMS emulator received.
Printed beside each figure: the bound computed from concurrency, latency and budget.
Each launch runs in a process of its own (its peak RSS is its own).  Baseline, same run: the
same calls placed straight on a fresh simulated MCU with the same concurrency and nothing
recorded.  The machine's load average is saved with the figures.  Prints and writes JSON to
benchmarks/results/launch.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web
from sqlalchemy import func, select
from tests import databases
from tests.emulators.cisco_cms import CmsEmulator
from tests.emulators.cms_pressure import BatchingCms

from vcorch.access.principal import SYSTEM_ACTOR
from vcorch.app import create_app
from vcorch.booking import schemas as booking_schemas
from vcorch.booking.routes import BOOKING
from vcorch.config import BridgeConfig, Settings
from vcorch.db.engine import make_engine
from vcorch.db.migrate import upgrade
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge
from vcorch.mcu_adapter.simulated.mcu import SimLeg, SimSettings, SimulatedMcu
from vcorch.orchestration.models import RunIncident, RunSite
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.rooms import schemas as room_schemas
from vcorch.rooms.routes import ROOMS
from vcorch.web.keys import SESSIONS

RESULTS = Path(__file__).resolve().parent / "results"
HOOK_SECRET = "launch-benchmark-hook-secret"  # noqa: S105 -- a benchmark's own
SUPERVISE_SECONDS = 0.2


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def settings(url: str, bridge: BridgeConfig, concurrency: int) -> Settings:
    return Settings.model_validate(
        {
            "database_url": url,
            "secret_key": "benchmark-signing-key-0123456789abcdefgh",
            "bridges": [bridge.model_dump()],
            "dial_concurrency": concurrency,
            "supervise_seconds": SUPERVISE_SECONDS,
            "ring_timeout_seconds": 60,
        }
    )


def sim_bridge(sites: int, latency_ms: float, answer_ms: float) -> BridgeConfig:
    return BridgeConfig(
        name="mcu",
        type="simulated",
        ports=sites + 10,
        options={"latency_ms": latency_ms, "answer_delay_ms": answer_ms},
    )


def cms_bridge(emulator: CmsEmulator, folder: Path, sites: int, budget: float) -> BridgeConfig:
    password = folder / "cms-password"
    password.write_text(emulator.password, encoding="utf-8")
    hook = folder / "cms-hook"
    hook.write_text(HOOK_SECRET, encoding="utf-8")
    return BridgeConfig(
        name="mcu",
        type="cisco_cms",
        url=emulator.url,
        username=emulator.username,
        password_file=password,
        ports=sites + 10,
        timeout_seconds=5,
        retries=3,
        options={
            "hook_secret_file": str(hook),
            "request_budget_per_second": budget,
            "retry_base_delay": 0.05,
        },
    )


class Sampler:
    """Reads the connected count every ``every`` seconds, on its own (not the supervisor's
    steps): what an operator's live view would show."""

    def __init__(self, app: web.Application, run_id: int, began: float, every: float) -> None:
        self._app = app
        self._run_id = run_id
        self._began = began
        self._every = every
        self.first: float | None = None
        self.curve: list[tuple[float, int]] = []

    async def count(self) -> int:
        async with self._app[SESSIONS]() as session:
            value = await session.scalar(
                select(func.count()).where(
                    RunSite.run_id == self._run_id, RunSite.state == "connected"
                )
            )
        return int(value or 0)

    async def run(self) -> None:
        while True:
            connected = await self.count()
            at = time.perf_counter() - self._began
            if connected and self.first is None:
                self.first = at
            if not self.curve or self.curve[-1][1] != connected:
                self.curve.append((round(at, 3), connected))
            await asyncio.sleep(self._every)


async def book_meeting(app: web.Application, sites: int) -> int:
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
    return record.meeting.id


async def supervise(app: web.Application, stop: asyncio.Event) -> None:
    """The leader's supervisor loop (scheduler/service.py ``supervise_forever``)."""
    orchestrator = app[ORCHESTRATOR]
    while not stop.is_set():
        await orchestrator.step_all()
        await orchestrator.wait_for_work(SUPERVISE_SECONDS)


async def vcorch_launch(
    url: str,
    bridge: BridgeConfig,
    sites: int,
    concurrency: int,
    *,
    emulator: CmsEmulator | None = None,
    steady_seconds: float = 0.0,
    dials: Callable[[web.Application], int],
) -> dict[str, Any]:
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    app = create_app(settings(url, bridge, concurrency), background=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stop = asyncio.Event()
    result: dict[str, Any] = {}
    try:
        if emulator is not None:
            emulator.cdr_receivers["vcorch"] = (
                f"http://127.0.0.1:{port}/api/hooks/{bridge.name}?token={HOOK_SECRET}"
            )
        meeting_id = await book_meeting(app, sites)
        orchestrator = app[ORCHESTRATOR]
        requests_before = len(emulator.requests) if emulator is not None else 0
        busy_before = getattr(emulator, "busy_answers", 0)
        rss_before = peak_rss_mb()
        began = time.perf_counter()
        run_id, _ = await orchestrator.claim(meeting_id, None, SYSTEM_ACTOR)
        sampler = Sampler(app, run_id, began, 0.02)
        sampling = asyncio.create_task(sampler.run())
        loop = asyncio.create_task(supervise(app, stop))
        while await sampler.count() < sites:
            if time.perf_counter() - began > 600:
                raise RuntimeError(f"only {await sampler.count()}/{sites} connected after 600 s")
            if loop.done():
                loop.result()
            await asyncio.sleep(0.02)
        total = time.perf_counter() - began
        launch_requests = (len(emulator.requests) - requests_before) if emulator else None
        steady: dict[str, Any] = {}
        if emulator is not None and steady_seconds > 0:
            # Let the launch's last listing go by, then count what supervision alone sends.
            await asyncio.sleep(2.0)
            counted = len(emulator.requests)
            t0 = time.perf_counter()
            await asyncio.sleep(steady_seconds)
            seconds = time.perf_counter() - t0
            steady = {
                "window_s": round(seconds, 1),
                "requests": len(emulator.requests) - counted,
                "requests_per_s": round((len(emulator.requests) - counted) / seconds, 2),
            }
        stop.set()
        orchestrator.wake()
        await loop
        sampling.cancel()
        async with app[SESSIONS]() as session:
            failovers = await session.scalar(
                select(func.count())
                .select_from(RunIncident)
                .where(RunIncident.run_id == run_id, RunIncident.kind == "failover")
            )
        result = {
            "all_connected_s": round(total, 3),
            "first_connected_s": round(sampler.first, 3) if sampler.first is not None else None,
            "connected_curve_head": sampler.curve[:6],
            "redials": dials(app) - sites,
            "failovers": int(failovers or 0),
            "supervision_requests": orchestrator.supervision_requests,
            # The process before the launch (imports, app, emulator, booked rooms).
            "rss_before_launch_mb": rss_before,
        }
        if emulator is not None:
            result["launch_requests"] = launch_requests
            result["busy_answers_503"] = getattr(emulator, "busy_answers", 0) - busy_before
            result["steady"] = steady
    finally:
        stop.set()
        await runner.cleanup()
    return result


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


def cms_dials(emulator: CmsEmulator) -> Callable[[web.Application], int]:
    """Calls the emulator really placed (a callLegStart each; a POST answered 503 placed
    nothing and is retried by the adapter, not a redial)."""

    def count(_: web.Application) -> int:
        return sum(1 for kind, _ in emulator.cdr_records if kind == "callLegStart")

    return count


def sim_dials(app: web.Application) -> int:
    bridge = app[REGISTRY]["mcu"]
    assert isinstance(bridge, SimulatedBridge)
    return sum(len(c.legs) for c in bridge.mcu._conferences.values())


async def one_database(url: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    sites, latency, answer, conc = args.sites, args.latency_ms, args.answer_ms, args.concurrency
    emulator = BatchingCms(
        page_size=10,
        ring_delay=answer / 1000,
        ring_timeout=5,
        max_call_legs=sites + 10,
        latency=latency / 1000,
        budget_per_second=args.budget,
    )
    await emulator.start()
    try:
        cms = await vcorch_launch(
            url,
            cms_bridge(emulator, folder, sites, args.budget),
            sites,
            conc,
            emulator=emulator,
            steady_seconds=args.steady_seconds,
            dials=cms_dials(emulator),
        )
    finally:
        await emulator.stop()
    return {"cms": cms}


async def one_database_sim(url: str, args: argparse.Namespace) -> dict[str, Any]:
    sites, latency, answer, conc = args.sites, args.latency_ms, args.answer_ms, args.concurrency
    return await vcorch_launch(
        url, sim_bridge(sites, latency, answer), sites, conc, dials=sim_dials
    )


def _child(queue: Any, kind: str, url: str, args: argparse.Namespace, folder: str) -> None:
    import faulthandler

    # LAUNCH_DUMP_AFTER=<seconds>: print every thread's stack if the launch takes that long.
    if os.environ.get("LAUNCH_DUMP_AFTER"):
        faulthandler.dump_traceback_later(float(os.environ["LAUNCH_DUMP_AFTER"]))

    async def launch() -> None:
        if kind == "cms":
            result = (await one_database(url, args, Path(folder)))["cms"]
        else:
            result = await one_database_sim(url, args)
        result["peak_rss_mb"] = peak_rss_mb()
        # Handed over before the loop closes: the parent ends this process once it has it.
        queue.put(result)

    asyncio.run(launch())


def in_child(kind: str, url: str, args: argparse.Namespace, folder: str) -> dict[str, Any]:
    """One launch in a process of its own, so that its peak RSS is that launch's alone
    (vcorch and, for CMS, the emulator's few records; not this script's other runs)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, kind, url, args, folder))
    process.start()
    try:
        result: dict[str, Any] = queue.get(timeout=600)
    finally:
        process.join(timeout=20)
        if process.is_alive():
            process.terminate()
            process.join(timeout=10)
    return result


def bounds(args: argparse.Namespace) -> dict[str, float]:
    """The least time the far side allows: calls at ``concurrency`` at a time, each taking
    the latency, and (CMS) no more than ``budget`` requests a second for the calls and the
    four requests creating the conference; then the last endpoint's answer."""
    sites, latency, answer = args.sites, args.latency_ms / 1000, args.answer_ms / 1000
    by_concurrency = math.ceil(sites / args.concurrency) * latency
    create = 4  # find the coSpace, create it, look for its call, create the call
    by_budget = (sites + create) / args.budget
    return {
        "simulated_s": round(by_concurrency + answer, 3),
        "cms_s": round(max(by_concurrency, by_budget) + answer, 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=700)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--answer-ms", type=float, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--budget", type=float, default=50.0)
    parser.add_argument("--steady-seconds", type=float, default=30.0)
    parser.add_argument("--postgres", default=os.environ.get("VCORCH_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    bound = bounds(args)
    results: dict[str, Any] = {
        "what": "seconds from claiming a meeting to every site connected",
        "command": " ".join(["python", *sys.argv]),
        "sites": args.sites,
        "latency_ms": args.latency_ms,
        "answer_ms": args.answer_ms,
        "concurrency": args.concurrency,
        "cms_budget_per_s": args.budget,
        "cms_page_size": 10,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "bound": bound,
        "baseline_bare_dialling_s": round(
            await bare_dialling(args.sites, args.latency_ms, args.answer_ms, args.concurrency), 3
        ),
        "vcorch": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        urls = {"sqlite": databases.sqlite_url(Path(folder) / "launch.db")}
        sim_urls = {"sqlite": databases.sqlite_url(Path(folder) / "launch-sim.db")}
        made: list[str] = []
        if args.postgres:
            urls["postgresql"] = await databases.create_postgres_database(args.postgres)
            sim_urls["postgresql"] = await databases.create_postgres_database(args.postgres)
            made = [urls["postgresql"], sim_urls["postgresql"]]
        try:
            for name, url in urls.items():
                outcome = {
                    "cms": in_child("cms", url, args, folder),
                    "simulated": in_child("simulated", sim_urls[name], args, folder),
                }
                for kind, key in (("cms", "cms_s"), ("simulated", "simulated_s")):
                    outcome[kind]["bound_s"] = bound[key]
                    outcome[kind]["x_bound"] = round(
                        outcome[kind]["all_connected_s"] / bound[key], 3
                    )
                results["vcorch"][name] = outcome
        finally:
            for url in made:
                await databases.drop_postgres_database(args.postgres, url)
    results["steady_budget_per_s"] = args.budget
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2, ensure_ascii=False))
    out = RESULTS / "launch.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
