"""Uptime from stored transitions: a table of periods, states and expected seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcorch.monitoring.uptime import Uptime, uptime

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("initial", "transitions", "start", "end", "expected"),
    [
        # Up the whole hour.
        ("up", [], 0, 60, Uptime(3600, 0, 0)),
        # Never probed: nothing known, no ratio.
        ("unknown", [], 0, 60, Uptime(0, 0, 3600)),
        # Known from minute 15, down from minute 45.
        ("unknown", [(15, "up"), (45, "down")], 0, 60, Uptime(1800, 900, 900)),
        # Transitions before the period only set the state at its start...
        ("down", [(-30, "up")], 0, 60, Uptime(3600, 0, 0)),
        # ... one exactly at its start counts from there; those after its end not at all.
        ("up", [(0, "down"), (30, "up"), (90, "down")], 0, 60, Uptime(1800, 1800, 0)),
        # Probing switched off for a while: unknown, not down.
        ("up", [(10, "unknown"), (20, "up")], 0, 60, Uptime(3000, 0, 600)),
        # An empty or reversed period.
        ("up", [], 60, 60, Uptime(0, 0, 0)),
        ("up", [], 60, 0, Uptime(0, 0, 0)),
    ],
)
def test_uptime(
    initial: str,
    transitions: list[tuple[float, str]],
    start: float,
    end: float,
    expected: Uptime,
) -> None:
    measured = uptime(initial, [(at(m), state) for m, state in transitions], at(start), at(end))
    assert measured == expected


def test_ratio_is_up_time_over_known_time() -> None:
    assert Uptime(1800, 900, 900).ratio == pytest.approx(2 / 3)
    assert Uptime(0, 0, 3600).ratio is None
    assert Uptime(0, 60, 0).ratio == 0.0
