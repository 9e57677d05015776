"""Wires the scheduler: its jobs and supervision loop, run by the one leader of the processes."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from vcorch.booking import BookingService
from vcorch.config import Settings
from vcorch.mcu_adapter import BridgeHealthCoordinator
from vcorch.orchestration import Orchestrator
from vcorch.runtime import Runtime
from vcorch.scheduler.leader import Leadership
from vcorch.scheduler.planning import SchedulePolicy
from vcorch.scheduler.routes import LEADERSHIP, SCHEDULER
from vcorch.scheduler.service import LagMetric, ProbeEndpoints, SchedulerService

__all__ = ["process_identity", "schedule_policy", "setup"]


def process_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def schedule_policy(settings: Settings) -> SchedulePolicy:
    return SchedulePolicy(
        reminder_offsets=tuple(timedelta(minutes=m) for m in settings.reminder_offsets_minutes),
        preflight_before=timedelta(minutes=settings.preflight_before_minutes),
        launch_before=timedelta(minutes=settings.launch_before_minutes),
        end_warning_before=timedelta(minutes=settings.end_warning_minutes),
        launch_grace=timedelta(minutes=settings.launch_grace_minutes),
    )


def setup(
    runtime: Runtime,
    *,
    orchestrator: Orchestrator,
    bridge_health: BridgeHealthCoordinator,
    booking: BookingService,
    probe: ProbeEndpoints,
    metrics: LagMetric,
) -> SchedulerService:
    settings = runtime.settings
    scheduler = SchedulerService(
        runtime.sessions,
        orchestrator,
        bridge_health,
        runtime.clock,
        schedule_policy(settings),
        identity=process_identity(),
        horizon=timedelta(minutes=settings.scheduler_horizon_minutes),
        sync_seconds=settings.scheduler_sync_seconds,
        supervise_seconds=settings.supervise_seconds,
        metrics=metrics,
        roll_horizon=booking.roll_horizon,
        probe=probe,
    )
    runtime.provide(SCHEDULER, scheduler)
    booking.add_listener(scheduler)
    runtime.leader_work.extend((scheduler.run_forever, scheduler.supervise_forever))
    leadership = Leadership(
        runtime.engine, scheduler.identity, check_seconds=settings.leader_check_seconds
    )
    runtime.provide(LEADERSHIP, leadership)
    # Runs last: by then every package has added its share of the leader's work.
    runtime.process_work["leader-election"] = lambda: leadership.run(runtime.leader_work)
    return scheduler
