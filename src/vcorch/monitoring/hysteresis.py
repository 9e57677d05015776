"""Up/down state of an endpoint from successive probe results, with hysteresis.

One failed probe of a healthy endpoint is not an outage, and one answer from a dead one
is not a recovery: an ``up`` endpoint goes ``down`` after ``down_after`` consecutive
failures, a ``down`` one comes back ``up`` after ``up_after`` consecutive successes.

The first result of an endpoint in state ``unknown`` decides at once, either way.  At
start-up and for a newly added endpoint the operator wants a state on the health board
after one sweep, not after ``down_after`` sweeps (three minutes at the default interval),
and a wrong first guess is corrected by the same hysteresis as any later state.

Pure: the time of each observation is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Health(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class HysteresisPolicy:
    """How many consecutive results it takes to change state."""

    down_after: int = 3
    up_after: int = 2

    def __post_init__(self) -> None:
        if self.down_after < 1 or self.up_after < 1:
            raise ValueError("down_after and up_after must be at least 1")


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    """Where one endpoint stands: its state, since when, and the current run of results."""

    state: Health = Health.UNKNOWN
    since: datetime | None = None
    failures: int = 0  # consecutive, up to and including the last result
    successes: int = 0  # consecutive, up to and including the last result
    last_checked: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of state, at the time of the result that caused it."""

    previous: Health
    current: Health
    at: datetime


def observe(
    health: EndpointHealth, ok: bool, now: datetime, policy: HysteresisPolicy
) -> tuple[EndpointHealth, Transition | None]:
    """Fold one result (``ok`` = healthy) taken at ``now`` into ``health``.

    Returns the new health and the transition, which is None unless the state changed.
    A result older than the last one folded in is ignored (a slow probe of an earlier
    sweep must not undo what a later one found).
    """
    if health.last_checked is not None and now < health.last_checked:
        return health, None
    if ok:
        successes, failures = health.successes + 1, 0
    else:
        successes, failures = 0, health.failures + 1
    state = health.state
    if state is Health.UNKNOWN:
        new_state = Health.UP if ok else Health.DOWN
    elif state is Health.UP and failures >= policy.down_after:
        new_state = Health.DOWN
    elif state is Health.DOWN and successes >= policy.up_after:
        new_state = Health.UP
    else:
        return EndpointHealth(state, health.since, failures, successes, now), None
    return (
        EndpointHealth(new_state, now, failures, successes, now),
        Transition(state, new_state, now),
    )
