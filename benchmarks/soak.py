"""A bounded soak: a real ``vcorch serve`` on 127.0.0.1 driven from this (second) process.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--warmup-seconds 60]
        [--database sqlite|postgresql|both] [--workers 8]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

For each database (SQLite in a temporary file; PostgreSQL in a throwaway database on the
server that ``--postgres`` or VCORCH_TEST_POSTGRES_URL names) the script migrates an empty
database, creates an administrator with the command line, then through the HTTP API a
province, 40 rooms with endpoints and a secretariat account; starts ``vcorch serve`` with a
Cisco Meeting Server bridge whose CDR hook takes events; and for ``--minutes`` keeps
``--workers`` concurrent clients busy with a mix of

- 20 % bookings (``POST /api/meetings``, each in a free room and hour: expected 201),
- 20 % event ingestion (``POST /api/hooks/cms``, one CDR join record each: expected 200),
- 60 % reads (the meeting list, one meeting, the room list: expected 200).

It reports requests per second, p50/p95/p99 latency per kind, errors (any other status or a
failed connection), and the server's resident memory (psutil) sampled every half second:
``memory_growth`` compares the median of the last 10 % of the run with the median of the
seconds just after the warm-up; ``same_run_baseline`` compares the last minute's latency
(p50, p95) and memory with the first minute of the measured part of the same run.
Goal: no errors and less than 10 % growth after warm-up.
Prints and writes JSON to benchmarks/results/soak.json (``--output`` to change).

The same code runs in CI for about a minute per database (tests/reliability/test_soak_short.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import psutil
from tests import databases
from tests.reliability.serving import Served, serve

from vcorch.db.engine import make_engine
from vcorch.db.migrate import upgrade

# Throwaway accounts of a throwaway database.
ADMIN_PASSWORD = "soak-admin-password-0123"  # noqa: S105
SECRETARIAT_PASSWORD = "soak-secretariat-password-0123"  # noqa: S105
HOOK_SECRET = "soak-cdr-hook-secret-0123456789"  # noqa: S105
ROOMS = 40
SESSION = str(uuid.uuid4())


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Tally:
    """What the clients saw, kept apart for the warm-up and the measured part."""

    measuring: bool = False
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    warmup_requests: int = 0
    warmup_errors: int = 0
    # (monotonic instant it ended, seconds it took) of every measured request
    timeline: list[tuple[float, float]] = field(default_factory=list)

    def record(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        if not self.measuring:
            self.warmup_requests += 1
            self.warmup_errors += 0 if ok else 1
        else:
            self.latencies[kind].append(seconds)
            self.timeline.append((time.monotonic(), seconds))
            if not ok:
                self.errors[kind] += 1
        if not ok and len(self.error_samples) < 20:
            self.error_samples.append(f"{kind}: {detail}"[:300])


@dataclass
class Organisation:
    admin_token: str
    token: str
    unit_id: int
    room_ids: list[int]


def bridge_config(directory: Path) -> Path:
    (directory / "cms-password").write_text("unused-by-the-soak\n", encoding="utf-8")
    (directory / "cms-hook").write_text(HOOK_SECRET, encoding="utf-8")
    config = directory / "vcorch.toml"
    # The bridge's API is not reached (nothing is launched); its CDR hook takes the events.
    config.write_text(
        f"""
[[bridges]]
name = "cms"
type = "cisco_cms"
url = "http://127.0.0.1:9"
username = "vcorch"
password_file = "{directory / "cms-password"}"
ports = 500

