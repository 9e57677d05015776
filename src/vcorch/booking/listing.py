"""Who sees which meetings, and reading them: one, a filtered page, occurrences, the feed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Principal, Role
from vcorch.booking import schemas
from vcorch.booking.models import (
    Meeting,
    MeetingChange,
    MeetingOccurrence,
    MeetingOverride,
    MeetingSite,
)
from vcorch.booking.policy import ACCEPTED, BookingPolicy
from vcorch.booking.recurrence import Occurrence, between
from vcorch.booking.series import series_of
from vcorch.booking.views import MeetingRecord
from vcorch.errors import FieldProblem, InvalidInput, NotFound
from vcorch.rooms import Room, Unit
from vcorch.text import search_blob


def visible_to(who: Principal) -> ColumnElement[bool]:
    """A meeting is visible when organised in the caller's subtree or with a site there;
    operators see the meetings their rooms take part in."""
    units = select(Unit.id).where(Unit.path.startswith(who.unit_path))
    # A request for a room is not a site yet: the room's unit sees it in its request list
    # (what deciding needs), not the meeting.
    site_meetings = (
        select(MeetingSite.meeting_id)
        .join(Room, MeetingSite.room_id == Room.id)
        .where(Room.unit_id.in_(units), MeetingSite.approval == ACCEPTED)
    )
    if who.role is Role.OPERATOR:
        return Meeting.id.in_(site_meetings)
    return or_(Meeting.organizer_unit_id.in_(units), Meeting.id.in_(site_meetings))


async def load_record(session: AsyncSession, who: Principal, meeting_id: int) -> MeetingRecord:
    meeting = (
        await session.execute(select(Meeting).where(Meeting.id == meeting_id, visible_to(who)))
    ).scalar_one_or_none()
    if meeting is None:
        raise NotFound("no such meeting")
    sites = list(
        (
            await session.execute(select(MeetingSite).where(MeetingSite.meeting_id == meeting.id))
        ).scalars()
    )
    return MeetingRecord(meeting, sites)


Statement = TypeVar("Statement", bound=Select[*tuple[Any, ...]])


async def _filtered(
    session: AsyncSession,
    stmt: Statement,
    who: Principal,
    query: schemas.MeetingQuery | schemas.CalendarQuery,
) -> Statement:
    """``stmt`` narrowed to the meetings ``who`` may see and ``query``'s filters."""
    stmt = stmt.where(visible_to(who))
    if query.unit is not None:
        unit = await session.get(Unit, query.unit)
        if unit is None or not who.sees(unit.path):
            raise NotFound("no such unit")
        stmt = stmt.where(
            Meeting.organizer_unit_id.in_(select(Unit.id).where(Unit.path.startswith(unit.path)))
        )
    for column, value in (
        (Meeting.kind, query.kind),
        (Meeting.mode, query.mode),
        (Meeting.status, query.status),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.site is not None:
        stmt = stmt.where(
            Meeting.id.in_(select(MeetingSite.meeting_id).where(MeetingSite.room_id == query.site))
        )
    if query.q:
        stmt = stmt.where(Meeting.search_text.contains(search_blob(query.q), autoescape=True))
    return stmt


async def list_meetings(
    session: AsyncSession, who: Principal, query: schemas.MeetingQuery, after: int | None
) -> tuple[list[MeetingRecord], int | None]:
    stmt = select(Meeting)
    if query.from_ is not None:
        stmt = stmt.where(or_(Meeting.series_end.is_(None), Meeting.series_end > query.from_))
    if query.to is not None:
        stmt = stmt.where(Meeting.series_start < query.to)
    stmt = await _filtered(session, stmt, who, query)
    if after is not None:
        stmt = stmt.where(Meeting.id > after)
    meetings = list(
        (await session.execute(stmt.order_by(Meeting.id).limit(query.limit + 1))).scalars()
    )
    more = len(meetings) > query.limit
    meetings = meetings[: query.limit]
    by_meeting: dict[int, list[MeetingSite]] = defaultdict(list)
    if meetings:
        rows = await session.execute(
            select(MeetingSite).where(MeetingSite.meeting_id.in_([m.id for m in meetings]))
        )
        for site in rows.scalars():
            by_meeting[site.meeting_id].append(site)
    records = [MeetingRecord(m, by_meeting[m.id]) for m in meetings]
    return records, (meetings[-1].id if more and meetings else None)


CALENDAR_WINDOW = timedelta(days=100)


@dataclass(frozen=True)
class CalendarEntry:
    """One stored occurrence in a window, with its meeting, organiser and site count."""

    occurrence: MeetingOccurrence
    meeting: Meeting
    organizer_unit_name: str
    site_count: int


async def calendar(
    session: AsyncSession, who: Principal, query: schemas.CalendarQuery, after: int | None
) -> tuple[list[CalendarEntry], int | None]:
    """The stored occurrences overlapping ``[from, to)`` of the meetings ``who`` may see,
    by occurrence id (the cursor); at most 100 days, so one page stays bounded."""
    if query.to <= query.from_:
        raise InvalidInput("empty window", problems=[FieldProblem("to", "must be after from")])
    if query.to - query.from_ > CALENDAR_WINDOW:
        raise InvalidInput(
            "window too long", problems=[FieldProblem("to", "at most 100 days after from")]
        )
    stmt = (
        select(MeetingOccurrence, Meeting, Unit.name)
        .join(Meeting, MeetingOccurrence.meeting_id == Meeting.id)
        .join(Unit, Meeting.organizer_unit_id == Unit.id)
        .where(MeetingOccurrence.start_at < query.to, MeetingOccurrence.end_at > query.from_)
    )
    if not query.cancelled:
        stmt = stmt.where(MeetingOccurrence.cancelled.is_(False), Meeting.status != "cancelled")
    stmt = await _filtered(session, stmt, who, query)
    if after is not None:
        stmt = stmt.where(MeetingOccurrence.id > after)
    rows = list(
        (await session.execute(stmt.order_by(MeetingOccurrence.id).limit(query.limit + 1))).all()
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    counts: dict[int, int] = {}
    meeting_ids = sorted({meeting.id for _occ, meeting, _name in rows})
    if meeting_ids:
        counted = await session.execute(
            select(MeetingSite.meeting_id, func.count())
            .where(MeetingSite.meeting_id.in_(meeting_ids), MeetingSite.approval == ACCEPTED)
            .group_by(MeetingSite.meeting_id)
        )
        counts = {meeting_id: int(n) for meeting_id, n in counted.all()}
    entries = [
        CalendarEntry(occ, meeting, name, counts.get(meeting.id, 0)) for occ, meeting, name in rows
    ]
    return entries, (rows[-1][0].id if more and rows else None)


async def changes(
    session: AsyncSession, who: Principal, since: int, limit: int
) -> tuple[list[MeetingChange], int]:
    visible = select(Meeting.id).where(visible_to(who))
    rows = list(
        (
            await session.execute(
                select(MeetingChange)
                .where(MeetingChange.id > since, MeetingChange.meeting_id.in_(visible))
                .order_by(MeetingChange.id)
                .limit(limit)
            )
        ).scalars()
    )
    # With nothing new the cursor stays where it was: polling it again is cheap.
    return rows, rows[-1].id if rows else since


async def occurrences(
    session: AsyncSession,
    policy: BookingPolicy,
    who: Principal,
    meeting_id: int,
    start: datetime,
    end: datetime,
) -> tuple[MeetingRecord, list[tuple[Occurrence, list[dict[str, Any]]]]]:
    """One meeting's occurrences in a window, each with the sites it actually has."""
    record = await load_record(session, who, meeting_id)
    overrides = list(
        (
            await session.execute(
                select(MeetingOverride).where(MeetingOverride.meeting_id == meeting_id)
            )
        ).scalars()
    )
    by_key = {o.occurrence_key: o for o in overrides}
    series = series_of(record.meeting, overrides, policy)
    default_sites = [
        {
            "site_id": s.id,
            "room_id": s.room_id,
            "endpoint_id": s.endpoint_id,
            "contacts": list(s.contacts or []),
            "approval": s.approval,
        }
        for s in record.sites
    ]
    found = []
    for occ in between(series, start, end, include_cancelled=True):
        sites = (
            list(by_key[occ.key].sites or [])
            if occ.site_ids is not None and occ.key in by_key
            else default_sites
        )
        found.append((occ, sites))
    return record, found
