"""The event loop's lateness is measured, exported and logged on transitions."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from vcorch.monitoring.loop_lag import LagState, LoopLag, judge
from vcorch.monitoring.metrics import Metrics


def block(seconds: float) -> None:
    """Hold the event loop as CPU-bound work in a handler would."""
    time.sleep(seconds)


@pytest.mark.parametrize(
    ("stalled", "lag", "after", "change"),
    [
        (False, 0.01, False, None),
        (False, 0.5, True, "stalled"),
        (True, 0.9, True, None),
        (True, 0.3, True, None),  # between half and whole threshold: still stalled
        (True, 0.2, False, "recovered"),
        (False, 0.49, False, None),
    ],
)
def test_judge(stalled: bool, lag: float, after: bool, change: str | None) -> None:
    state = LagState(stalled=stalled)
    assert judge(state, lag, 0.5) == change
    assert state.stalled is after


async def test_a_blocked_loop_is_measured_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    lag = LoopLag(
        metrics.event_loop_lag_seconds, metrics.event_loop_lag, interval=0.05, warn_after=0.3
    )
    task = asyncio.create_task(lag.run())
    caplog.set_level(logging.INFO, logger="vcorch.monitoring.loop_lag")
    try:
        await asyncio.sleep(0.12)
        block(0.45)  # a handler doing heavy work inline
        # One stall over two late ticks: the loop lets the lag task look once, then
        # blocks again before it is on time.
        await asyncio.sleep(0.01)
        block(0.45)
        await asyncio.sleep(0.3)
    finally:
        task.cancel()
    assert lag.worst >= 0.35
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    recovered = [r for r in caplog.records if "on time again" in r.getMessage()]
    # Logged once when it began and once when it ended, not at each late tick.
    assert (len(warnings), len(recovered)) == (1, 1), caplog.records
    exported = metrics.registry.get_sample_value("vcorch_event_loop_lag_seconds_observed_count")
    assert exported is not None and exported >= 4
    on_time = metrics.registry.get_sample_value(
        "vcorch_event_loop_lag_seconds_observed_bucket", {"le": "0.25"}
    )
    assert on_time is not None and exported - on_time == 2  # both late ticks were measured
