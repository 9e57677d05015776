"""Wires attendance: reports, check-ins and the signed self check-in links."""

from __future__ import annotations

from datetime import timedelta

from vcorch.attendance.links import CheckInLinks, derive_secret
from vcorch.attendance.outcome import AttendancePolicy
from vcorch.attendance.routes import ATTENDANCE
from vcorch.attendance.service import AttendanceService
from vcorch.config import Settings
from vcorch.runtime import Runtime

__all__ = ["attendance_policy", "setup"]


def attendance_policy(settings: Settings) -> AttendancePolicy:
    return AttendancePolicy(
        late_after=timedelta(minutes=settings.attendance_late_after_minutes),
        left_early=timedelta(minutes=settings.attendance_left_early_minutes),
        present_share=settings.attendance_present_share,
        reconnect_grace=timedelta(seconds=settings.attendance_reconnect_grace_seconds),
    )


def setup(runtime: Runtime, *, builtin_bridges: frozenset[str]) -> AttendanceService:
    settings = runtime.settings
    attendance = AttendanceService(
        runtime.sessions,
        policy=attendance_policy(settings),
        links=CheckInLinks(derive_secret(runtime.signing_key), settings.public_url, runtime.clock),
        default_zone=settings.timezone,
        clock=runtime.clock,
        checkin_grace=timedelta(minutes=settings.attendance_checkin_grace_minutes),
        builtin_bridges=builtin_bridges,
    )
    runtime.provide(ATTENDANCE, attendance)
    return attendance
