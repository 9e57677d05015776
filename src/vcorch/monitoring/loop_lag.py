"""How late the event loop runs what is due: the one figure that shows a stalled service.

A task asks to wake every ``interval`` seconds and measures how much later it woke; the
worst lateness of each window is exported and a stall over ``warn_after`` is logged once
when it begins and once when the loop is on time again (transitions, not every tick).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Gauge, Histogram

log = logging.getLogger(__name__)

LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class LagState:
    """Whether the loop counts as stalled; changed only by :func:`judge`."""

    stalled: bool = False


def judge(state: LagState, lag: float, warn_after: float) -> str | None:
    """The transition one measured lateness makes: "stalled", "recovered" or None."""
    if lag >= warn_after and not state.stalled:
        state.stalled = True
        return "stalled"
    if lag < warn_after / 2 and state.stalled:
        state.stalled = False
        return "recovered"
    return None


class LoopLag:
    def __init__(
        self,
        gauge: Gauge,
        histogram: Histogram,
        *,
        interval: float = 0.25,
        warn_after: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gauge = gauge
        self._histogram = histogram
        self._interval = interval
        self._warn_after = warn_after
        self._monotonic = monotonic
        self._state = LagState()
        self.worst = 0.0

    def observe(self, lag: float) -> None:
        lag = max(0.0, lag)
        self.worst = max(self.worst, lag)
        self._gauge.set(lag)
        self._histogram.observe(lag)
        change = judge(self._state, lag, self._warn_after)
        if change == "stalled":
            log.warning("the event loop ran %.3f s late: requests and jobs are waiting", lag)
        elif change == "recovered":
            log.info("the event loop is on time again (%.3f s late)", lag)

    async def run(self) -> None:
        while True:
            due = self._monotonic() + self._interval
            await asyncio.sleep(self._interval)
            self.observe(self._monotonic() - due)
