"""The worst inputs the attack suite found, fired at a real ``vcorch serve`` while
``/healthz`` is timed: the service must stay responsive while it refuses them.

    .venv/bin/python benchmarks/worst_inputs.py [--database sqlite|postgresql|both]

Per database, in one run:

- ``baseline``: ``/healthz`` every 20 ms for ``--seconds`` with nothing else going on;
- ``alone``: each worst input fired five times, one at a time, timed;
- ``under_attack``: ``/healthz`` as above while ``--attackers`` clients fire, in a loop, the
  worst booking inputs (``FREQ=DAILY;UNTIL=9999…``, ``FREQ=YEARLY;INTERVAL=366;UNTIL=9999…``,
  ``COUNT=1000`` every 366 years) and a 100,000-deep JSON body to a bridge hook.

Goals (issue 16): each worst input is refused (4xx) within 1 s when fired alone, and ``/healthz``
stays under 200 ms at the 99th percentile while they are fired.  Prints and writes JSON to
benchmarks/results/worst_inputs.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.soak import create_admin, fresh_postgres, fresh_sqlite, organise, percentile
from tests import databases
from tests.reliability.serving import serve

WORST_RULES = [
    "FREQ=DAILY;UNTIL=99991231T000000Z",
    "FREQ=YEARLY;INTERVAL=366;UNTIL=99991231T000000Z",
    "FREQ=YEARLY;INTERVAL=366;COUNT=1000",
]
DEEP_JSON = ("[" * 100_000 + "]" * 100_000).encode()


async def probe_health(base: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            async with http.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(total=30)) as r:
                await r.read()
            latencies.append(time.perf_counter() - began)
            await asyncio.sleep(0.02)
    return latencies


Answers = list[dict[str, Any]]


async def attack(
    base: str,
    token: str,
    unit_id: int,
    room_id: int,
    deadline: float,
    answers: Answers,
    *,
    rounds: int | None = None,
) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline and (rounds is None or done < rounds):
            done += 1
            for rule in WORST_RULES:
                body = {
                    "title": "Họp thử tải",
                    "kind": "meeting",
                    "mode": "online",
                    "organizer_unit_id": unit_id,
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(),
                    "rrule": rule,
                    "sites": [{"room_id": room_id}],
                }
                began = time.perf_counter()
                async with http.post(f"{base}/api/meetings", json=body, headers=headers) as r:
                    await r.read()
                    answers.append(
                        {"input": rule, "status": r.status, "s": time.perf_counter() - began}
                    )
            began = time.perf_counter()
            async with http.post(
                f"{base}/api/hooks/no-such-hook",
                data=DEEP_JSON,
                headers={"Content-Type": "application/json"},
            ) as r:
                await r.read()
                answers.append(
                    {
                        "input": "deep-json-hook",
                        "status": r.status,
                        "s": time.perf_counter() - began,
                    }
                )


def summary(latencies: list[float]) -> dict[str, Any]:
    return {
        "samples": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


async def measure(url: str, directory: Path, seconds: float, attackers: int) -> dict[str, Any]:
    create_admin(url)
    served = serve(url, directory / "serve.log")
    try:
        await served.ready()
        org = await organise(served.url)
        baseline = await probe_health(served.url, seconds)
        alone: Answers = []
        await attack(
            served.url,
            org.token,
            org.unit_id,
            org.room_ids[0],
            time.monotonic() + 60,
            alone,
            rounds=5,
        )
        answers: Answers = []
        deadline = time.monotonic() + seconds
        health, *_ = await asyncio.gather(
            probe_health(served.url, seconds),
            *(
                attack(served.url, org.token, org.unit_id, org.room_ids[0], deadline, answers)
                for _ in range(attackers)
            ),
        )
    finally:
        served.stop()
    return {
        "baseline": summary(baseline),
        "alone": by_input(alone),
        "under_attack": {**summary(health), "inputs": by_input(answers)},
    }


def by_input(answers: Answers) -> dict[str, Any]:
    grouped: dict[str, dict[str, Any]] = {}
    for answer in answers:
        entry = grouped.setdefault(answer["input"], {"statuses": set(), "times": []})
        entry["statuses"].add(answer["status"])
        entry["times"].append(answer["s"])
    return {
        name: {
            "fired": len(e["times"]),
            "statuses": sorted(e["statuses"]),
            "max_s": round(max(e["times"]), 3),
            "p50_s": round(percentile(e["times"], 0.5), 3),
        }
        for name, e in grouped.items()
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results: dict[str, Any] = {}
    for backend in backends:
        directory = Path(tempfile.mkdtemp(prefix=f"vcorch-worst-{backend}-"))
        url = None
        try:
            if backend == "sqlite":
                url = await fresh_sqlite(directory)
            else:
                if not args.postgres:
                    print("PostgreSQL skipped: give --postgres or VCORCH_TEST_POSTGRES_URL")
                    continue
                url = await fresh_postgres(args.postgres)
            results[backend] = await measure(url, directory, args.seconds, args.attackers)
            print(backend, json.dumps(results[backend], indent=2, ensure_ascii=False))
        finally:
            if backend == "postgresql" and url is not None:
                with contextlib.suppress(Exception):
                    await databases.drop_postgres_database(args.postgres, url)
            shutil.rmtree(directory, ignore_errors=True)
    met = bool(results) and all(
        r["under_attack"]["p99_ms"] < 200
        and all(i["max_s"] < 1.0 for i in r["alone"].values())
        and all(
            400 <= status < 500
            for i in (*r["alone"].values(), *r["under_attack"]["inputs"].values())
            for status in i["statuses"]
        )
        for r in results.values()
    )
    return {
        "benchmark": "worst_inputs",
        "command": "python benchmarks/worst_inputs.py " + " ".join(sys.argv[1:]),
        "goal": "each worst input refused (4xx) within 1 s; /healthz p99 < 200 ms under attack",
        "met": met,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "seconds": args.seconds,
        "attackers": args.attackers,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres", default=os.environ.get("VCORCH_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "worst_inputs.json",
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
