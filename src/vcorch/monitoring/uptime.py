"""Uptime over a period, from the state in force at its start and the transitions inside it.

Pure: the period and the transitions are parameters.  Time in ``unknown`` (never probed,
probing off, before the first result) counts neither for nor against the endpoint: the
ratio is up time over the time the state was known.  A state is taken to last until the
next transition, so a period running past the last probe counts the last known state to
its end (the caller ends periods at "now").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Uptime:
    up_seconds: float
    down_seconds: float
    unknown_seconds: float

    @property
    def ratio(self) -> float | None:
        """Up time over known time, 0..1; None when the state was never known."""
        known = self.up_seconds + self.down_seconds
        return self.up_seconds / known if known > 0 else None


def uptime(
    state_at_start: str,
    transitions: Iterable[tuple[datetime, str]],
    start: datetime,
    end: datetime,
) -> Uptime:
    """Seconds up, down and unknown in ``[start, end)``.

    ``transitions`` are (when, state entered), sorted by time; those outside the period
    are ignored (``state_at_start`` already says what held at ``start``).
    """
    totals = {"up": timedelta(0), "down": timedelta(0), "unknown": timedelta(0)}
    if end <= start:
        return Uptime(0.0, 0.0, 0.0)
    state = state_at_start
    cursor = start
    for at, entered in transitions:
        if at <= start:
            state = entered
            continue
        if at >= end:
            break
        totals[state if state in totals else "unknown"] += at - cursor
        state, cursor = entered, at
    totals[state if state in totals else "unknown"] += end - cursor
    return Uptime(
        totals["up"].total_seconds(),
        totals["down"].total_seconds(),
        totals["unknown"].total_seconds(),
    )
