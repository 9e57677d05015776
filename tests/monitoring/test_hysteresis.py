"""Up/down state from a run of probe results (pure, table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcorch.monitoring.hysteresis import (
    EndpointHealth,
    Health,
    HysteresisPolicy,
    observe,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
U, D, N = Health.UP, Health.DOWN, Health.UNKNOWN


def _run(
    results: str, policy: HysteresisPolicy
) -> tuple[list[Health], list[tuple[Health, Health, int]]]:
    """Feed results ('+' healthy, '-' not) a minute apart; states after each, transitions."""
    health = EndpointHealth()
    states: list[Health] = []
    transitions: list[tuple[Health, Health, int]] = []
    for minute, mark in enumerate(results):
        health, transition = observe(health, mark == "+", T0 + timedelta(minutes=minute), policy)
        states.append(health.state)
        if transition is not None:
            assert transition.at == T0 + timedelta(minutes=minute)
            transitions.append((transition.previous, transition.current, minute))
    return states, transitions


@pytest.mark.parametrize(
    ("down_after", "up_after", "results", "states", "transitions"),
    [
        # The first result decides at once, either way.
        (3, 2, "+", [U], [(N, U, 0)]),
        (3, 2, "-", [D], [(N, D, 0)]),
        # Up: one or two failures are not an outage; the third in a row is.
        (3, 2, "+-+--+", [U, U, U, U, U, U], [(N, U, 0)]),
        (3, 2, "+---", [U, U, U, D], [(N, U, 0), (U, D, 3)]),
        # Down: one answer is not a recovery; two in a row are.
        (3, 2, "-+-+-", [D] * 5, [(N, D, 0)]),
        (3, 2, "-++", [D, D, U], [(N, D, 0), (D, U, 2)]),
        # A full cycle: each change reported once, at the result that caused it.
        (2, 2, "+--+---++++", [U, U, D, D, D, D, D, D, U, U, U], [(N, U, 0), (U, D, 2), (D, U, 8)]),
        # Without hysteresis every change of result is a change of state.
        (1, 1, "+-+", [U, D, U], [(N, U, 0), (U, D, 1), (D, U, 2)]),
        # Staying down while failing reports nothing more.
        (3, 2, "------", [D] * 6, [(N, D, 0)]),
    ],
)
def test_state_follows_consecutive_results(
    down_after: int,
    up_after: int,
    results: str,
    states: list[Health],
    transitions: list[tuple[Health, Health, int]],
) -> None:
    got_states, got_transitions = _run(results, HysteresisPolicy(down_after, up_after))
    assert got_states == states
    assert got_transitions == transitions


def test_counters_and_since_track_the_current_run() -> None:
    policy = HysteresisPolicy(down_after=3, up_after=2)
    health = EndpointHealth()
    for minute, ok in enumerate([True, True, False, False]):
        health, _ = observe(health, ok, T0 + timedelta(minutes=minute), policy)
    assert health == EndpointHealth(
        state=Health.UP,
        since=T0,
        failures=2,
        successes=0,
        last_checked=T0 + timedelta(minutes=3),
    )


def test_a_result_older_than_the_last_one_is_ignored() -> None:
    policy = HysteresisPolicy(down_after=1, up_after=1)
    health, _ = observe(EndpointHealth(), True, T0 + timedelta(minutes=5), policy)
    late, transition = observe(health, False, T0 + timedelta(minutes=4), policy)
    assert late == health
    assert transition is None


@pytest.mark.parametrize(("down_after", "up_after"), [(0, 1), (1, 0), (-1, 2)])
def test_policy_needs_at_least_one_result(down_after: int, up_after: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HysteresisPolicy(down_after, up_after)
