"""What one supervision look at a 700-site Pexip conference costs, in requests and time.

    .venv/bin/python benchmarks/pexip_supervision.py [--sites 700] [--page-size 100]
        [--latency 0.05] [--rounds 3]

Runs the Pexip emulator (tests/emulators/pexip.py) on 127.0.0.1 with one conference of
``--sites`` connected participants, every answer ``--latency`` seconds late, the status
listing capped at ``--page-size`` objects a page, and measures, in the same run:

- ``listing``: ``PexipBridge.participants`` (the paged status listing, the first page read
  again to tell a listing that moved): requests and seconds per look;
- baseline ``per_participant``: one ``GET status/v1/participant/<id>/`` per site, the shape of
  a supervision that looks at every leg by itself (what a CMS poll costs today).

It also prints what a poll every 2 s costs against the default request budget (10/s).
Prints and writes JSON to benchmarks/results/pexip_supervision.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from tests.emulators.pexip import EmuParticipant, PexipEmulator

from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import BridgeContext, ConferenceSpec
from vcorch.mcu_adapter.pexip import PexipBridge

RESULTS = Path(__file__).resolve().parent / "results" / "pexip_supervision.json"
POLL_SECONDS = 2.0
DEFAULT_BUDGET = PexipBridge.default_request_budget


async def run(sites: int, page_size: int, latency: float, rounds: int) -> dict[str, Any]:
    emulator = PexipEmulator(page_size=page_size)
    await emulator.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            secret = Path(tmp) / "password"
            secret.write_text(emulator.password, encoding="utf-8")
            config = BridgeConfig(
                name="pexip-bench",
                type="pexip",
                url=emulator.url,
                username=emulator.username,
                password_file=secret,
                ports=1000,
                timeout_seconds=10,
                options={
                    "system_location": emulator.system_locations[0],
                    "request_budget_per_second": 0,  # measure the far side, not our pacing
                },
            )
            async with aiohttp.ClientSession() as http:
                bridge = PexipBridge(
                    config, BridgeContext(http=http, clock=lambda: datetime.now(UTC))
                )
                ref = await bridge.create_conference(
                    ConferenceSpec(
                        key="bench@2026-12-01T02:00Z", title="Bench", expected_sites=sites
                    )
                )
                vmr = next(iter(emulator.vmrs.values()))
                conference = emulator._conference_for(vmr)
                for number in range(sites):
                    pid = str(uuid.uuid4())
                    conference.participants[pid] = EmuParticipant(
                        participant_id=pid,
                        conference=vmr.name,
                        display_name=f"Site {number}",
                        destination_alias=f"room-{number}@province.example.vn",
                        source_alias=vmr.name,
                        call_direction="out",
                        protocol="SIP",
                        role="chair",
                        service_type="conference",
                        has_media=True,
                        connect_time=time.time(),
                    )
                emulator.latency = latency
                listing = []
                for _ in range(rounds):
                    before = len(emulator.requests)
                    started = time.perf_counter()
                    found = await bridge.participants(ref)
                    listing.append(
                        {
                            "requests": len(emulator.requests) - before,
                            "seconds": round(time.perf_counter() - started, 3),
                            "connected": sum(1 for item in found if item.connected),
                        }
                    )
                ids = list(conference.participants)
                baseline = []
                for _ in range(rounds):
                    before = len(emulator.requests)
                    started = time.perf_counter()
                    limit = asyncio.Semaphore(8)

                    async def look(pid: str, limit: asyncio.Semaphore = limit) -> bool:
                        async with limit:
                            return await bridge.participant(ref, pid) is not None

                    seen = await asyncio.gather(*(look(pid) for pid in ids))
                    baseline.append(
                        {
                            "requests": len(emulator.requests) - before,
                            "seconds": round(time.perf_counter() - started, 3),
                            "connected": sum(seen),
                        }
                    )
    finally:
        await emulator.stop()
    per_look = listing[-1]["requests"]
    return {
        "benchmark": "pexip_supervision",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "sites": sites,
        "page_size": page_size,
        "latency_s": latency,
        "listing": listing,
        "baseline_per_participant_concurrency_8": baseline,
        "listing_cost_declared": bridge.listing_cost(sites),
        "poll_every_s": POLL_SECONDS,
        "steady_requests_per_second": round(per_look / POLL_SECONDS, 2),
        "baseline_requests_per_second": round(baseline[-1]["requests"] / POLL_SECONDS, 2),
        "default_budget_per_second": DEFAULT_BUDGET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=700)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(run(args.sites, args.page_size, args.latency, args.rounds))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
