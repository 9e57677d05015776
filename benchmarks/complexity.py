"""The booking maths at scale: clash check, port sweep and far-future recurrence windows.

    .venv/bin/python benchmarks/complexity.py [--runs 5]

These were wall-clock bounds inside unit tests (flaky on a loaded machine, and a unit test
says what is right, not how fast); here each workload is timed against its same-run baseline:

- ``clash_check``: ``find_clashes`` of 30 two-hour bookings of 50 rooms against 20,000 stored
  occurrences; baseline: the plain pairwise loop over the same data.
- ``port_sweep``: ``port_timeline`` of 10,000 port uses over a week; baseline: sorting their
  20,000 boundaries (what any sweep costs at least).
- ``far_window.<rule>``: ``between`` over 400 days centuries ahead of an open-ended series;
  baseline: walking dateutil's rule from the first start to the same window.

Goals (the bounds the tests used to hold): clash check under 2 s, port sweep under 1 s, each far
window under 0.5 s. Prints and writes JSON to benchmarks/results/complexity.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dateutil.rrule import rrulestr

from vcorch.booking.overlap import BookedOccurrence, PortUse, find_clashes, port_timeline
from vcorch.booking.recurrence import between, parse_series

DAY = datetime(2025, 6, 2, tzinfo=UTC)
HCM = "Asia/Ho_Chi_Minh"
FAR_WINDOWS = [
    ("2025-01-06 08:00", "FREQ=WEEKLY;BYDAY=MO", "2399-06-01"),
    ("2025-01-01 08:00", "FREQ=DAILY", "2199-12-20"),
    ("2025-01-15 08:00", "FREQ=MONTHLY", "2700-01-01"),
    ("2025-01-07 08:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH", "2500-03-01"),
    ("2025-01-31 08:00", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "2600-01-01"),
    ("2025-03-01 08:00", "FREQ=YEARLY", "2900-01-01"),
]


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def timed(work: Callable[[], object], runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - began)
    return {"median_s": statistics.median(seconds), "max_s": max(seconds)}


def clash_data() -> tuple[list[BookedOccurrence], list[BookedOccurrence]]:
    rng = random.Random(5545)
    existing = []
    for n in range(20_000):
        start = DAY + minutes(rng.randrange(0, 60 * 24 * 30))
        existing.append(
            BookedOccurrence(
                n,
                start,
                start,
                start + minutes(rng.randrange(30, 240)),
                rooms=frozenset({rng.randrange(2000)}),
                endpoints=frozenset({f"sip:{rng.randrange(2000)}"}),
            )
        )
    candidate = [
        BookedOccurrence(
            None,
            DAY + timedelta(days=d, hours=9),
            DAY + timedelta(days=d, hours=9),
            DAY + timedelta(days=d, hours=11),
            rooms=frozenset(range(50)),
        )
        for d in range(30)
    ]
    return existing, candidate


def pairwise_clashes(
    candidate: list[BookedOccurrence], existing: list[BookedOccurrence], buffer: timedelta
) -> int:
    found = 0
    for mine in candidate:
        for other in existing:
            if mine.start < other.end + buffer and other.start < mine.end + buffer:
                found += len(mine.rooms & other.rooms)
    return found


def port_uses() -> list[PortUse]:
    rng = random.Random(30)
    uses = []
    for _ in range(10_000):
        start = DAY + minutes(rng.randrange(0, 60 * 24 * 7))
        uses.append(PortUse(start, start + minutes(rng.randrange(30, 240)), rng.randrange(1, 9)))
    return uses


def walk(first: datetime, rule: str, until: datetime) -> int:
    stop = until.replace(tzinfo=None)
    count = 0
    for moment in rrulestr(rule, dtstart=first.replace(tzinfo=None)):
        if moment > stop:
            break
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, Any] = {}

    existing, candidate = clash_data()
    results["clash_check"] = timed(
        lambda: find_clashes(candidate, existing, buffer=minutes(15)), args.runs
    )
    results["baseline_pairwise_clash_loop"] = timed(
        lambda: pairwise_clashes(candidate, existing, minutes(15)), args.runs
    )

    uses = port_uses()
    week = DAY + timedelta(days=7)
    results["port_sweep"] = timed(
        lambda: port_timeline(uses, capacity=200, start=DAY, end=week), args.runs
    )
    boundaries = [u.start for u in uses] + [u.end for u in uses]
    results["baseline_sort_boundaries"] = timed(lambda: sorted(boundaries), args.runs)

    for first_text, rule, window_text in FAR_WINDOWS:
        first = datetime.fromisoformat(first_text).replace(tzinfo=ZoneInfo(HCM))
        series = parse_series(start=first, end=first + timedelta(hours=1), timezone=HCM, rrule=rule)
        window = datetime.fromisoformat(window_text).replace(tzinfo=UTC)
        results[f"far_window.{rule}"] = timed(
            lambda s=series, w=window: between(s, w, w + timedelta(days=400)), args.runs
        )
        results[f"baseline_walk_from_first.{rule}"] = timed(
            lambda f=first, r=rule, w=window: walk(f, r, w), 1
        )

    goals = {"clash_check": 2.0, "port_sweep": 1.0}
    goals.update({f"far_window.{rule}": 0.5 for _, rule, _ in FAR_WINDOWS})
    report = {
        "command": "python benchmarks/complexity.py --runs " + str(args.runs),
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "results": results,
        "goals_s": goals,
        "met": {name: results[name]["median_s"] < bound for name, bound in goals.items()},
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    out = Path(__file__).resolve().parent / "results" / "complexity.json"
    out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
