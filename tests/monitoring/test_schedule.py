"""When endpoints are due (pure, table-driven)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from vcorch.monitoring.schedule import (
    Cadence,
    due_between,
    hot_endpoints,
    interval_for,
    is_hot,
    next_due,
    phase,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MINUTE = timedelta(seconds=60)
TEN = timedelta(seconds=10)


@pytest.mark.parametrize("endpoint_id", [1, 2, 17, 999_999, "room-7"])
@pytest.mark.parametrize("interval", [TEN, MINUTE, timedelta(minutes=5)])
def test_next_due_is_the_endpoints_own_slot_strictly_after(
    endpoint_id: int | str, interval: timedelta
) -> None:
    offset = phase(endpoint_id, interval)
    assert timedelta(0) <= offset < interval
    due = next_due(endpoint_id, T0, interval)
    assert T0 < due <= T0 + interval
    # The following slot is exactly one interval later, and asking at a slot gives the next.
    assert next_due(endpoint_id, due, interval) == due + interval
    assert next_due(endpoint_id, due - timedelta(microseconds=1), interval) == due
    # Same slot however the question is phrased: the plan is a function of the time.
    assert next_due(endpoint_id, due - interval / 2, interval) == due


def test_plan_is_deterministic_and_seeded() -> None:
    assert phase(42, MINUTE, seed=1) == phase(42, MINUTE, seed=1)
    offsets = {phase(42, MINUTE, seed=seed) for seed in range(20)}
    assert len(offsets) > 15


def test_endpoints_spread_over_the_interval_instead_of_bursting() -> None:
    seconds = Counter(
        int(phase(endpoint, MINUTE) / timedelta(seconds=1)) for endpoint in range(6000)
    )
    # 6000 endpoints over 60 one-second buckets: about 100 each, none empty or tripled.
    assert len(seconds) == 60
    assert max(seconds.values()) < 150
    assert min(seconds.values()) > 50


def test_zone_of_now_does_not_change_the_plan() -> None:
    hanoi = timezone(timedelta(hours=7))
    assert next_due(5, T0.astimezone(hanoi), MINUTE) == next_due(5, T0, MINUTE)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_due(5, datetime(2026, 3, 2, 8, 0), MINUTE)


@pytest.mark.parametrize(
    ("endpoint_id", "hot", "own", "expected"),
    [
        (1, set(), None, MINUTE),
        (1, {1}, None, TEN),
        (1, {2}, None, MINUTE),
        (1, set(), timedelta(seconds=300), timedelta(seconds=300)),
        (1, {1}, timedelta(seconds=300), TEN),
        # An endpoint already probed more often than the hot interval keeps its own.
        (1, {1}, timedelta(seconds=5), timedelta(seconds=5)),
    ],
)
def test_interval_for(
    endpoint_id: int, hot: set[int], own: timedelta | None, expected: timedelta
) -> None:
    assert interval_for(endpoint_id, Cadence(), hot=hot, own_interval=own) == expected


def test_due_between_serves_every_slot_exactly_once_across_ticks() -> None:
    cadence = Cadence()
    endpoints = [(endpoint, None) for endpoint in range(300)]
    hot = set(range(10))
    seen: Counter[int] = Counter()
    tick = T0
    # Ticks of uneven length, all shorter than the intervals, cover every slot once.
    for step in [1, 3, 2, 7, 1, 9, 1, 6] * 20:
        until = tick + timedelta(seconds=step)
        seen.update(due_between(endpoints, tick, until, cadence, hot=hot))
        tick = until
    span = tick - T0
    for endpoint in range(300):
        interval = TEN if endpoint in hot else MINUTE
        expected = span // interval
        assert expected <= seen[endpoint] <= expected + 1


def test_a_late_tick_probes_once_not_once_per_missed_slot() -> None:
    window = [(1, None), (2, None)]
    due = due_between(window, T0, T0 + timedelta(seconds=35), Cadence(), hot={1, 2})
    assert due == [1, 2]


@pytest.mark.parametrize(
    ("since", "until"),
    [(T0, T0), (T0 + TEN, T0)],
)
def test_empty_or_backward_window_has_nothing_due(since: datetime, until: datetime) -> None:
    assert due_between([(1, None), (2, None)], since, until, Cadence()) == []


@pytest.mark.parametrize(
    ("now", "hot"),
    [
        (T0 - timedelta(hours=2), False),
        (T0 - timedelta(hours=1, seconds=1), False),
        (T0 - timedelta(hours=1), True),  # an hour before the start
        (T0 + timedelta(minutes=30), True),  # live
        (T0 + timedelta(hours=2) - timedelta(seconds=1), True),
        (T0 + timedelta(hours=2), False),  # ended
    ],
)
def test_meeting_is_hot_from_an_hour_before_until_its_end(now: datetime, hot: bool) -> None:
    assert is_hot(T0, T0 + timedelta(hours=2), now, timedelta(hours=1)) is hot


def test_hot_endpoints_are_the_sites_of_hot_meetings() -> None:
    meetings = [
        (T0, T0 + timedelta(hours=1), [1, 2]),
        (T0 + timedelta(hours=3), T0 + timedelta(hours=4), [3]),
        (T0 - timedelta(hours=2), T0 - timedelta(hours=1), [4]),
    ]
    assert hot_endpoints(meetings, T0 + timedelta(minutes=5), Cadence()) == {1, 2}
    assert hot_endpoints(meetings, T0 + timedelta(hours=2, minutes=30), Cadence()) == {3}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval": timedelta(0)},
        {"hot_interval": timedelta(milliseconds=500)},
        {"hot_lead": timedelta(minutes=-1)},
    ],
)
def test_cadence_rejects_nonsense(kwargs: dict[str, timedelta]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 -- each case has its own message
        Cadence(**kwargs)
