"""Join/leave events per second accepted by ``POST /api/hooks/{bridge}``, each stored first.

    .venv/bin/python benchmarks/attendance_ingest.py [--events 20000] [--seconds 20]
        [--concurrency 32] [--batch 10]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

For each database (SQLite always; PostgreSQL when ``--postgres`` or VCORCH_TEST_POSTGRES_URL
names a server where throwaway databases may be created) a vcorch server runs in a process of
its own on 127.0.0.1 (the real app, a Janus bridge configured with its hook secret), and this
process posts Janus event-handler bodies to its hook route with ``--concurrency`` connections
in parallel, until ``--events`` events are accepted or ``--seconds`` have passed.  Each 200 says
how many events were stored; after a run the table is counted and must hold every one.

Measured, each on a fresh database:

- ``one_per_post``: one event per POST (a Cisco CDR receiver's usual request);
- ``grouped``: ``--batch`` events per POST (Janus' event handler with ``grouping = true``);
- baseline, same run: ``bare_aiohttp`` — a bare aiohttp application whose handler reads the
  body and answers, doing no work: the ceiling of one Python HTTP server on this machine;
  ``http_only`` — the same requests (authenticated and parsed) answered
  without storing: the ceiling the HTTP layer leaves to storage; and ``select_then_insert``
  — the ingest path as it was before (a look-up, then an insert, one transaction per request),
  to show what the current one gains.

Prints and writes JSON to benchmarks/results/attendance_ingest.json.  Goals: at least 2,000
events per second on PostgreSQL, and one event per POST at 0.8x or more of ``bare_aiohttp``
(``ratio_to_bare``).  ``--only a,b`` runs some measurements (named as in the JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from sqlalchemy import func, select
from tests import databases

from vcorch.bridge_events.models import BridgeEventRecord
from vcorch.db.engine import make_engine
from vcorch.db.migrate import upgrade

BRIDGE = "janus-bench"
HOOK_SECRET = "benchmark-hook-secret-0123456789"  # noqa: S105 -- a throwaway test secret
RESULTS = Path(__file__).resolve().parent / "results" / "attendance_ingest.json"
SINKS = ("bare_aiohttp", "http_only", "select_then_insert", "store")


# -- the server process ----------------------------------------------------------------------


def serve(database_url: str, port: int, folder: str, sink: str) -> None:
    """Run vcorch's app on 127.0.0.1:port with the hook sink chosen for this measurement."""
    from aiohttp import web

    if sink == "bare_aiohttp":
        serve_bare(port)
        return
    from tests.api import make_settings

    from vcorch.app import create_app
    from vcorch.config import BridgeConfig
    from vcorch.mcu_adapter.base import BridgeEvent
    from vcorch.mcu_adapter.routes import EVENT_SINK
    from vcorch.web.keys import SESSIONS

    secret = Path(folder) / "admin-secret"
    secret.write_text("janus-admin-secret", encoding="utf-8")
    hook = Path(folder) / "hook-secret"
    hook.write_text(HOOK_SECRET, encoding="utf-8")
    bridge = BridgeConfig(
        name=BRIDGE,
        type="janus",
        # Nothing listens there: the hook route never calls the bridge.
        url="http://127.0.0.1:9/janus",
        secret_file=secret,
        options={"hook_secret_file": str(hook), "join_on": "joined"},
    )
    settings = make_settings(database_url, bridges=[bridge], log_level="WARNING")
    app = create_app(settings, background=False)

    async def replace_sink(app: web.Application) -> None:
        if sink == "http_only":

            async def discard(bridge: str, events: Sequence[BridgeEvent]) -> int:
                return len(events)

            app[EVENT_SINK] = discard
        elif sink == "select_then_insert":
            sessions = app[SESSIONS]

            async def before(bridge: str, events: Sequence[BridgeEvent]) -> int:
                return await select_then_insert(sessions, bridge, events)

            app[EVENT_SINK] = before

    app.on_startup.append(replace_sink)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_bare(port: int) -> None:
    """The ceiling: a bare aiohttp application whose hook handler reads the body and answers
    at once — no middleware, no authentication, no parsing, nothing stored."""
    from aiohttp import web

    answer = json.dumps({"received": 1, "stored": 0}).encode()

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, content_type="application/json")

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/api/hooks/{bridge}", hook)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def select_then_insert(sessions: Any, bridge: str, events: Sequence[Any]) -> int:
    """The ingest path as it was (vcorch 0.1, conference/events.py): kept here as a baseline."""
    from sqlalchemy.dialects import postgresql, sqlite

    from vcorch.bridge_events.store import _row

    if not events:
        return 0
    now = datetime.now(UTC)
    rows = list({e.event_id: _row(bridge, e, now) for e in events}.values())
    async with sessions.begin() as session:
        known = set(
            (
                await session.execute(
                    select(BridgeEventRecord.event_id).where(
                        BridgeEventRecord.bridge == bridge,
                        BridgeEventRecord.event_id.in_([row["event_id"] for row in rows]),
                    )
                )
            ).scalars()
        )
        new = [row for row in rows if row["event_id"] not in known]
        if not new:
            return 0
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(BridgeEventRecord).on_conflict_do_nothing(
            index_elements=["bridge", "event_id"]
        )
        await session.execute(statement, new)
        return len(new)