[bridges.options]
hook_secret_file = "{directory / "cms-hook"}"
""",
        encoding="utf-8",
    )
    return config


def create_admin(database_url: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vcorch",
            "users",
            "create",
            "--username",
            "soak-admin",
            "--role",
            "admin",
            "--unit",
            "central",
            "--password-stdin",
        ],
        input=ADMIN_PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "VCORCH_DATABASE_URL": database_url,
            "VCORCH_PASSWORD_TIME_COST": "1",
            "VCORCH_PASSWORD_MEMORY_KIB": "8",
        },
    )


async def _json(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str | None = None,
    **kwargs: Any,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, headers=headers, **kwargs) as response:
        body = await response.json()
        if response.status >= 300:
            raise RuntimeError(f"{method} {url}: {response.status} {body}")
        return body


async def login(http: aiohttp.ClientSession, base: str, username: str, password: str) -> str:
    body = await _json(
        http,
        "POST",
        f"{base}/api/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    return str(body["access_token"])


async def organise(base: str) -> Organisation:
    async with aiohttp.ClientSession() as http:
        admin = await login(http, base, "soak-admin", ADMIN_PASSWORD)
        unit = await _json(
            http,
            "POST",
            f"{base}/api/units",
            admin,
            json={"code": "lao-cai", "name": "Tỉnh Lào Cai", "level": "province", "parent_id": 1},
        )
        room_ids = []
        for n in range(ROOMS):
            room = await _json(
                http,
                "POST",
                f"{base}/api/rooms",
                admin,
                json={"unit_id": unit["id"], "name": f"Phòng họp số {n}", "seats": 30},
            )
            await _json(
                http,
                "POST",
                f"{base}/api/endpoints",
                admin,
                json={
                    "room_id": room["id"],
                    "name": f"Thiết bị {n}",
                    "kind": "sip",
                    "address": f"sip:room{n}@lao-cai.example.vn",
                },
            )
            room_ids.append(room["id"])
        await _json(
            http,
            "POST",
            f"{base}/api/users",
            admin,
            json={
                "username": "soak-secretariat",
                "role": "secretariat",
                "unit_id": unit["id"],
                "password": SECRETARIAT_PASSWORD,
            },
        )
        token = await login(http, base, "soak-secretariat", SECRETARIAT_PASSWORD)
    return Organisation(admin, token, unit["id"], room_ids)


def cdr(index: int) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'<?xml version="1.0"?><records session="{SESSION}">'
        f'<record type="callLegUpdate" time="{now}" recordIndex="{index}"'
        f' correlatorIndex="{index}"><callLeg id="{uuid.uuid4()}"><state>connected</state>'
        f"<call>soak-call</call><remoteAddress>room{index % ROOMS}@lao-cai.example.vn"
        f"</remoteAddress></callLeg></record></records>"
    ).encode()


class Load:
    """The clients: each picks a kind of request at random and waits for its answer."""

    def __init__(self, base: str, org: Organisation, tally: Tally, seed: int) -> None:
        self.base = base
        self.org = org
        self.tally = tally
        self.rng = random.Random(seed)
        self.bookings = itertools.count()
        self.events = itertools.count()
        self.meeting_ids: list[int] = []
        # Far enough ahead that nothing is launched, reminded or probed during the soak.
        self.epoch = (datetime.now(UTC) + timedelta(days=30)).replace(
            minute=0, second=0, microsecond=0
        )
        self.headers = {"Authorization": f"Bearer {org.token}"}

    async def _timed(
        self,
        kind: str,
        expected: int,
        call: Callable[[], Awaitable[tuple[int, Any]]],
    ) -> Any:
        started = time.perf_counter()
        try:
            status, body = await call()
        except (aiohttp.ClientError, TimeoutError) as err:
            self.tally.record(kind, time.perf_counter() - started, False, repr(err))
            return None
        ok = status == expected
        self.tally.record(kind, time.perf_counter() - started, ok, f"{status} {body}")
        return body if ok else None

    async def book(self, http: aiohttp.ClientSession) -> None:
        n = next(self.bookings)
        room = self.org.room_ids[n % ROOMS]
        start = self.epoch + timedelta(hours=n // ROOMS)
        payload = {
            "title": f"Họp giao ban trực tuyến số {n}",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": self.org.unit_id,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=45)).isoformat(),
            "host_room_id": room,
            "sites": [{"room_id": room}],
        }

        async def call() -> tuple[int, Any]:
            async with http.post(
                f"{self.base}/api/meetings", json=payload, headers=self.headers
            ) as response:
                return response.status, await response.json()

        body = await self._timed("book", 201, call)
        if body is not None:
            self.meeting_ids.append(int(body["id"]))

    async def ingest(self, http: aiohttp.ClientSession) -> None:
        body = cdr(next(self.events))

        async def call() -> tuple[int, Any]:
            async with http.post(
                f"{self.base}/api/hooks/cms",
                data=body,
                headers={"Content-Type": "text/xml", "X-Vcorch-Hook-Secret": HOOK_SECRET},
            ) as response:
                return response.status, await response.read()

        await self._timed("ingest", 200, call)

    async def read(self, http: aiohttp.ClientSession) -> None:
        choice = self.rng.random()
        if choice < 0.4 or not self.meeting_ids:
            kind, path = "read_list", f"/api/meetings?unit={self.org.unit_id}&limit=20"
        elif choice < 0.8:
            kind, path = "read_meeting", f"/api/meetings/{self.rng.choice(self.meeting_ids)}"
        else:
            kind, path = "read_rooms", "/api/rooms?limit=50"

        async def call() -> tuple[int, Any]:
            async with http.get(f"{self.base}{path}", headers=self.headers) as response:
                return response.status, await response.read()

        await self._timed(kind, 200, call)

    async def worker(self, deadline: float) -> None:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while time.monotonic() < deadline:
                pick = self.rng.random()
                if pick < 0.2:
                    await self.book(http)
                elif pick < 0.4:
                    await self.ingest(http)
                else:
                    await self.read(http)


async def sample_memory(
    process: psutil.Process, samples: list[tuple[float, int]], stop: asyncio.Event
) -> None:
    started = time.monotonic()
    while not stop.is_set():
        try:
            samples.append((time.monotonic() - started, process.memory_info().rss))
        except psutil.Error:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def _median_rss(samples: list[tuple[float, int]], start: float, end: float) -> float:
    chosen = [rss for at, rss in samples if start <= at <= end]
    return float(statistics.median(chosen)) if chosen else 0.0


async def soak(
    database_url: str,
    *,
    seconds: float,
    warmup_seconds: float,
    workers: int,
    directory: Path,
    seed: int = 1,
) -> dict[str, Any]:
    """Run one soak against a migrated, empty database; returns the figures."""
    create_admin(database_url)
    served: Served = serve(
        database_url,
        directory / "serve.log",
        config=bridge_config(directory),
        # Access lines for every request would make the log the thing measured.
        env={"VCORCH_LOG_LEVEL": "WARNING", "VCORCH_MAIL_POLL_SECONDS": "30"},
    )
    try:
        await served.ready()
        org = await organise(served.url)
        tally = Tally()
        load = Load(served.url, org, tally, seed)
        samples: list[tuple[float, int]] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_memory(psutil.Process(served.pid), samples, stop))
        begin = time.monotonic()
        deadline = begin + warmup_seconds + seconds

        async def measure_after_warmup() -> None:
            await asyncio.sleep(warmup_seconds)
            tally.measuring = True

        switch = asyncio.create_task(measure_after_warmup())
        measuring_from = begin + warmup_seconds
        await asyncio.gather(*(load.worker(deadline) for _ in range(workers)))
        elapsed = time.monotonic() - begin
        stop.set()
        await asyncio.gather(sampler, switch)
        if served.process.poll() is not None:
            raise RuntimeError(f"vcorch serve died during the soak:\n{served.log_text()[-3000:]}")
    finally:
        served.stop()
    measured = max(elapsed - warmup_seconds, 1e-9)
    requests = sum(len(values) for values in tally.latencies.values())
    everything = [v for values in tally.latencies.values() for v in values]
    after_warmup = _median_rss(samples, warmup_seconds, warmup_seconds + min(10.0, seconds / 10))
    tail = _median_rss(samples, elapsed - max(seconds / 10, 3.0), elapsed)
    baseline = first_and_last_minute(
        tally.timeline,
        samples,
        measuring_from - begin,
        begin,
        elapsed,
        window=min(60.0, seconds / 3),
    )
    return {
        "backend": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "seconds_measured": round(measured, 1),
        "warmup_seconds": warmup_seconds,
        "workers": workers,
        "requests": requests,
        "throughput_rps": round(requests / measured, 1),
        "errors": sum(tally.errors.values()),
        "errors_by_kind": dict(tally.errors),
        "warmup_requests": tally.warmup_requests,
        "warmup_errors": tally.warmup_errors,
        "error_samples": tally.error_samples,
        "latency_ms": {
            kind: {
                "count": len(values),
                "p50": round(percentile(values, 0.50) * 1000, 2),
                "p95": round(percentile(values, 0.95) * 1000, 2),
                "p99": round(percentile(values, 0.99) * 1000, 2),
            }
            for kind, values in sorted(
                {**tally.latencies, "all": everything}.items(), key=lambda item: item[0]
            )
        },
        "bookings_made": len(load.meeting_ids),
        "events_sent": next(load.events),
        "rss_mib": {
            "first": round(samples[0][1] / 2**20, 1) if samples else None,
            "after_warmup": round(after_warmup / 2**20, 1),
            "end": round(tail / 2**20, 1),
            "peak": round(max(rss for _, rss in samples) / 2**20, 1) if samples else None,
        },
        "memory_growth": round((tail - after_warmup) / after_warmup, 4) if after_warmup else None,
        "same_run_baseline": baseline,
    }


def first_and_last_minute(
    timeline: list[tuple[float, float]],
    samples: list[tuple[float, int]],
    measuring_from: float,
    begin: float,
    elapsed: float,
    window: float,
) -> dict[str, Any]:
    """Latency and memory of the last ``window`` seconds against the first ``window`` of the
    measured part (a minute, or a third of a shorter run): drift within one run."""
    first_end = measuring_from + window
    last_start = elapsed - window

    def latencies(start: float, end: float) -> list[float]:
        return [took for at, took in timeline if start <= at - begin <= end]

    first, last = latencies(measuring_from, first_end), latencies(last_start, elapsed)
    first_rss = _median_rss(samples, measuring_from, first_end)
    last_rss = _median_rss(samples, last_start, elapsed)
    first_p95, last_p95 = percentile(first, 0.95), percentile(last, 0.95)
    return {
        "window_seconds": round(window, 1),
        "first": {
            "requests": len(first),
            "p50_ms": round(percentile(first, 0.50) * 1000, 2),
            "p95_ms": round(first_p95 * 1000, 2),
            "rss_mib": round(first_rss / 2**20, 1),
        },
        "last": {
            "requests": len(last),
            "p50_ms": round(percentile(last, 0.50) * 1000, 2),
            "p95_ms": round(last_p95 * 1000, 2),
            "rss_mib": round(last_rss / 2**20, 1),
        },
        "p95_last_over_first": round(last_p95 / first_p95, 3) if first_p95 else None,
        "rss_last_over_first": round(last_rss / first_rss, 3) if first_rss else None,
    }


async def fresh_sqlite(directory: Path) -> str:
    url = databases.sqlite_url(directory / "soak.db")
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    return url


async def fresh_postgres(admin_url: str) -> str:
    url = await databases.create_postgres_database(admin_url)
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    return url


async def run(args: argparse.Namespace) -> dict[str, Any]:
    backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = []
    for backend in backends:
        directory = Path(tempfile.mkdtemp(prefix=f"vcorch-soak-{backend}-"))
        url = None
        try:
            if backend == "sqlite":
                url = await fresh_sqlite(directory)
            else:
                if not args.postgres:
                    print("PostgreSQL skipped: give --postgres or VCORCH_TEST_POSTGRES_URL")
                    continue
                url = await fresh_postgres(args.postgres)
            print(f"soak on {backend}: {args.minutes} min after {args.warmup_seconds} s warm-up")
            result = await soak(
                url,
                seconds=args.minutes * 60,
                warmup_seconds=args.warmup_seconds,
                workers=args.workers,
                directory=directory,
            )
            results.append(result)
            print(json.dumps(result, indent=2, ensure_ascii=False))
        finally:
            if backend == "postgresql" and url is not None:
                await databases.drop_postgres_database(args.postgres, url)
            shutil.rmtree(directory, ignore_errors=True)
    return {
        "benchmark": "soak",
        "goal": "no errors; resident memory grows less than 10% after the warm-up"
        " (also against the first minute of the measured part, same_run_baseline)",
        "met": all(
            r["errors"] == 0
            and (r["memory_growth"] or 0) < 0.10
            and (r["same_run_baseline"]["rss_last_over_first"] or 1) < 1.10
            for r in results
        ),
        "command": "python benchmarks/soak.py " + " ".join(sys.argv[1:]),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "minutes": args.minutes,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup-seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres", default=os.environ.get("VCORCH_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "soak.json",
    )
    args = parser.parse_args()
    report = asyncio.run(run(args))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {args.output}; goal met: {report['met']}")
    if not report["met"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
