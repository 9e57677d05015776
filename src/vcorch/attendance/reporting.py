"""Attendance reports: one meeting's occurrence, and a unit's subtree over a period."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Principal
from vcorch.attendance.base import (
    MAX_PERIOD_DAYS,
    NOT_HELD,
    AttendanceBase,
    occurrence_ref,
)
from vcorch.attendance.loader import (
    OccurrenceRef,
    load_occurrences,
)
from vcorch.attendance.report import build_report
from vcorch.attendance.tally import MeetingAttendance, UnitAttendance, tally_units
from vcorch.attendance.views import parse_key
from vcorch.booking import ACCEPTED, Meeting, MeetingOccurrence, MeetingSite
from vcorch.errors import FieldProblem, InvalidInput, NotFound
from vcorch.orchestration import MeetingRun, RunSite
from vcorch.rooms import Room, Unit


class ReportsPart(AttendanceBase):
    # -- reports ---------------------------------------------------------------------------

    async def meeting_report(
        self, who: Principal, meeting_id: int, occurrence: str | None
    ) -> MeetingAttendance:
        now = self._clock()
        async with self._sessions() as session:
            meeting = await self._meeting(session, who, meeting_id)
            ref = await self._occurrence(session, meeting, parse_key(occurrence), prefer_run=True)
            [data] = await load_occurrences(session, [ref], now)
            roster = await self._roster(session, meeting.id)
            zone = await self._zone_of(session, meeting)
        report = build_report(
            data, policy=self.policy, now=now, builtin_bridges=self._builtin, roster=roster
        )
        return MeetingAttendance(report, zone)

    async def unit_report(
        self, who: Principal, unit_id: int | None, first: date, last: date
    ) -> UnitAttendance:
        if last < first:
            raise InvalidInput(
                "the period ends before it starts",
                problems=[FieldProblem("to", "must not be before from")],
            )
        if (last - first).days >= MAX_PERIOD_DAYS:
            raise InvalidInput(
                "the period is too long",
                problems=[FieldProblem("to", f"at most {MAX_PERIOD_DAYS} days from 'from'")],
            )
        now = self._clock()
        async with self._sessions() as session:
            unit = await session.get(Unit, unit_id if unit_id is not None else who.unit_id)
            if unit is None or not who.sees(unit.path):
                raise NotFound(
                    "no such unit", problems=[FieldProblem("unit", "no such unit in your scope")]
                )
            zone = unit.timezone or self._zone
            tz = ZoneInfo(zone)
            low = datetime.combine(first, time(0), tz).astimezone(UTC)
            high = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC)
            units = {
                u.id: u
                for u in (
                    await session.execute(select(Unit).where(Unit.path.startswith(unit.path)))
                ).scalars()
            }
            room_unit = dict(
                (
                    await session.execute(
                        select(Room.id, Room.unit_id).where(Room.unit_id.in_(list(units)))
                    )
                ).all()
            )
            refs = await self._held_occurrences(session, set(room_unit), low, min(high, now))
            data = await load_occurrences(session, refs, now)
        reports = [
            build_report(item, policy=self.policy, now=now, builtin_bridges=self._builtin)
            for item in data
        ]
        return tally_units(unit, units, reports, first, last, zone)

    async def _held_occurrences(
        self, session: AsyncSession, rooms: set[int], low: datetime, high: datetime
    ) -> list[OccurrenceRef]:
        """Occurrences started in ``[low, high)`` of held meetings where one of ``rooms``
        is (or may be, through a per-occurrence change) a site."""
        if not rooms or high <= low:
            return []
        room_list = sorted(rooms)
        booked = select(MeetingSite.meeting_id).where(
            MeetingSite.room_id.in_(room_list), MeetingSite.approval == ACCEPTED
        )
        launched = (
            select(MeetingRun.meeting_id)
            .join(RunSite, RunSite.run_id == MeetingRun.id)
            .where(RunSite.room_id.in_(room_list))
        )
        rows = (
            await session.execute(
                select(MeetingOccurrence, Meeting)
                .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
                .where(
                    MeetingOccurrence.start_at >= low,
                    MeetingOccurrence.start_at < high,
                    MeetingOccurrence.cancelled.is_(False),
                    Meeting.status.not_in(NOT_HELD),
                    or_(
                        Meeting.id.in_(booked),
                        Meeting.id.in_(launched),
                        MeetingOccurrence.own_sites.is_(True),
                    ),
                )
                .order_by(MeetingOccurrence.start_at, MeetingOccurrence.id)
            )
        ).all()
        return [occurrence_ref(meeting, occurrence) for occurrence, meeting in rows]
