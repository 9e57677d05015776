"""What one supervision poll of a big Cisco Meeting Server call costs: requests and time.

    .venv/bin/python benchmarks/cms_poll.py [--sites 700] [--page-size 10] [--latency 0.05]
        [--budget 20]

A CMS emulator (tests/emulators/cisco_cms.py) on 127.0.0.1 answers every API request after
``--latency`` seconds and pages collections at ``--page-size``; one call holds ``--sites``
connected legs dialled through the adapter.  Then, in the same run:

- baseline ``per_leg`` — the poll as it was on main: every page of the leg list
  (``offset``/``limit``, no overlap), then one ``GET /callLegs/<id>`` per leg, 8 at a time;
- ``first_poll`` — the adapter's ``participants`` after a restart (nothing known: pages plus
  one look per leg, once);
- ``steady_poll`` — the next poll (every leg known connected: pages only);
- ``steady_poll_budgeted`` — the same within a request budget of ``--budget`` per second
  (the CMS default), from a full bucket, and ``steady_requests_per_second``: several steady
  polls back to back within that budget, requests over wall time.

Prints and writes JSON to benchmarks/results/cms_poll.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from tests.emulators.cisco_cms import CmsEmulator

from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import BridgeContext, ConferenceRef, ConferenceSpec, DialTarget
from vcorch.mcu_adapter.cisco_cms import CiscoCmsBridge

RESULTS = Path(__file__).resolve().parent / "results" / "cms_poll.json"


def make_bridge(
    url: str, http: aiohttp.ClientSession, secret: Path, budget: float
) -> CiscoCmsBridge:
    config = BridgeConfig.model_validate(
        {
            "name": "cms",
            "type": "cisco_cms",
            "url": url,
            "username": "apiuser",
            "password_file": secret,
            "ports": 5000,
            "timeout_seconds": 10,
            "retries": 2,
            "options": {"request_budget_per_second": budget},
        }
    )
    return CiscoCmsBridge(config, BridgeContext(http=http, clock=lambda: datetime.now(UTC)))


async def timed(emulator: CmsEmulator, op: Any) -> dict[str, float]:
    before = len(emulator.requests)
    started = time.perf_counter()
    await op()
    return {
        "requests": len(emulator.requests) - before,
        "seconds": round(time.perf_counter() - started, 3),
    }


async def per_leg_poll(bridge: CiscoCmsBridge, ref: ConferenceRef) -> None:
    """The poll as on main: every page without overlap, then one GET per leg."""
    client = bridge._client
    elements = await client._collection(
        f"/calls/{ref.conference_id}/callLegs", "callLegs", "callLeg"
    )
    limit = asyncio.Semaphore(8)

    async def look(leg_id: str) -> None:
        async with limit:
            await client.get_call_leg(leg_id)

    await asyncio.gather(*(look(str(element.get("id"))) for element in elements))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    emulator = CmsEmulator(page_size=args.page_size, ring_delay=0.01, max_call_legs=args.sites + 10)
    await emulator.start()
    results: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as http:
            with tempfile.TemporaryDirectory() as tmp:
                secret = Path(tmp) / "password"
                secret.write_text("apipass", encoding="utf-8")
                setup = make_bridge(emulator.url, http, secret, 0)
                ref = await setup.create_conference(
                    ConferenceSpec(
                        key="bench", title="Hội nghị toàn quốc", expected_sites=args.sites
                    )
                )
                await asyncio.gather(
                    *(
                        setup.dial_out(
                            ref,
                            DialTarget(
                                site_id=str(n),
                                kind="sip",
                                address=f"sip:site{n}@example.vn",
                                display_name=f"Điểm cầu {n}",
                            ),
                        )
                        for n in range(args.sites)
                    )
                )
                for _ in range(1200):  # bounded: at most a minute
                    legs = emulator.calls[ref.conference_id].legs.values()
                    if all(leg.state == "connected" for leg in legs):
                        break
                    await asyncio.sleep(0.05)
                emulator.latency = args.latency
                results["per_leg"] = await timed(emulator, lambda: per_leg_poll(setup, ref))
                fresh = make_bridge(emulator.url, http, secret, 0)  # a restarted vcorch
                results["first_poll"] = await timed(emulator, lambda: fresh.participants(ref))
                results["steady_poll"] = await timed(emulator, lambda: fresh.participants(ref))
                budgeted = make_bridge(emulator.url, http, secret, args.budget)
                await budgeted.participants(ref)  # learn the legs (one look each)
                await asyncio.sleep(max(1.0, budgeted.budget.burst / args.budget))  # full bucket
                results["steady_poll_budgeted"] = await timed(
                    emulator, lambda: budgeted.participants(ref)
                )

                async def three_polls() -> None:
                    for _ in range(3):
                        await budgeted.participants(ref)

                sustained = await timed(emulator, three_polls)
                results["steady_requests_per_second"] = round(
                    sustained["requests"] / sustained["seconds"], 2
                )
                results["listing_cost"] = budgeted.listing_cost(args.sites)
                listed = await budgeted.participants(ref)
                results["listed_connected"] = sum(1 for p in listed if p.connected)
                results["listed_with_site"] = sum(1 for p in listed if p.site_id is not None)
    finally:
        await emulator.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sites", type=int, default=700)
    parser.add_argument("--page-size", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--budget", type=float, default=20.0)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    report = {
        "benchmark": "cms_poll",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "parameters": vars(args),
        "results": results,
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
