"""Attendance as a service: reports, manual entries, headcounts, roster, check-ins, links.

Scope follows the meeting register: a meeting is seen when it is visible to the caller
(``BookingService.visible_to``); a write about one site needs that site's unit in the
caller's subtree, or (admins and secretariats) the organising unit there.  Every write is
audited in its own transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.attendance import schemas
from vcorch.attendance.links import CheckInClaims, CheckInLinks, qr_svg
from vcorch.attendance.loader import (
    OccurrenceRef,
    Place,
    load_occurrences,
)
from vcorch.attendance.models import CheckIn, Headcount, ManualEntry, RosterEntry
from vcorch.attendance.outcome import STATUSES, AttendancePolicy, Status
from vcorch.attendance.polling import record_poll
from vcorch.attendance.report import OccurrenceReport, build_report
from vcorch.auth import audit
from vcorch.auth.principal import Actor, Principal, Role
from vcorch.booking.models import Meeting, MeetingOccurrence, MeetingSite
from vcorch.booking.recurrence import occurrence_key_text
from vcorch.booking.service import BookingService
from vcorch.errors import Conflict, FieldProblem, InvalidInput, NotFound, PermissionDenied
from vcorch.mcu_adapter.base import Participant
from vcorch.orchestration.models import MeetingRun, RunSite
from vcorch.rooms.models import Room, Unit
from vcorch.text import fold

# How early before its start an occurrence counts as "the current one" for writes, and how
# early people may check themselves in.
LEAD = timedelta(hours=1)
MAX_ENTRY = timedelta(hours=24)
MAX_SELF_CHECKINS = 5000
MAX_PERIOD_DAYS = 366
# Meetings in these states were never held.
NOT_HELD = ("cancelled", "draft")
RANK: dict[Status, int] = {status: index for index, status in enumerate(STATUSES)}


def parse_key(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def person_key(full_name: str, unit_name: str | None) -> str:
    return f"{' '.join(fold(full_name).split())}|{' '.join(fold(unit_name or '').split())}"[:600]


def checkin_view(row: CheckIn) -> dict[str, Any]:
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "occurrence": occurrence_key_text(row.occurrence_key),
        "room_id": row.room_id,
        "roster_id": row.roster_id,
        "full_name": row.full_name,
        "unit_name": row.unit_name,
        "position": row.position,
        "method": row.method,
        "checked_in_at": row.checked_in_at.isoformat(),
    }


def entry_view(row: ManualEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "occurrence": occurrence_key_text(row.occurrence_key),
        "room_id": row.room_id,
        "channel": row.channel,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat(),
        "note": row.note,
        "retracted_at": row.retracted_at.isoformat() if row.retracted_at else None,
    }


def roster_view(row: RosterEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "full_name": row.full_name,
        "unit_name": row.unit_name,
        "position": row.position,
        "room_id": row.room_id,
    }


@dataclass(frozen=True)
class MeetingAttendance:
    report: OccurrenceReport
    zone: str


@dataclass(frozen=True)
class UnitTally:
    unit_id: int
    code: str
    name: str
    path: str
    invited: int
    attended: int
    by_status: dict[Status, int]

    @property
    def rate(self) -> float:
        return self.attended / self.invited if self.invited else 0.0


@dataclass(frozen=True)
class UnitAttendance:
    unit: UnitTally
    items: list[UnitTally]
    start: date
    end: date
    zone: str


@dataclass(frozen=True)
class IssuedLink:
    url: str
    token: str
    occurrence_key: datetime
    room_id: int | None
    expires_at: datetime
    qr_svg: str


@dataclass(frozen=True)
class LinkPage:
    """What the public check-in page shows about its link."""

    claims: CheckInClaims
    title: str
    start: datetime
    end: datetime
    zone: str
    room_name: str | None


class AttendanceService:
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

    # -- the orchestrator's poll sink ------------------------------------------------------

    async def record_poll(
        self,
        run_id: int,
        bridge: str,
        conference_id: str,
        participants: Sequence[Participant],
        at: datetime,
    ) -> None:
        """``OrchestrationPolicy``'s ``on_poll``: fills gaps from a polled participant list."""
        await record_poll(self._sessions, run_id, bridge, conference_id, participants, at)

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
                return _ref(meeting, row)
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
                    return _ref(meeting, row)
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
        return _ref(meeting, row)

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
        return _tally(unit, units, reports, first, last, zone)

    async def _held_occurrences(
        self, session: AsyncSession, rooms: set[int], low: datetime, high: datetime
    ) -> list[OccurrenceRef]:
        """Occurrences started in ``[low, high)`` of held meetings where one of ``rooms``
        is (or may be, through a per-occurrence change) a site."""
        if not rooms or high <= low:
            return []
        room_list = sorted(rooms)
        booked = select(MeetingSite.meeting_id).where(MeetingSite.room_id.in_(room_list))
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
        return [_ref(meeting, occurrence) for occurrence, meeting in rows]

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

    # -- manual entries --------------------------------------------------------------------

    async def add_entry(
        self, actor: Actor, meeting_id: int, data: schemas.EntryCreate
    ) -> ManualEntry:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            ref = await self._occurrence(
                session, meeting, parse_key(data.occurrence), prefer_run=False
            )
            _not_cancelled(ref)
            place = await self._site(session, actor, meeting, ref, data.room_id)
            run = await self._run(session, meeting.id, ref.key)
            start = data.start or (run.start_at if run else ref.start)
            end = data.end or ((run.ended_at or run.end_at) if run else ref.end)
            problems = []
            if end <= start:
                problems.append(FieldProblem("end", "must be after start"))
            elif end - start > MAX_ENTRY:
                problems.append(FieldProblem("end", "an entry covers at most 24 hours"))
            if problems:
                raise InvalidInput("the entry's times are refused", problems=problems)
            row = ManualEntry(
                meeting_id=meeting.id,
                occurrence_key=ref.key,
                room_id=place.room_id,
                channel=data.channel,
                start_at=start.astimezone(UTC),
                end_at=end.astimezone(UTC),
                note=data.note,
                created_by=actor.principal.label,
                created_at=self._clock(),
            )
            session.add(row)
            await session.flush()
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="create",
                entity="attendance_entry",
                entity_id=row.id,
                unit_path=place.unit_path,
                after=entry_view(row),
            )
            return row

    async def list_entries(
        self, who: Principal, meeting_id: int, occurrence: str | None
    ) -> list[ManualEntry]:
        async with self._sessions() as session:
            meeting = await self._meeting(session, who, meeting_id)
            ref = await self._occurrence(session, meeting, parse_key(occurrence), prefer_run=True)
            return list(
                (
                    await session.execute(
                        select(ManualEntry)
                        .where(
                            ManualEntry.meeting_id == meeting.id,
                            ManualEntry.occurrence_key == ref.key,
                        )
                        .order_by(ManualEntry.id)
                    )
                ).scalars()
            )

    async def retract_entry(self, actor: Actor, meeting_id: int, entry_id: int) -> ManualEntry:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            row = await session.get(ManualEntry, entry_id)
            if row is None or row.meeting_id != meeting.id:
                raise NotFound("no such attendance entry")
            ref = await self._occurrence(session, meeting, row.occurrence_key, prefer_run=False)
            place = await self._site(session, actor, meeting, ref, row.room_id)
            if row.retracted_at is not None:
                return row
            before = entry_view(row)
            row.retracted_at = self._clock()
            row.retracted_by = actor.principal.label
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="retract",
                entity="attendance_entry",
                entity_id=row.id,
                unit_path=place.unit_path,
                before=before,
                after=entry_view(row),
            )
            return row

    # -- headcounts ------------------------------------------------------------------------

    async def set_headcount(
        self, actor: Actor, meeting_id: int, data: schemas.HeadcountSet
    ) -> Headcount:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            ref = await self._occurrence(
                session, meeting, parse_key(data.occurrence), prefer_run=False
            )
            _not_cancelled(ref)
            place = await self._site(session, actor, meeting, ref, data.room_id)
            row = (
                await session.execute(
                    select(Headcount).where(
                        Headcount.meeting_id == meeting.id,
                        Headcount.occurrence_key == ref.key,
                        Headcount.room_id == place.room_id,
                    )
                )
            ).scalar_one_or_none()
            before = None
            if row is None:
                row = Headcount(
                    meeting_id=meeting.id, occurrence_key=ref.key, room_id=place.room_id
                )
                session.add(row)
            else:
                before = {"count": row.count, "reported_by": row.reported_by}
            row.count = data.count
            row.reported_by = actor.principal.label
            row.reported_at = self._clock()
            await session.flush()
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="update" if before else "create",
                entity="headcount",
                entity_id=row.id,
                unit_path=place.unit_path,
                before=before,
                after={
                    "meeting_id": meeting.id,
                    "occurrence": occurrence_key_text(ref.key),
                    "room_id": place.room_id,
                    "count": row.count,
                },
            )
            return row

    # -- roster ----------------------------------------------------------------------------

    async def roster(self, who: Principal, meeting_id: int) -> list[RosterEntry]:
        async with self._sessions() as session:
            meeting = await self._meeting(session, who, meeting_id)
            return await self._roster(session, meeting.id)

    async def add_to_roster(
        self, actor: Actor, meeting_id: int, data: schemas.RosterCreate
    ) -> list[RosterEntry]:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            if not await self._organises(session, actor.principal, meeting):
                raise PermissionDenied("only the organising unit's subtree keeps the roster")
            site_rooms = set(
                (
                    await session.execute(
                        select(MeetingSite.room_id).where(MeetingSite.meeting_id == meeting.id)
                    )
                ).scalars()
            )
            problems = [
                FieldProblem(f"people.{index}.room_id", "not a site of this meeting")
                for index, person in enumerate(data.people)
                if person.room_id is not None and person.room_id not in site_rooms
            ]
            if problems:
                raise InvalidInput("some rooms are not sites of this meeting", problems=problems)
            known = {row.person_key for row in await self._roster(session, meeting.id)}
            path = await self._organizer_path(session, meeting)
            for person in data.people:
                key = person_key(person.full_name, person.unit_name)
                if key in known:
                    continue  # the same person twice: kept once
                known.add(key)
                row = RosterEntry(
                    meeting_id=meeting.id,
                    full_name=person.full_name,
                    unit_name=person.unit_name,
                    position=person.position,
                    room_id=person.room_id,
                    person_key=key,
                    created_by=actor.principal.label,
                    created_at=self._clock(),
                )
                session.add(row)
                await session.flush()
                audit.record(
                    session,
                    actor,
                    at=self._clock(),
                    action="create",
                    entity="roster_entry",
                    entity_id=row.id,
                    unit_path=path,
                    after=roster_view(row),
                )
            return await self._roster(session, meeting.id)

    async def remove_from_roster(self, actor: Actor, meeting_id: int, person_id: int) -> None:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            if not await self._organises(session, actor.principal, meeting):
                raise PermissionDenied("only the organising unit's subtree keeps the roster")
            row = await session.get(RosterEntry, person_id)
            if row is None or row.meeting_id != meeting.id:
                raise NotFound("no such person on this roster")
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="delete",
                entity="roster_entry",
                entity_id=row.id,
                unit_path=await self._organizer_path(session, meeting),
                before=roster_view(row),
            )
            await session.delete(row)

    # -- check-ins -------------------------------------------------------------------------

    async def check_in(
        self, actor: Actor, meeting_id: int, data: schemas.CheckInCreate
    ) -> tuple[CheckIn, bool]:
        """An operator checks a person in at a site; returns the check-in and whether it
        is new (a person checked in already keeps the first check-in)."""
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            ref = await self._occurrence(
                session, meeting, parse_key(data.occurrence), prefer_run=False
            )
            _not_cancelled(ref)
            place = await self._site(session, actor, meeting, ref, data.room_id)
            full_name, unit_name, position = data.full_name, data.unit_name, data.position
            roster_row = None
            if data.roster_id is not None:
                roster_row = await session.get(RosterEntry, data.roster_id)
                if roster_row is None or roster_row.meeting_id != meeting.id:
                    raise InvalidInput(
                        "no such person on this meeting's roster",
                        problems=[FieldProblem("roster_id", "not on this meeting's roster")],
                    )
                full_name = full_name or roster_row.full_name
                unit_name = unit_name or roster_row.unit_name
                position = position or roster_row.position
            if not full_name:
                raise InvalidInput(
                    "whom to check in?",
                    problems=[FieldProblem("full_name", "required unless roster_id is given")],
                )
            return await self._insert_checkin(
                session,
                actor,
                meeting,
                ref,
                place.room_id,
                place.unit_path,
                full_name=full_name,
                unit_name=unit_name,
                position=position,
                method="operator",
                roster_row=roster_row,
            )

    async def _insert_checkin(
        self,
        session: AsyncSession,
        actor: Actor,
        meeting: Meeting,
        ref: OccurrenceRef,
        room_id: int | None,
        unit_path: str,
        *,
        full_name: str,
        unit_name: str | None,
        position: str | None,
        method: str,
        roster_row: RosterEntry | None = None,
    ) -> tuple[CheckIn, bool]:
        key = person_key(full_name, unit_name)
        existing = await self._existing_checkin(session, meeting.id, ref.key, key)
        if existing is not None:
            return existing, False
        if roster_row is None:
            roster_row = await self._roster_match(session, meeting.id, full_name, key)
        row = CheckIn(
            meeting_id=meeting.id,
            occurrence_key=ref.key,
            room_id=room_id,
            roster_id=roster_row.id if roster_row is not None else None,
            full_name=full_name,
            unit_name=unit_name,
            position=position,
            person_key=key,
            method=method,
            checked_in_at=self._clock(),
            recorded_by=actor.principal.label[:128],
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            # The same person checked in at the same moment elsewhere: theirs stands.
            existing = await self._existing_checkin(session, meeting.id, ref.key, key)
            if existing is None:
                raise
            return existing, False
        audit.record(
            session,
            actor,
            at=self._clock(),
            action="create",
            entity="checkin",
            entity_id=row.id,
            unit_path=unit_path,
            after=checkin_view(row),
        )
        return row, True

    @staticmethod
    async def _existing_checkin(
        session: AsyncSession, meeting_id: int, key: datetime, person: str
    ) -> CheckIn | None:
        return (
            await session.execute(
                select(CheckIn).where(
                    CheckIn.meeting_id == meeting_id,
                    CheckIn.occurrence_key == key,
                    CheckIn.person_key == person,
                )
            )
        ).scalar_one_or_none()

    async def _roster_match(
        self, session: AsyncSession, meeting_id: int, full_name: str, key: str
    ) -> RosterEntry | None:
        """The roster entry of this person: same name and unit, else the only one with the
        same name (people often leave the unit out)."""
        roster = await self._roster(session, meeting_id)
        exact = [row for row in roster if row.person_key == key]
        if exact:
            return exact[0]
        name = key.split("|", 1)[0]
        same_name = [row for row in roster if row.person_key.split("|", 1)[0] == name]
        return same_name[0] if len(same_name) == 1 else None

    async def list_checkins(
        self, who: Principal, meeting_id: int, occurrence: str | None
    ) -> list[CheckIn]:
        async with self._sessions() as session:
            meeting = await self._meeting(session, who, meeting_id)
            ref = await self._occurrence(session, meeting, parse_key(occurrence), prefer_run=True)
            return list(
                (
                    await session.execute(
                        select(CheckIn)
                        .where(CheckIn.meeting_id == meeting.id, CheckIn.occurrence_key == ref.key)
                        .order_by(CheckIn.checked_in_at, CheckIn.id)
                    )
                ).scalars()
            )

    async def remove_checkin(self, actor: Actor, meeting_id: int, checkin_id: int) -> None:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            row = await session.get(CheckIn, checkin_id)
            if row is None or row.meeting_id != meeting.id:
                raise NotFound("no such check-in")
            ref = await self._occurrence(session, meeting, row.occurrence_key, prefer_run=False)
            if row.room_id is not None:
                path = (await self._site(session, actor, meeting, ref, row.room_id)).unit_path
            elif await self._organises(session, actor.principal, meeting):
                path = await self._organizer_path(session, meeting)
            else:
                raise PermissionDenied("only the organising unit may remove this check-in")
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="delete",
                entity="checkin",
                entity_id=row.id,
                unit_path=path,
                before=checkin_view(row),
            )
            await session.delete(row)

    # -- self check-in ---------------------------------------------------------------------

    async def issue_link(
        self, actor: Actor, meeting_id: int, data: schemas.LinkCreate
    ) -> IssuedLink:
        now = self._clock()
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            if meeting.status in NOT_HELD:
                raise Conflict("the meeting is cancelled or a draft: nobody can check in")
            ref = await self._occurrence(
                session, meeting, parse_key(data.occurrence), prefer_run=False
            )
            _not_cancelled(ref)
            path = await self._organizer_path(session, meeting)
            if data.room_id is not None:
                path = (await self._site(session, actor, meeting, ref, data.room_id)).unit_path
            elif not await self._organises(session, actor.principal, meeting):
                raise PermissionDenied(
                    "name the site (room_id) the code will be shown at",
                    problems=[FieldProblem("room_id", "required outside the organising unit")],
                )
            run = await self._run(session, meeting.id, ref.key)
            end = run.end_at if run is not None else ref.end
            if data.valid_minutes is not None:
                expires = now + timedelta(minutes=data.valid_minutes)
            else:
                expires = max(end, now) + self._grace
            token = self._links.issue(meeting.id, ref.key, data.room_id, expires)
            audit.record(
                session,
                actor,
                at=now,
                action="create",
                entity="checkin_link",
                entity_id=meeting.id,
                unit_path=path,
                after={
                    "meeting_id": meeting.id,
                    "occurrence": occurrence_key_text(ref.key),
                    "room_id": data.room_id,
                    "expires_at": expires.isoformat(),
                },
            )
        url = self._links.url(token)
        return IssuedLink(
            url=url,
            token=token,
            occurrence_key=ref.key,
            room_id=data.room_id,
            # As signed (whole seconds, rounded up).
            expires_at=self._links.verify(token).expires_at,
            qr_svg=qr_svg(url),
        )

    def link_url(self, token: str) -> str:
        self._links.verify(token)
        return self._links.url(token)

    async def link_page(self, token: str) -> LinkPage:
        claims = self._links.verify(token)
        async with self._sessions() as session:
            meeting, ref = await self._claimed(session, claims)
            room = await session.get(Room, claims.room_id) if claims.room_id else None
            zone = await self._zone_of(session, meeting)
        return LinkPage(
            claims=claims,
            title=meeting.title,
            start=ref.start,
            end=ref.end,
            zone=zone,
            room_name=room.name if room is not None else None,
        )

    async def _claimed(
        self, session: AsyncSession, claims: CheckInClaims
    ) -> tuple[Meeting, OccurrenceRef]:
        meeting = await session.get(Meeting, claims.meeting_id)
        if meeting is None or meeting.status in NOT_HELD:
            raise NotFound("this meeting no longer takes check-ins")
        ref = await self._occurrence(session, meeting, claims.occurrence_key, prefer_run=False)
        if ref.cancelled:
            raise NotFound("this occurrence was cancelled")
        return meeting, ref

    async def self_check_in(
        self, token: str, data: schemas.SelfCheckInForm, address: str | None
    ) -> tuple[CheckIn, bool]:
        claims = self._links.verify(token)
        actor = Actor(
            Principal("user", 0, "self-check-in", Role.INTEGRATION, 0, "/"), address=address
        )
        async with self._sessions.begin() as session:
            meeting, ref = await self._claimed(session, claims)
            if self._clock() < ref.start - LEAD:
                raise Conflict("check-in opens an hour before the meeting starts")
            count = await session.scalar(
                select(func.count(CheckIn.id)).where(
                    CheckIn.meeting_id == meeting.id,
                    CheckIn.occurrence_key == ref.key,
                    CheckIn.method == "self",
                )
            )
            if (count or 0) >= MAX_SELF_CHECKINS:
                raise Conflict("this meeting has taken all the self check-ins it can")
            path = await self._organizer_path(session, meeting)
            if claims.room_id is not None:
                room = await session.get(Room, claims.room_id)
                unit = await session.get(Unit, room.unit_id) if room is not None else None
                path = unit.path if unit is not None else path
            return await self._insert_checkin(
                session,
                actor,
                meeting,
                ref,
                claims.room_id,
                path,
                full_name=data.full_name,
                unit_name=data.unit_name,
                position=data.position,
                method="self",
            )


