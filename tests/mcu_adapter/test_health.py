"""The bridge-health coordinator: one poller, a timed snapshot, transitions logged once,
concurrent readers sharing one poll."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests.api import FakeClock
from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import BridgeContext, BridgeHealth
from vcorch.mcu_adapter.health import BridgeHealthCoordinator, transitions
from vcorch.mcu_adapter.registry import BridgeRegistry, load_bridges
from vcorch.mcu_adapter.simulated import SimulatedBridge

CONTEXT = BridgeContext(http=None, clock=lambda: datetime.now(UTC))
UP = BridgeHealth(reachable=True, version="1")
DOWN = BridgeHealth(reachable=False, detail="timeout")


class Gated(SimulatedBridge):
    """A bridge whose health answer waits for the test, counting the calls."""

    calls = 0
    gate: asyncio.Event | None = None

    async def health(self) -> BridgeHealth:
        type(self).calls += 1
        if type(self).gate is not None:
            await type(self).gate.wait()
        return await super().health()


def registry(*names: str, kind: type[SimulatedBridge] = SimulatedBridge) -> BridgeRegistry:
    configs = [
        BridgeConfig.model_validate({"name": name, "type": "simulated", "retries": 0})
        for name in names
    ]
    return load_bridges(configs, CONTEXT, kinds={"simulated": lambda: kind})


def simulated(bridges: BridgeRegistry, name: str) -> SimulatedBridge:
    bridge = bridges[name]
    assert isinstance(bridge, SimulatedBridge)
    return bridge


@pytest.mark.parametrize(
    ("before", "after", "changed"),
    [
        pytest.param({}, {"a": UP}, [], id="first-look-healthy-is-no-news"),
        pytest.param({}, {"a": DOWN}, [("a", False)], id="first-look-unreachable"),
        pytest.param({"a": UP}, {"a": UP}, [], id="still-up"),
        pytest.param({"a": DOWN}, {"a": DOWN}, [], id="still-down"),
        pytest.param({"a": UP}, {"a": DOWN}, [("a", False)], id="goes-down"),
        pytest.param({"a": DOWN}, {"a": UP}, [("a", True)], id="comes-back"),
        pytest.param(
            {"a": UP, "b": DOWN}, {"a": DOWN, "b": UP}, [("a", False), ("b", True)], id="both"
        ),
    ],
)
def test_transitions(
    before: dict[str, BridgeHealth],
    after: dict[str, BridgeHealth],
    changed: list[tuple[str, bool]],
) -> None:
    assert transitions(before, after) == changed


async def test_a_bridge_going_down_and_back_is_logged_once_each_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bridges = registry("mcu-a", "mcu-b")
    clock = FakeClock()
    coordinator = BridgeHealthCoordinator(bridges, clock=clock)
    assert coordinator.snapshot.taken_at is None
    assert coordinator.health_of("mcu-a") is None
    caplog.set_level(logging.INFO, logger="vcorch.mcu_adapter.health")

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "vcorch.mcu_adapter.health"]

    await coordinator.refresh()
    assert logged() == []
    assert coordinator.snapshot.taken_at == clock.now
    health = coordinator.health_of("mcu-a")
    assert health is not None and health.reachable
    simulated(bridges, "mcu-a").mcu.down = True
    for _ in range(3):
        clock.advance(seconds=15)
        await coordinator.refresh()
    down = [line for line in logged() if "mcu-a is unreachable" in line]
    assert len(down) == 1 and len(logged()) == 1
    health = coordinator.health_of("mcu-a")
    assert health is not None and not health.reachable
    rows = {row.name: row for row in coordinator.statuses()}
    assert rows["mcu-a"].healthy is False and rows["mcu-a"].last_error
    assert rows["mcu-b"].healthy is True and rows["mcu-b"].last_error is None
    simulated(bridges, "mcu-a").mcu.down = False
    for _ in range(2):
        await coordinator.refresh()
    assert logged()[1:] == ["bridge mcu-a answers again"]
    assert {row.name: row.last_error for row in coordinator.statuses()}["mcu-a"] is None


async def test_concurrent_readers_share_one_poll() -> None:
    Gated.calls = 0
    Gated.gate = asyncio.Event()
    try:
        bridges = registry("mcu-a", kind=Gated)
        clock = FakeClock()
        coordinator = BridgeHealthCoordinator(bridges, clock=clock)
        readers = [asyncio.create_task(coordinator.fresh()) for _ in range(20)]
        readers.append(asyncio.create_task(coordinator.refresh()))
        await asyncio.sleep(0.01)
        # A reader giving up does not cancel the poll the others wait for.
        readers[0].cancel()
        Gated.gate.set()
        snapshots = await asyncio.gather(*readers[1:])
        assert Gated.calls == 1 and coordinator.polls == 1
        assert all(snapshot is snapshots[0] for snapshot in snapshots)
        health = snapshots[0].of("mcu-a")
        assert health is not None and health.reachable
    finally:
        Gated.gate = None


async def test_a_stale_snapshot_is_refreshed_a_fresh_one_is_not() -> None:
    Gated.calls = 0
    bridges = registry("mcu-a", kind=Gated)
    clock = FakeClock()
    coordinator = BridgeHealthCoordinator(bridges, clock=clock, max_age=timedelta(seconds=30))
    first = await coordinator.fresh()  # never polled: polls
    assert Gated.calls == 1
    clock.advance(seconds=30)
    assert await coordinator.fresh() is first  # exactly at the max age: still good
    assert Gated.calls == 1
    clock.advance(seconds=1)
    second = await coordinator.fresh()
    assert Gated.calls == 2 and second.taken_at == clock.now
    clock.advance(seconds=5)
    assert await coordinator.fresh(max_age=timedelta(seconds=2)) is not second  # asked younger
    assert Gated.calls == 3


async def test_the_leaders_loop_polls_on_its_interval_until_cancelled() -> None:
    Gated.calls = 0
    bridges = registry("mcu-a", kind=Gated)
    coordinator = BridgeHealthCoordinator(
        bridges, clock=FakeClock(), interval=timedelta(seconds=0.01)
    )
    loop = asyncio.create_task(coordinator.run_forever())
    for _ in range(200):
        if Gated.calls >= 3:
            break
        await asyncio.sleep(0.01)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert Gated.calls >= 3