# -- the load ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def body(first: int, count: int, stamp0: int) -> bytes:
    """``count`` AudioBridge events as Janus' sample event handler groups them: joins and
    leaves of participants in a few rooms, each with its own microsecond timestamp."""
    items = []
    for n in range(first, first + count):
        joined = n % 2 == 0
        items.append(
            {
                "emitter": "bench",
                "type": 64,
                "timestamp": stamp0 + n,
                "session_id": 1000 + n // 2,
                "handle_id": 2000 + n // 2,
                "event": {
                    "plugin": "janus.plugin.audiobridge",
                    "data": {
                        "event": "joined" if joined else "left",
                        "room": 1234 + (n // 2) % 50,
                        "id": 5000 + n // 2,
                        "display": f"Điểm cầu {n // 2}",
                        "setup": True,
                    },
                },
            }
        )
    return json.dumps(items).encode()


async def post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, payload: bytes
) -> tuple[int, dict[str, Any]]:
    """One POST on a kept-alive connection; (status, JSON answer)."""
    writer.write(head + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    answer = json.loads(await reader.readexactly(length)) if length else {}
    return status, answer


async def load(
    port: int, events: int, seconds: float, concurrency: int, batch: int
) -> dict[str, Any]:
    """Post until ``events`` are accepted or ``seconds`` pass, ``concurrency`` connections.

    A lean HTTP/1.1 client over asyncio streams (keep-alive, no pipelining): on two cores the
    load generator shares the machine with the server, so it should cost as little as it can.
    """
    auth = base64.b64encode(f"janus:{HOOK_SECRET}".encode()).decode()
    head = (
        f"POST /api/hooks/{BRIDGE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Basic {auth}\r\nContent-Type: application/json\r\n"
        "Content-Length: "
    ).encode()
    stamp0 = int(time.time() * 1_000_000)
    next_index = 0
    accepted = 0
    stored = 0
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal next_index, accepted, stored, failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_index < events and time.monotonic() < deadline:
                first = next_index
                next_index += batch
                payload = body(first, batch, stamp0)
                began = time.perf_counter()
                status, answer = await asyncio.wait_for(post(reader, writer, head, payload), 30)
                latencies.append(time.perf_counter() - began)
                if status != 200:
                    failures += 1
                    continue
                accepted += int(answer["received"])
                stored += int(answer["stored"])
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "events_accepted": accepted,
        "events_stored": stored,
        "posts": len(latencies),
        "failed_posts": failures,
        "seconds": round(elapsed, 2),
        "events_per_second": round(accepted / elapsed, 1) if elapsed else 0.0,
        "post_p50_ms": round(latencies[len(latencies) // 2] * 1000, 2) if latencies else None,
        "post_p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2)
        if latencies
        else None,
    }


async def wait_ready(port: int, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                raise RuntimeError("the vcorch server exited at start")
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the vcorch server did not become ready")


async def count_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return int(
                (
                    await connection.execute(select(func.count()).select_from(BridgeEventRecord))
                ).scalar_one()
            )
    finally:
        await engine.dispose()


async def measure(
    url: str, sink: str, batch: int, args: argparse.Namespace, folder: str
) -> dict[str, Any]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        url,
        str(port),
        folder,
        sink,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        await wait_ready(port, process)
        result = await load(
            port,
            args.events,
            args.seconds,
            args.concurrency,
            batch,
        )
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    rows = await count_rows(url)
    result["rows_in_table"] = rows
    if sink not in ("http_only", "bare_aiohttp"):
        # Every accepted event was stored before its 200: the table holds each one, once.
        assert rows == result["events_stored"] == result["events_accepted"], result
    return result


async def fresh_database(kind: str, admin_url: str | None, folder: Path, n: int) -> str:
    if kind == "sqlite":
        url = databases.sqlite_url(folder / f"ingest-{n}.db")
    else:
        assert admin_url is not None
        url = await databases.create_postgres_database(admin_url)
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    return url


async def run_backend(
    kind: str, admin_url: str | None, args: argparse.Namespace, folder: Path
) -> dict[str, Any]:
    plan = [
        ("bare_aiohttp/one_per_post", "bare_aiohttp", 1),
        ("http_only/one_per_post", "http_only", 1),
        ("select_then_insert/one_per_post", "select_then_insert", 1),
        ("store/one_per_post", "store", 1),
        ("http_only/grouped", "http_only", args.batch),
        ("select_then_insert/grouped", "select_then_insert", args.batch),
        ("store/grouped", "store", args.batch),
    ]
    if args.only:
        plan = [step for step in plan if step[0] in args.only.split(",")]
    results: dict[str, Any] = {}
    for n, (name, sink, batch) in enumerate(plan):
        url = await fresh_database(kind, admin_url, folder, n)
        try:
            results[name] = await measure(url, sink, batch, args, str(folder))
        finally:
            if kind == "postgresql" and admin_url is not None:
                await databases.drop_postgres_database(admin_url, url)
        print(f"{kind:10} {name:34} {results[name]['events_per_second']:>9} events/s", flush=True)
    return results


async def main(args: argparse.Namespace) -> None:
    admin_url = args.postgres or os.environ.get("VCORCH_TEST_POSTGRES_URL")
    report: dict[str, Any] = {
        "benchmark": "attendance_ingest",
        "goal": "at least 2,000 events per second accepted (each stored first) on PostgreSQL;"
        " one event per POST at >= 0.8x a bare aiohttp handler in the same run",
        "command": "python benchmarks/attendance_ingest.py " + " ".join(sys.argv[1:]),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            # The machine may be shared: how busy it was when the run began.
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "events_per_measurement": args.events,
        "seconds_per_measurement_max": args.seconds,
        "concurrency": args.concurrency,
        "grouped_batch": args.batch,
        "results": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        report["results"]["sqlite"] = await run_backend("sqlite", None, args, folder)
        if admin_url:
            report["results"]["postgresql"] = await run_backend(
                "postgresql", admin_url, args, folder
            )
    for results in report["results"].values():
        bare = results.get("bare_aiohttp/one_per_post")
        stored = results.get("store/one_per_post")
        if bare and stored and bare["events_per_second"]:
            results["ratio_to_bare_one_per_post"] = round(
                stored["events_per_second"] / bare["events_per_second"], 3
            )
    postgres = report["results"].get("postgresql")
    if postgres and "store/one_per_post" in postgres:
        best = postgres["store/one_per_post"]["events_per_second"]
        report["goal_met_one_event_per_post"] = best >= 2000
        if "store/grouped" in postgres:
            report["goal_met_grouped"] = postgres["store/grouped"]["events_per_second"] >= 2000
        ratio = postgres.get("ratio_to_bare_one_per_post")
        report["goal_met_ratio_to_bare"] = ratio is not None and ratio >= 0.8
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("--events", type=int, default=20_000)
        parser.add_argument("--seconds", type=float, default=20.0)
        parser.add_argument("--concurrency", type=int, default=32)
        parser.add_argument("--batch", type=int, default=10)
        parser.add_argument("--postgres", default=None)
        parser.add_argument("--only", default="", help="comma-separated measurement names")
        asyncio.run(main(parser.parse_args()))