def _not_cancelled(ref: OccurrenceRef) -> None:
    if ref.cancelled:
        raise Conflict(
            "this occurrence was cancelled: nothing can be recorded for it",
            problems=[FieldProblem("occurrence", "cancelled")],
        )


def _ref(meeting: Meeting, row: MeetingOccurrence) -> OccurrenceRef:
    return OccurrenceRef(
        meeting=meeting,
        key=row.occurrence_key,
        start=row.start_at,
        end=row.end_at,
        cancelled=row.cancelled,
        own_sites=row.own_sites,
    )


def _tally(
    top: Unit,
    units: dict[int, Unit],
    reports: list[OccurrenceReport],
    first: date,
    last: date,
    zone: str,
) -> UnitAttendance:
    """Per unit: an occurrence counts once however many of its rooms took part, with the
    best status among them; the subtree as a whole likewise."""
    best: dict[int, dict[tuple[int, datetime], Status]] = defaultdict(dict)
    whole: dict[tuple[int, datetime], Status] = {}
    for report in reports:
        occurrence = (report.data.meeting.id, report.data.ref.key)
        for site in report.sites:
            unit_id = site.place.unit_id
            if unit_id not in units:
                continue
            status = site.outcome.status
            known = best[unit_id].get(occurrence)
            if known is None or RANK[status] < RANK[known]:
                best[unit_id][occurrence] = status
            held = whole.get(occurrence)
            if held is None or RANK[status] < RANK[held]:
                whole[occurrence] = status

    def tally(unit: Unit, statuses: dict[tuple[int, datetime], Status]) -> UnitTally:
        counts = {status: 0 for status in STATUSES}
        for status in statuses.values():
            counts[status] += 1
        return UnitTally(
            unit_id=unit.id,
            code=unit.code,
            name=unit.name,
            path=unit.path,
            invited=len(statuses),
            attended=len(statuses) - counts["absent"],
            by_status=counts,
        )

    items = sorted(
        (tally(units[unit_id], statuses) for unit_id, statuses in best.items()),
        key=lambda row: row.path,
    )
    return UnitAttendance(tally(top, whole), items, first, last, zone)
