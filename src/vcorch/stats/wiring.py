"""Wires the online-share statistics: kept by every register write, refreshed by the leader."""

from __future__ import annotations

from vcorch.attendance import AttendancePolicy
from vcorch.booking import BookingService
from vcorch.monitoring import Metrics
from vcorch.runtime import Runtime
from vcorch.stats.routes import STATS
from vcorch.stats.service import StatsService, stats_policy

__all__ = ["setup"]


def setup(
    runtime: Runtime,
    *,
    booking: BookingService,
    attendance: AttendancePolicy,
    builtin_bridges: frozenset[str],
    metrics: Metrics,
) -> StatsService:
    settings = runtime.settings
    stats = StatsService(
        runtime.sessions,
        stats_policy(settings, attendance, builtin_bridges),
        runtime.clock,
        gauge=metrics,
    )
    # Every write to the register keeps the per-occurrence table, in the same transaction;
    # the leader judges verification from the bridges' records and refreshes the summary.
    booking.add_listener(stats.listener)
    runtime.leader_work.append(stats.run_forever)
    runtime.provide(STATS, stats)
    return stats
