"""The meeting register: one service in front of booking, reading, availability and the feed.

The work lives in this package's modules (``writes``, ``conflicts``, ``listing``,
``availability``, ``horizon``, ``references``); this class holds the shared objects and hands
each call to its module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, Principal
from vcorch.booking import approval, horizon, listing, schemas
from vcorch.booking import availability as availability_of
from vcorch.booking.conflicts import BOOKING_LOCK_KEY, ConflictCheck
from vcorch.booking.models import MeetingChange
from vcorch.booking.overlap import FreeBusy, PortPeriod
from vcorch.booking.placement_pool import PortPool
from vcorch.booking.policy import CLOSED, HOLDS_RESOURCES, ONLINE_MODES, BookingPolicy
from vcorch.booking.recurrence import Occurrence
from vcorch.booking.references import references
from vcorch.booking.series import OverrideFields, SeriesFields, series_of
from vcorch.booking.views import MeetingListener, MeetingRecord, meeting_view
from vcorch.booking.writes import MeetingWrites

__all__ = [
    "BOOKING_LOCK_KEY",
    "CLOSED",
    "HOLDS_RESOURCES",
    "ONLINE_MODES",
    "BookingPolicy",
    "BookingService",
    "MeetingListener",
    "MeetingRecord",
    "OverrideFields",
    "SeriesFields",
    "meeting_view",
    "series_of",
]


class BookingService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        policy: BookingPolicy,
        pools: Callable[[], Sequence[PortPool]],
        default_zone: str,
        clock: Callable[[], datetime],
        listeners: Sequence[MeetingListener] = (),
        public_url: str = "",
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._pools = pools
        self._zone = default_zone
        self._clock = clock
        self._listeners = list(listeners)
        # Read through the attribute so that a replaced ``_pools`` reaches the check too.
        self._conflicts = ConflictCheck(policy, lambda: self._pools(), clock)
        self._writes = MeetingWrites(
            sessions,
            policy=policy,
            conflicts=self._conflicts,
            default_zone=default_zone,
            clock=clock,
            listeners=self._listeners,
            public_url=public_url,
        )

    @property
    def policy(self) -> BookingPolicy:
        return self._policy

    def add_listener(self, listener: MeetingListener) -> None:
        self._listeners.append(listener)

    visible_to = staticmethod(listing.visible_to)
    references = staticmethod(references)

    # -- reading ----------------------------------------------------------------------

    async def get(self, who: Principal, meeting_id: int) -> MeetingRecord:
        async with self._sessions() as session:
            return await listing.load_record(session, who, meeting_id)

    async def list_meetings(
        self, who: Principal, query: schemas.MeetingQuery, after: int | None
    ) -> tuple[list[MeetingRecord], int | None]:
        async with self._sessions() as session:
            return await listing.list_meetings(session, who, query, after)

    async def calendar(
        self, who: Principal, query: schemas.CalendarQuery, after: int | None
    ) -> tuple[list[listing.CalendarEntry], int | None]:
        async with self._sessions() as session:
            return await listing.calendar(session, who, query, after)

    async def occurrences(
        self, who: Principal, meeting_id: int, start: datetime, end: datetime
    ) -> tuple[MeetingRecord, list[tuple[Occurrence, list[dict[str, Any]]]]]:
        async with self._sessions() as session:
            return await listing.occurrences(session, self._policy, who, meeting_id, start, end)

    async def changes(
        self, who: Principal, since: int, limit: int
    ) -> tuple[list[MeetingChange], int]:
        async with self._sessions() as session:
            return await listing.changes(session, who, since, limit)

    async def availability(
        self, who: Principal, room_ids: list[int], start: datetime, end: datetime
    ) -> tuple[dict[int, list[FreeBusy]], list[PortPeriod], int]:
        return await availability_of.availability(
            self._sessions, self._conflicts, self._pools, who, room_ids, start, end
        )

    # -- writing ----------------------------------------------------------------------

    async def create(self, actor: Actor, data: schemas.MeetingCreate) -> MeetingRecord:
        return await self._writes.create(actor, data)

    async def check(self, actor: Actor, data: schemas.MeetingCheck) -> schemas.BookingCheck:
        return await self._writes.check(actor, data)

    async def update(
        self, actor: Actor, meeting_id: int, if_match: int | None, data: schemas.MeetingUpdate
    ) -> MeetingRecord:
        return await self._writes.update(actor, meeting_id, if_match, data)

    async def cancel(self, actor: Actor, meeting_id: int, if_match: int | None) -> MeetingRecord:
        return await self._writes.cancel(actor, meeting_id, if_match)

    async def change_occurrence(
        self,
        actor: Actor,
        meeting_id: int,
        key: datetime,
        if_match: int | None,
        change: schemas.OccurrenceChange,
    ) -> MeetingRecord:
        return await self._writes.change_occurrence(actor, meeting_id, key, if_match, change)

    async def decide_site(
        self, actor: Actor, meeting_id: int, site_id: int, decision: str, note: str | None
    ) -> dict[str, Any]:
        return await self._writes.decide(actor, meeting_id, site_id, decision, note)

    async def site_requests(
        self, who: Principal, status: str, after: int | None, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Requests for rooms in the caller's scope: only what deciding needs is shown of
        the requesting meeting, which the room's unit may otherwise not read."""
        async with self._sessions() as session:
            rows = (
                await session.execute(approval.requests_in_scope(who, status, after, limit))
            ).all()
        items = [
            approval.request_view(site, room, room_unit, meeting, organizer)
            for site, room, room_unit, meeting, organizer in rows[:limit]
        ]
        more = len(rows) > limit
        return items, (items[-1]["site_id"] if more and items else None)

    async def roll_horizon(self, now: datetime, *, margin: timedelta = timedelta(days=30)) -> int:
        """Store further occurrences of open-ended series whose stored ones run out within
        ``margin``; the scheduler calls this so that it always finds them.  Returns how many
        series were extended."""
        return await horizon.roll_horizon(
            self._sessions, self._policy, self._clock, now, margin=margin
        )
