"""The simulated bridge as the demo and the launch benchmark use it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from tests.waiting import eventually
from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import (
    BridgeContext,
    BridgeEvent,
    BridgeUnavailable,
    CapacityExceeded,
    ConferenceSpec,
    DialFailed,
    DialTarget,
)
from vcorch.mcu_adapter.simulated import SimulatedBridge


def target(number: int) -> DialTarget:
    return DialTarget(
        site_id=str(number),
        kind="sip",
        address=f"sip:room{number}@10.0.{number // 250}.{number % 250}",
        display_name=f"Xã {number}",
    )


def make(
    events: list[BridgeEvent] | None = None,
    *,
    on_event: asyncio.Event | None = None,
    **config: object,
) -> SimulatedBridge:
    async def emit(bridge: str, batch: Sequence[BridgeEvent]) -> None:
        if events is not None:
            events.extend(batch)
        if on_event is not None:
            on_event.set()

    return SimulatedBridge(
        BridgeConfig.model_validate({"name": "sim", "type": "simulated", **config}),
        BridgeContext(http=None, clock=lambda: datetime.now(UTC), emit=emit),
    )


async def test_seven_hundred_sites_with_api_latency_and_bounded_concurrency() -> None:
    events: list[BridgeEvent] = []
    news = asyncio.Event()
    bridge = make(
        events, on_event=news, ports=1000, options={"latency_ms": 50, "answer_delay_ms": 50}
    )
    ref = await bridge.create_conference(
        ConferenceSpec(
            key="launch@2026-12-01T02:00Z", title="Hội nghị toàn quốc", expected_sites=700
        )
    )
    in_flight = asyncio.Semaphore(50)

    async def dial(number: int) -> str:
        async with in_flight:
            return (await bridge.dial_out(ref, target(number))).participant_id

    started = time.perf_counter()
    ids = await asyncio.gather(*(dial(number) for number in range(700)))
    elapsed = time.perf_counter() - started
    # 700 calls of 50 ms, 50 at a time, cannot take less than 0.7 s if the latency is real
    # (a loaded machine only makes it slower; how much slower is no business of this test).
    assert elapsed > 0.65
    assert len(set(ids)) == 700
    async with asyncio.timeout(5):
        while sum(event.kind == "join" for event in events) < 700:
            news.clear()
            await news.wait()
    assert {event.participant_id for event in events if event.kind == "join"} == set(ids)
    health = await bridge.health()
    assert health.ports_in_use == 700
    assert health.load == pytest.approx(0.7)
    await bridge.close()


async def test_ports_run_out() -> None:
    bridge = make(ports=2, options={"latency_ms": 0})
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=3))
    await bridge.dial_out(ref, target(1))
    await bridge.dial_out(ref, target(2))
    with pytest.raises(CapacityExceeded):
        await bridge.dial_out(ref, target(3))
    await bridge.close()


async def test_configured_unreachable_address_rings_out() -> None:
    events: list[BridgeEvent] = []
    bridge = make(
        events,
        options={
            "latency_ms": 0,
            "answer_delay_ms": 10,
            "ring_timeout_ms": 50,
            "unreachable": [target(7).address],
        },
    )
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))
    silent = await bridge.dial_out(ref, target(7))
    answering = await bridge.dial_out(ref, target(8))
    await eventually(lambda: len(events) == 2, what="the answer and the ring-out")
    assert [(event.kind, event.participant_id, event.reason) for event in events] == [
        ("join", answering.participant_id, None),
        ("leave", silent.participant_id, "no answer"),
    ]
    with pytest.raises(DialFailed):
        await bridge.dial_out(
            ref, DialTarget(site_id="9", kind="sip", address=" ", display_name="")
        )
    await bridge.close()


async def test_failure_rate_is_absorbed_by_retries_for_safe_calls() -> None:
    bridge = make(
        retries=5,
        options={"latency_ms": 0, "failure_rate": 0.3, "seed": 7, "retry_base_delay": 0.001},
    )
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=1))
    for _ in range(30):
        await bridge.participants(ref)  # every one succeeds despite 30% failed attempts
    assert bridge.mcu.api_calls > 31
    await bridge.close()


async def test_timeouts_surface_as_unavailable() -> None:
    bridge = make(timeout_seconds=0.05, retries=1, options={"latency_ms": 0, "timeout_rate": 1})
    with pytest.raises(BridgeUnavailable, match="no answer"):
        await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=1))
    await bridge.close()
