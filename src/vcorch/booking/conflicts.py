"""The conflict check: a candidate series against the stored bookings, rooms, endpoints and ports.

Writers call it inside their transaction after ``lock``, so that two bookings cannot both pass.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Principal
from vcorch.booking.errors import BookingConflict
from vcorch.booking.listing import visible_to
from vcorch.booking.models import Meeting, MeetingOccurrence, MeetingOverride, MeetingSite
from vcorch.booking.overlap import BookedOccurrence, PortUse, find_clashes, port_shortfalls
from vcorch.booking.placement_pool import PortPool, eligible, ports_needed
from vcorch.booking.policy import ACCEPTED, DECLINED, HOLDS_RESOURCES, ONLINE_MODES, BookingPolicy
from vcorch.booking.recurrence import (
    Occurrence,
    Series,
    between,
    iter_occurrences,
    occurrence_key_text,
)
from vcorch.booking.series import series_of
from vcorch.booking.views import iso
from vcorch.errors import FieldProblem, InvalidInput
from vcorch.rooms import Unit

# Any fixed number: every booking transaction on PostgreSQL queues on it.
BOOKING_LOCK_KEY = 7_410_002
MAX_REPORTED_CLASHES = 50
MAX_OCCURRENCE = timedelta(hours=24)


async def _readable(
    session: AsyncSession, reader: Principal, meeting_ids: set[int | str | None]
) -> set[int]:
    wanted = {int(m) for m in meeting_ids if m is not None}
    if not wanted:
        return set()
    found = await session.execute(
        select(Meeting.id).where(Meeting.id.in_(wanted), visible_to(reader))
    )
    return set(found.scalars())


async def lock(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": BOOKING_LOCK_KEY})


class ConflictCheck:
    def __init__(
        self,
        policy: BookingPolicy,
        pools: Callable[[], Sequence[PortPool]],
        clock: Callable[[], datetime],
    ) -> None:
        self._policy = policy
        self._pools = pools
        self._clock = clock

    def candidate(
        self,
        meeting_id: int | None,
        series: Series,
        rooms: set[int],
        endpoints: set[int],
        override_sites: dict[datetime, list[dict[str, Any]]],
    ) -> list[BookedOccurrence]:
        now = self._clock()
        horizon_end = max(series.start, now) + self._policy.horizon
        found: list[BookedOccurrence] = []
        for occ in iter_occurrences(series, after=now):
            if occ.start >= horizon_end:
                break
            occ_rooms, occ_endpoints = rooms, endpoints
            if occ.site_ids is not None:
                chosen = override_sites.get(occ.key, [])
                occ_rooms = {int(s["room_id"]) for s in chosen}
                occ_endpoints = {int(s["endpoint_id"]) for s in chosen if s.get("endpoint_id")}
            found.append(
                BookedOccurrence(
                    meeting_id,
                    occ.key,
                    occ.start,
                    occ.end,
                    frozenset(occ_rooms),
                    frozenset(occ_endpoints),
                )
            )
        return found

    async def existing(
        self,
        session: AsyncSession,
        start: datetime,
        end: datetime,
        exclude: int | None,
        rooms: set[int],
        endpoints: set[int],
        online: bool,
    ) -> tuple[list[BookedOccurrence], list[tuple[BookedOccurrence, int]], dict[int, str]]:
        """Occurrences of other held meetings in the window: those sharing a room or endpoint,
        and (for the port check) every online one with its number of sites."""
        held: list[ColumnElement[bool]] = [Meeting.status.in_(HOLDS_RESOURCES)]
        if exclude is not None:
            held.append(Meeting.id != exclude)
        # Stored occurrences: an indexed range on start (no occurrence lasts over a day).
        stored = await session.execute(
            select(
                MeetingOccurrence.meeting_id,
                MeetingOccurrence.occurrence_key,
                MeetingOccurrence.start_at,
                MeetingOccurrence.end_at,
                MeetingOccurrence.own_sites,
                Meeting.title,
                Meeting.mode,
            )
            .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .where(
                *held,
                MeetingOccurrence.cancelled.is_(False),
                MeetingOccurrence.start_at < end,
                MeetingOccurrence.start_at > start - MAX_OCCURRENCE,
                MeetingOccurrence.end_at > start,
            )
        )
        found: list[tuple[int, Occurrence, bool, str]] = []
        titles: dict[int, str] = {}
        for row in stored:
            titles[row.meeting_id] = row.title
            occ = Occurrence(key=row.occurrence_key, start=row.start_at, end=row.end_at)
            found.append((row.meeting_id, occ, row.own_sites, row.mode))
        # Open-ended series beyond their stored horizon are expanded here.
        beyond = await session.execute(
            select(Meeting).where(
                *held,
                Meeting.materialized_until.is_not(None),
                Meeting.materialized_until < end,
                Meeting.series_start < end,
            )
        )
        for meeting in beyond.scalars():
            overrides = list(
                (
                    await session.execute(
                        select(MeetingOverride).where(MeetingOverride.meeting_id == meeting.id)
                    )
                ).scalars()
            )
            keys_with_sites = {o.occurrence_key for o in overrides if o.sites is not None}
            horizon = meeting.materialized_until or start
            for occ in between(
                series_of(meeting, overrides, self._policy), max(start, horizon), end
            ):
                if occ.start >= horizon:
                    titles[meeting.id] = meeting.title
                    found.append((meeting.id, occ, occ.key in keys_with_sites, meeting.mode))
        if not found:
            return [], [], {}
        ids = sorted({meeting_id for meeting_id, _, _, _ in found})
        sites: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
        # A requested site holds no room until its unit accepts; it still counts towards
        # the organiser's bridge ports, which it will use once accepted.
        unheld: dict[int, set[int]] = defaultdict(set)
        asked: dict[int, int] = defaultdict(int)
        for meeting_id, room_id, endpoint_id, state in await session.execute(
            select(
                MeetingSite.meeting_id,
                MeetingSite.room_id,
                MeetingSite.endpoint_id,
                MeetingSite.approval,
            ).where(MeetingSite.meeting_id.in_(ids))
        ):
            if state == ACCEPTED:
                sites[meeting_id].append((room_id, endpoint_id))
            else:
                unheld[meeting_id].add(room_id)
                asked[meeting_id] += state != DECLINED
        own_sites: dict[tuple[int, datetime], list[tuple[int, int | None]]] = {}
        with_own = sorted({meeting_id for meeting_id, _, own, _ in found if own})
        if with_own:
            for override in (
                await session.execute(
                    select(MeetingOverride).where(
                        MeetingOverride.meeting_id.in_(with_own), MeetingOverride.sites.is_not(None)
                    )
                )
            ).scalars():
                own_sites[(override.meeting_id, override.occurrence_key)] = [
                    (int(s["room_id"]), s.get("endpoint_id"))
                    for s in override.sites or []
                    if int(s["room_id"]) not in unheld[override.meeting_id]
                ]
        shared: list[BookedOccurrence] = []
        ports: list[tuple[BookedOccurrence, int]] = []
        # The window holds few occurrences; which of them matter is decided here rather than
        # in SQL, where an OR over a subquery made PostgreSQL scan every meeting.
        for meeting_id, occ, own, mode in found:
            chosen = (
                own_sites.get((meeting_id, occ.key), sites[meeting_id])
                if own
                else sites[meeting_id]
            )
            booked = BookedOccurrence(
                meeting_id,
                occ.key,
                occ.start,
                occ.end,
                frozenset(room for room, _ in chosen),
                frozenset(endpoint for _, endpoint in chosen if endpoint),
            )
            if booked.rooms & rooms or booked.endpoints & endpoints:
                shared.append(booked)
            if online and mode in ONLINE_MODES:
                ports.append((booked, len(chosen) + (0 if own else asked[meeting_id])))
        return shared, ports, titles

    async def check(
        self,
        session: AsyncSession,
        meeting_id: int | None,
        series: Series,
        mode: str,
        organizer: Unit,
        preferred: str | None,
        sites: list[tuple[int, int | None, list[str]]],
        override_sites: dict[datetime, list[dict[str, Any]]],
        *,
        reader: Principal,
        ports: bool = True,
    ) -> None:
        """Raise :class:`BookingConflict` listing the clashes; a clash with a meeting
        ``reader`` may not read says only which room (or endpoint) is taken, when.

        ``ports=False`` checks only rooms and endpoints (a request being accepted: the
        meeting's ports were counted with its requests when it was booked)."""
        rooms = {room for room, _, _ in sites}
        endpoints = {endpoint for _, endpoint, _ in sites if endpoint is not None}
        for chosen in override_sites.values():
            rooms |= {int(s["room_id"]) for s in chosen}
        candidate = self.candidate(meeting_id, series, rooms, endpoints, override_sites)
        if not candidate:
            return
        online = ports and mode in ONLINE_MODES
        pools = eligible(self._pools(), organizer.path, preferred) if online else []
        demand = 0
        wanted_sites = len(sites)
        if online and wanted_sites:
            needed = ports_needed(wanted_sites, pools)
            if needed is None:
                total = sum(pool.ports for pool in pools)
                raise InvalidInput(
                    "more sites than the bridges can take",
                    problems=[
                        FieldProblem(
                            "sites",
                            f"{wanted_sites} sites; the bridges serving this unit have {total} "
                            "ports",
                        )
                    ],
                )
            demand = needed
        buffer = self._policy.setup_buffer
        window_start = min(o.start for o in candidate) - buffer
        window_end = max(o.end for o in candidate) + buffer
        shared, port_uses, titles = await self.existing(
            session, window_start, window_end, meeting_id, rooms, endpoints, online and demand > 0
        )
        clashes = find_clashes(candidate, shared, buffer=buffer)[:MAX_REPORTED_CLASHES]
        readable = await _readable(session, reader, {c.meeting_id for c in clashes})
        reported: list[dict[str, Any]] = []
        for clash in clashes:
            item: dict[str, Any] = {
                "kind": clash.resource_kind,
                "resource_id": clash.resource_id,
                "start": iso(clash.start),
                "end": iso(clash.end),
                "candidate_occurrence": occurrence_key_text(clash.candidate_key),
            }
            if clash.meeting_id is not None and int(clash.meeting_id) in readable:
                item["meeting_id"] = clash.meeting_id
                item["meeting_title"] = titles.get(int(clash.meeting_id or 0))
                item["occurrence"] = occurrence_key_text(clash.occurrence_key)
            reported.append(item)
        if demand:
            capacity = sum(pool.ports for pool in pools)
            existing_uses = [PortUse(o.start, o.end, n) for o, n in port_uses]
            wanted = [PortUse(o.start, o.end, demand) for o in candidate]
            for period in port_shortfalls(existing_uses, wanted, capacity=capacity)[
                :MAX_REPORTED_CLASHES
            ]:
                reported.append(
                    {
                        "kind": "ports",
                        "resource_id": None,
                        "meeting_id": None,
                        "start": iso(period.start),
                        "end": iso(period.end),
                        "in_use": period.in_use,
                        "capacity": capacity,
                    }
                )
        if reported:
            raise BookingConflict(f"{len(reported)} clash(es) with other bookings", reported)
