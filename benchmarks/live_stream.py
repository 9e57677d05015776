"""How soon a change reaches the live room, and what following costs the database.

    .venv/bin/python benchmarks/live_stream.py [--changes 30] [--followers 1,10,50]

The real app on SQLite (a throwaway file) with the simulated MCU, served on 127.0.0.1; a
meeting with four sites is started and brought up; then ``--followers`` streams
(``GET /api/meetings/{id}/live/stream``) follow it and the test mutes and unmutes one site
``--changes`` times through the API.  For each change: the time from the API's answer to the
moment every follower has the ``site`` message with the new mute state.

Measured, per number of followers:

- ``told``: as the service runs (the engine's commit events wake the watcher);
- baseline, same run: ``poll_only`` — the engine's events switched off, so only the poll
  (``live_stream_poll_seconds``, 1 s) brings the change, as for a write made by another
  process;
- ``reads``: views read by the watcher during the run, against the number of followers (one
  watcher per meeting, so it should not grow with them).

Prints and writes JSON to benchmarks/results/live_stream.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestClient, TestServer
from tests.api import Api, FakeClock, make_settings
from tests.orchestration.conftest import book, settle, sim
from tests.world import build_world

from vcorch.app import create_app
from vcorch.db.engine import make_engine
from vcorch.db.migrate import upgrade
from vcorch.orchestration.routes import LIVE_FEED

RESULTS = Path(__file__).resolve().parent / "results" / "live_stream.json"


async def read_events(response: Any, sink: asyncio.Queue[tuple[str, Any]]) -> None:
    kind, data = "", ""
    while True:
        line = (await response.content.readline()).decode()
        if line == "":
            return
        line = line.rstrip("\n")
        if line == "" and kind:
            await sink.put((kind, json.loads(data)))
            kind, data = "", ""
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]


async def wait_for(sink: asyncio.Queue[tuple[str, Any]], room_id: int, muted: bool) -> None:
    while True:
        kind, data = await sink.get()
        if kind == "site" and data["room_id"] == room_id and data["muted"] is muted:
            return


async def measure(
    api: Api,
    token: str,
    meeting_id: int,
    site: dict[str, Any],
    room_id: int,
    followers: int,
    changes: int,
) -> list[float]:
    sinks: list[asyncio.Queue[tuple[str, Any]]] = []
    readers = []
    responses = []
    for _ in range(followers):
        response = await api.client.get(
            f"/api/meetings/{meeting_id}/live/stream",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status == 200, await response.text()
        sink: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        sinks.append(sink)
        responses.append(response)
        readers.append(asyncio.create_task(read_events(response, sink)))
    for sink in sinks:
        kind, _ = await sink.get()
        assert kind == "snapshot"
    delays = []
    base = f"/api/meetings/{meeting_id}/sites/{site['site_id']}"
    sender = api.as_(token)
    for i in range(changes):
        muted = i % 2 == 0
        status, _ = await sender.post(f"{base}/{'mute' if muted else 'unmute'}")
        assert status == 200
        answered = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(wait_for(s, room_id, muted) for s in sinks)), 10)
        delays.append(time.perf_counter() - answered)
    for response in responses:
        response.close()
    for reader in readers:
        reader.cancel()
    return delays


def summary(delays: list[float]) -> dict[str, float]:
    ordered = sorted(delays)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="vcorch-bench-live-")
    url = f"sqlite+aiosqlite:///{folder}/bench.db"
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    settings = make_settings(
        url,
        bridges=[sim("mcu-a", 10)],
        dial_attempts=1,
        ring_timeout_seconds=30,
        live_streams_per_user=50,
    )
    clock = FakeClock()
    client = TestClient(TestServer(create_app(settings, clock=clock, background=False)))
    await client.start_server()
    out: dict[str, Any] = {"runs": []}
    try:
        app = client.server.app
        api = Api(client)
        world = await build_world(app, api)
        token = await api.login("central_sec")
        meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
        assert (await api.as_(token).post(f"/api/meetings/{meeting_id}/start"))[0] == 202
        await settle(app, clock)
        _, live = await api.as_(token).get(f"/api/meetings/{meeting_id}/live")
        room_id = world.rooms["lao-cai"]
        site = next(s for s in live["sites"] if s["room_id"] == room_id)
        feed = app[LIVE_FEED]
        for followers in args.followers:
            for mode in ("told", "poll_only"):
                token = await api.login("central_sec")  # fresh: the old one may be near expiry
                if mode == "poll_only":
                    feed.stop_listening()
                else:
                    feed.listen_to(app_engine(app))
                reads = feed.reads
                started = time.perf_counter()
                delays = await measure(
                    api, token, meeting_id, site, room_id, followers, args.changes
                )
                seconds = time.perf_counter() - started
                run = {
                    "mode": mode,
                    "followers": followers,
                    "changes": args.changes,
                    **summary(delays),
                    "view_reads": feed.reads - reads,
                    "view_reads_per_second": round((feed.reads - reads) / seconds, 2),
                }
                out["runs"].append(run)
                print(json.dumps(run))
                await asyncio.sleep(0.2)
    finally:
        await client.close()
    return out


def app_engine(app: Any) -> Any:
    from vcorch.web.keys import ENGINE

    return app[ENGINE]


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument(
        "--followers", type=lambda text: [int(x) for x in text.split(",")], default=[1, 10, 50]
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    result = asyncio.run(main(arguments))
    result.update(
        {
            "benchmark": "live_stream",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "poll_seconds": 1.0,
            "database": "sqlite",
        }
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {RESULTS}")
