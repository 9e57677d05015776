"""Calendar exports: one meeting as .ics, and a unit's revocable calendar feed."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, Principal, Role, audit
from vcorch.booking import BookingService, Meeting, MeetingSite
from vcorch.calendars.ical import IcsEvent, build_calendar
from vcorch.calendars.invitations import MailPolicy, meeting_events
from vcorch.calendars.models import CalendarFeedToken
from vcorch.errors import FieldProblem, InvalidInput, NotFound, PermissionDenied
from vcorch.rooms import Unit

log = logging.getLogger(__name__)

FEED_PAST = timedelta(days=60)
FEED_FUTURE = timedelta(days=400)
FEED_LIMIT = 2000


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class CalendarService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        booking: BookingService,
        policy: MailPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._booking = booking
        self._policy = policy
        self._clock = clock

    async def meeting_ics(self, who: Principal, meeting_id: int) -> bytes:
        record = await self._booking.get(who, meeting_id)
        async with self._sessions() as session:
            events = await meeting_events(session, record.meeting, record.sites, self._policy)
        return build_calendar(events, method="PUBLISH")

    async def create_token(
        self, actor: Actor, unit_id: int, label: str | None
    ) -> tuple[CalendarFeedToken, str, str]:
        token = secrets.token_urlsafe(32)
        async with self._sessions.begin() as session:
            unit = await session.get(Unit, unit_id)
            if unit is None:
                raise InvalidInput(
                    "unknown unit", problems=[FieldProblem("unit_id", "no such unit")]
                )
            if not actor.principal.sees(unit.path):
                raise PermissionDenied(
                    "outside your scope",
                    problems=[FieldProblem("unit_id", "outside your unit scope")],
                )
            row = CalendarFeedToken(
                unit_id=unit.id,
                token_hash=_hash(token),
                label=label,
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
                entity="calendar_token",
                entity_id=row.id,
                unit_path=unit.path,
                after={"unit_id": unit.id, "label": label},
            )
            return row, token, unit.code

    async def revoke_token(self, actor: Actor, token_id: int) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(CalendarFeedToken, token_id)
            unit = await session.get(Unit, row.unit_id) if row else None
            if row is None or unit is None or not actor.principal.sees(unit.path):
                raise NotFound("no such feed token")
            if row.revoked_at is None:
                row.revoked_at = self._clock()
                audit.record(
                    session,
                    actor,
                    at=self._clock(),
                    action="revoke",
                    entity="calendar_token",
                    entity_id=row.id,
                    unit_path=unit.path,
                    before={"revoked": False},
                    after={"revoked": True},
                )

    async def unit_feed(self, unit_code: str, token: str) -> bytes:
        """The unit's calendar: meetings it organises or joins, 60 days back to 400 ahead."""
        async with self._sessions() as session:
            unit = (
                await session.execute(select(Unit).where(Unit.code == unit_code))
            ).scalar_one_or_none()
            row = (
                await session.execute(
                    select(CalendarFeedToken).where(CalendarFeedToken.token_hash == _hash(token))
                )
            ).scalar_one_or_none()
            # One answer for every failure: a feed URL reveals nothing by its errors.
            if unit is None or row is None or row.revoked_at is not None or row.unit_id != unit.id:
                raise NotFound("no such calendar feed")
            reader = Principal("client", 0, f"feed:{row.id}", Role.INTEGRATION, unit.id, unit.path)
            now = self._clock()
            meetings = list(
                (
                    await session.execute(
                        select(Meeting)
                        .where(
                            BookingService.visible_to(reader),
                            Meeting.status != "draft",
                            Meeting.series_start < now + FEED_FUTURE,
                            or_(Meeting.series_end.is_(None), Meeting.series_end > now - FEED_PAST),
                        )
                        .order_by(Meeting.series_start)
                        .limit(FEED_LIMIT)
                    )
                ).scalars()
            )
            groups: list[tuple[int, list[IcsEvent]]] = []
            for meeting in meetings:
                sites = list(
                    (
                        await session.execute(
                            select(MeetingSite).where(MeetingSite.meeting_id == meeting.id)
                        )
                    ).scalars()
                )
                try:
                    events = await meeting_events(session, meeting, sites, self._policy)
                except _RENDER_ERRORS as err:
                    log.error("feed %s: meeting %s left out: %s", unit.code, meeting.id, err)
                    continue
                groups.append((meeting.id, events))
        return render_skipping_bad(groups, f"Lịch họp — {unit.name}")


_RENDER_ERRORS = (InvalidInput, ValueError, OverflowError)


def render_skipping_bad(groups: Sequence[tuple[int, list[IcsEvent]]], name: str) -> bytes:
    """One calendar of every meeting's events; a meeting whose events cannot be written
    (a date past what the format holds, a stored value no longer valid) is left out and
    logged, so that one bad booking never breaks a whole feed."""
    every = [event for _, events in groups for event in events]
    try:
        return build_calendar(every, method="PUBLISH", calendar_name=name)
    except _RENDER_ERRORS:
        pass
    good: list[IcsEvent] = []
    for meeting_id, events in groups:
        try:
            build_calendar(events, method="PUBLISH")
        except _RENDER_ERRORS as err:
            log.error("calendar feed: meeting %s left out: %s", meeting_id, err)
            continue
        good.extend(events)
    return build_calendar(good, method="PUBLISH", calendar_name=name)
