"""What every part of the attendance service shares: the settings and the lookups.

Scope follows the meeting register: a meeting is seen when it is visible to the caller
(``BookingService.visible_to``); a write about one site needs that site's unit in the
caller's subtree, or (admins and secretariats) the organising unit there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, Principal, Role
from vcorch.attendance.links import CheckInLinks
from vcorch.attendance.loader import (
    OccurrenceRef,
    Place,
    load_occurrences,
)
from vcorch.attendance.models import RosterEntry
from vcorch.attendance.outcome import AttendancePolicy
from vcorch.booking import BookingService, Meeting, MeetingOccurrence
from vcorch.errors import Conflict, FieldProblem, InvalidInput, NotFound, PermissionDenied
from vcorch.orchestration import MeetingRun
from vcorch.rooms import Unit

# How early before its start an occurrence counts as "the current one" for writes, and how
# early people may check themselves in.
LEAD = timedelta(hours=1)
MAX_ENTRY = timedelta(hours=24)
MAX_SELF_CHECKINS = 5000
MAX_PERIOD_DAYS = 366
# Meetings in these states were never held.
NOT_HELD = ("cancelled", "draft")


class AttendanceBase:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        policy: AttendancePolicy,
        links: CheckInLinks,
        default_zone: str,
        clock: Callable[[], datetime],
        checkin_grace: timedelta = timedelta(hours=2),
        builtin_bridges: frozenset[str] = frozenset(),
    ) -> None:
        self._sessions = sessions
        self.policy = policy
        self._links = links
        self._zone = default_zone
        self._clock = clock
        self._grace = checkin_grace
        self._builtin = builtin_bridges

    # -- lookups ---------------------------------------------------------------------------

    async def _meeting(self, session: AsyncSession, who: Principal, meeting_id: int) -> Meeting:
        meeting = (
            await session.execute(
                select(Meeting).where(Meeting.id == meeting_id, BookingService.visible_to(who))
            )
        ).scalar_one_or_none()
        if meeting is None:
            raise NotFound("no such meeting")
        return meeting

    async def _occurrence(
        self,
        session: AsyncSession,
        meeting: Meeting,
        key: datetime | None,
        *,
        prefer_run: bool,
    ) -> OccurrenceRef:
        """The occurrence named, or by default the latest run's (reports) or the latest one
        started, an hour's lead included (writes)."""
        base = select(MeetingOccurrence).where(MeetingOccurrence.meeting_id == meeting.id)
        if key is not None:
            row = (
                await session.execute(base.where(MeetingOccurrence.occurrence_key == key))
            ).scalar_one_or_none()
            if row is not None:
                return occurrence_ref(meeting, row)
            run = await self._run(session, meeting.id, key)
            if run is not None:
                return OccurrenceRef(meeting, key, run.start_at, run.end_at)
            raise NotFound(
                "no such occurrence of this meeting",
                problems=[FieldProblem("occurrence", "not an occurrence of this meeting")],
            )
        if prefer_run:
            run = (
                await session.execute(
                    select(MeetingRun)
                    .where(MeetingRun.meeting_id == meeting.id)
                    .order_by(MeetingRun.start_at.desc(), MeetingRun.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if run is not None:
                row = (
                    await session.execute(
                        base.where(MeetingOccurrence.occurrence_key == run.occurrence_key)
                    )
                ).scalar_one_or_none()
                if row is not None:
                    return occurrence_ref(meeting, row)
                return OccurrenceRef(meeting, run.occurrence_key, run.start_at, run.end_at)
        live = base.where(MeetingOccurrence.cancelled.is_(False))
        row = (
            await session.execute(
                live.where(MeetingOccurrence.start_at <= self._clock() + LEAD)
                .order_by(MeetingOccurrence.start_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            row = (
                await session.execute(live.order_by(MeetingOccurrence.start_at).limit(1))
            ).scalar_one_or_none()
        if row is None:
            raise NotFound("this meeting has no occurrence")
        return occurrence_ref(meeting, row)

    @staticmethod
    async def _run(session: AsyncSession, meeting_id: int, key: datetime) -> MeetingRun | None:
        return (
            await session.execute(
                select(MeetingRun).where(
                    MeetingRun.meeting_id == meeting_id, MeetingRun.occurrence_key == key
                )
            )
        ).scalar_one_or_none()

    async def _zone_of(self, session: AsyncSession, meeting: Meeting) -> str:
        organizer = await session.get(Unit, meeting.organizer_unit_id)
        if organizer is not None and organizer.timezone:
            return organizer.timezone
        return meeting.timezone or self._zone

    async def _site(
        self,
        session: AsyncSession,
        actor: Actor,
        meeting: Meeting,
        ref: OccurrenceRef,
        room_id: int,
    ) -> Place:
        """The occurrence's site in ``room_id``, if the caller may write about it."""
        [data] = await load_occurrences(session, [ref], self._clock(), details=False)
        place = next((p for p in data.places if p.room_id == room_id), None)
        if place is None:
            raise InvalidInput(
                "the room is not a site of this occurrence",
                problems=[FieldProblem("room_id", "not a site of this occurrence")],
            )
        who = actor.principal
        if who.sees(place.unit_path):
            return place
        if who.role in (Role.ADMIN, Role.SECRETARIAT) and await self._organises(
            session, who, meeting
        ):
            return place
        raise PermissionDenied(
            "this site is outside your unit",
            problems=[FieldProblem("room_id", "outside your unit")],
        )

    @staticmethod
    async def _organises(session: AsyncSession, who: Principal, meeting: Meeting) -> bool:
        organizer = await session.get(Unit, meeting.organizer_unit_id)
        return organizer is not None and who.sees(organizer.path)

    async def _organizer_path(self, session: AsyncSession, meeting: Meeting) -> str:
        organizer = await session.get(Unit, meeting.organizer_unit_id)
        return organizer.path if organizer is not None else "/"

    async def _roster(self, session: AsyncSession, meeting_id: int) -> list[RosterEntry]:
        return list(
            (
                await session.execute(
                    select(RosterEntry)
                    .where(RosterEntry.meeting_id == meeting_id)
                    .order_by(RosterEntry.id)
                )
            ).scalars()
        )


def not_cancelled(ref: OccurrenceRef) -> None:
    if ref.cancelled:
        raise Conflict(
            "this occurrence was cancelled: nothing can be recorded for it",
            problems=[FieldProblem("occurrence", "cancelled")],
        )


def occurrence_ref(meeting: Meeting, row: MeetingOccurrence) -> OccurrenceRef:
    return OccurrenceRef(
        meeting=meeting,
        key=row.occurrence_key,
        start=row.start_at,
        end=row.end_at,
        cancelled=row.cancelled,
        own_sites=row.own_sites,
    )
