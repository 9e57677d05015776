"""Verification from what really happens: meetings launched by the scheduler on simulated
MCUs, whose join/leave events the bridges push and vcorch stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api import FakeClock, make_settings
from tests.orchestration.conftest import settle, sim
from tests.stats.conftest import Calendar
from vcorch.config import Settings
from vcorch.scheduler.routes import SCHEDULER
from vcorch.stats.routes import STATS


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Two simulated MCUs on which the Điện Biên room system cannot be reached.
    return make_settings(
        database_url,
        bridges=[sim("mcu-a", 10), sim("mcu-b", 20)],
        dial_attempts=2,
        failover_after=2,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
    )


async def run_through(app: Any, clock: FakeClock, start: Any, end: Any) -> None:
    scheduler = app[SCHEDULER]
    clock.now = start - timedelta(minutes=5)
    ran = await scheduler.tick()
    assert any(job.startswith("launch:") for job in ran), ran
    await settle(app, clock)
    clock.now = end
    ran = await scheduler.tick()
    assert any(job.startswith("end:") for job in ran), ran


async def test_launched_meetings_are_verified_from_the_bridges_events(
    calendar: Calendar, clock: FakeClock
) -> None:
    app = calendar.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=20)
    # Central and Lào Cai both answer; in the second meeting Điện Biên cannot be reached
    # (it falls back to a browser link nobody opens): one site only.
    await calendar.book(
        "P",
        mode="online",
        sites=("central", "lao-cai"),
        when=(start, start + timedelta(hours=1)),
    )
    later = start + timedelta(hours=3)
    await calendar.book(
        "Q",
        mode="online",
        sites=("central", "dien-bien"),
        when=(later, later + timedelta(hours=1)),
    )
    await run_through(app, clock, start, start + timedelta(hours=1))
    await run_through(app, clock, later, later + timedelta(hours=1))

    result = await app[STATS].refresher.refresh()
    assert result.judged == 2
    status, body = await calendar.api.as_(await calendar.token("leader")).get(
        "/api/stats/online-share?from=2026-01-01&to=2026-01-31&group_by=month"
    )
    assert status == 200, body
    january = body["groups"][0]
    assert (january["held"], january["declared_online"], january["verified_online"]) == (2, 2, 1)
    # P's two sites attended; of Q's, only central.
    assert january["attendance_rate"] == 0.75
