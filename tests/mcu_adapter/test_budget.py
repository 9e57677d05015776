"""The per-bridge request budget, against a fake clock: tables of who goes out when."""

from __future__ import annotations

import asyncio

import pytest

from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.budget import RequestBudget


class FakeClock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def budget(rate: float | None, burst: float | None = None) -> tuple[RequestBudget, FakeClock]:
    clock = FakeClock()
    return RequestBudget(rate, burst=burst, clock=clock, sleep=clock.sleep), clock


async def send_times(b: RequestBudget, clock: FakeClock, costs: list[int]) -> list[float]:
    times = []
    for cost in costs:
        await b.acquire(cost)
        times.append(round(clock.now, 6))
    return times


@pytest.mark.parametrize(
    ("rate", "burst", "costs", "expected"),
    [
        # unlimited: nothing waits
        (None, None, [1] * 5, [0.0] * 5),
        # 10/s with a burst of 10: ten at once, then one every 0.1 s
        (10.0, None, [1] * 13, [0.0] * 10 + [0.1, 0.2, 0.3]),
        # 2/s, no burst beyond one: one every 0.5 s
        (2.0, 1.0, [1, 1, 1], [0.0, 0.5, 1.0]),
        # a listing of 4 pages at 4/s with burst 4 goes at once; the next read waits 0.25 s
        (4.0, 4.0, [4, 1], [0.0, 0.25]),
        # a cost beyond the burst goes into debt instead of waiting for ever
        (5.0, 5.0, [20, 1], [0.0, 3.2]),
        # a slow budget below one request a second still lets the first one through
        (0.5, None, [1, 1], [0.0, 2.0]),
    ],
)
async def test_requests_go_out_at_the_budgets_pace(
    rate: float | None, burst: float | None, costs: list[int], expected: list[float]
) -> None:
    b, clock = budget(rate, burst)
    assert await send_times(b, clock, costs) == expected
    assert b.spent == sum(costs)


@pytest.mark.parametrize(
    ("rate", "hold", "expected_first"),
    [
        (None, 3.0, 3.0),  # Retry-After holds even an unlimited budget
        (10.0, 1.5, 1.5),
        (10.0, 0.0, 0.0),
        (10.0, -4.0, 0.0),  # a negative wait is no wait
    ],
)
async def test_a_hold_stops_every_request_until_it_ends(
    rate: float | None, hold: float, expected_first: float
) -> None:
    b, clock = budget(rate)
    b.hold(hold)
    assert b.held_for() == max(0.0, hold)
    assert await send_times(b, clock, [1]) == [expected_first]
    assert b.held_for() == 0.0


async def test_a_later_shorter_hold_does_not_shorten_an_earlier_one() -> None:
    b, clock = budget(None)
    b.hold(5.0)
    b.hold(1.0)
    assert await send_times(b, clock, [1]) == [5.0]


@pytest.mark.parametrize(
    ("rate", "spent_first", "advance", "hold", "cost", "expected"),
    [
        (None, 100, 0.0, 0.0, 50, True),
        (None, 0, 0.0, 2.0, 1, False),  # held: nothing can go now
        (10.0, 10, 0.0, 0.0, 1, False),  # the burst is spent
        (10.0, 10, 0.5, 0.0, 5, True),  # refilled by half a second
        (10.0, 10, 0.5, 0.0, 6, False),
        (10.0, 0, 0.0, 0.0, 30, True),  # more than the burst: the full burst is enough
    ],
)
async def test_can_spend_says_whether_a_read_would_wait(
    rate: float | None, spent_first: int, advance: float, hold: float, cost: int, expected: bool
) -> None:
    b, clock = budget(rate)
    if spent_first:
        await b.acquire(spent_first)
    clock.now += advance
    if hold:
        b.hold(hold)
    assert b.can_spend(cost) is expected


async def test_reconciling_reads_wait_while_acts_are_waiting() -> None:
    b, clock = budget(1.0, 1.0)
    await b.acquire(1)  # the bucket is empty now
    order: list[str] = []

    async def go(name: str, urgent: bool) -> None:
        await b.acquire(1, urgent=urgent)
        order.append(name)

    acts = [asyncio.create_task(go(f"act{i}", True)) for i in range(3)]
    await asyncio.sleep(0)
    listing = asyncio.create_task(go("listing", False))
    await asyncio.gather(*acts, listing)
    assert order == ["act0", "act1", "act2", "listing"]
    assert clock.now == pytest.approx(4.0)


def _config(options: dict[str, object]) -> BridgeConfig:
    return BridgeConfig(name="b1", type="simulated", options=options)


@pytest.mark.parametrize(
    ("options", "default", "expected"),
    [
        ({}, 20.0, 20.0),
        ({}, None, None),
        ({"request_budget_per_second": 5}, 20.0, 5.0),
        ({"request_budget_per_second": 0}, 20.0, None),  # 0: unlimited
        ({"request_budget_per_second": "2.5"}, None, 2.5),
    ],
)
def test_the_budget_comes_from_the_options_else_the_kinds_default(
    options: dict[str, object], default: float | None, expected: float | None
) -> None:
    assert RequestBudget.from_config(_config(options), default).rate == expected


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestBudget(-1.0)


async def test_can_spend_within_a_short_wait() -> None:
    b, _clock = budget(10.0)
    await b.acquire(10)
    assert not b.can_spend(3)
    assert b.can_spend(3, within=0.3)
    b.hold(2.0)
    assert not b.can_spend(1, within=1.0)
    assert b.can_spend(1, within=2.0)
