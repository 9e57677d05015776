"""The meeting register: booking with conflict checks, changes, cancellation, the change feed.

Every write runs in one transaction that also holds the conflict check (serialised by an
advisory lock on PostgreSQL and by ``BEGIN IMMEDIATE`` on SQLite), the audit entry, the
change-feed entry and the queued invitations, so none of them exists without the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, delete, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.auth import audit
from vcorch.auth.principal import Actor, Principal, Role
from vcorch.booking import schemas
from vcorch.booking.errors import (
    BookingConflict,
    MeetingClosed,
    PreconditionRequired,
    StaleVersion,
)
from vcorch.booking.models import (
    Meeting,
    MeetingChange,
    MeetingOccurrence,
    MeetingOverride,
    MeetingSite,
)
from vcorch.booking.occurrences import MATERIALIZE_HORIZON, occurrence_rows
from vcorch.booking.overlap import (
    BookedOccurrence,
    FreeBusy,
    PortPeriod,
    PortUse,
    find_clashes,
    free_busy,
    port_shortfalls,
    port_timeline,
)
from vcorch.booking.placement_pool import PortPool, eligible, ports_needed
from vcorch.booking.recurrence import (
    Occurrence,
    OccurrenceOverride,
    Series,
    between,
    iter_occurrences,
    occurrence_key_text,
    parse_series,
)
from vcorch.errors import FieldProblem, InvalidInput, NotFound, PermissionDenied, Reference
from vcorch.rooms.models import Endpoint, Room, Unit
from vcorch.text import search_blob

CLOSED = frozenset({"ended", "cancelled", "missed", "failed"})
HOLDS_RESOURCES = ("scheduled", "live")
ONLINE_MODES = ("online", "hybrid")
# Any fixed number: every booking transaction on PostgreSQL queues on it.
BOOKING_LOCK_KEY = 7_410_002
MAX_REPORTED_CLASHES = 50
MAX_OCCURRENCE = timedelta(hours=24)


@dataclass(frozen=True)
class BookingPolicy:
    setup_buffer: timedelta = timedelta(minutes=15)
    # How far an open-ended series is checked for conflicts when booked.
    horizon: timedelta = timedelta(days=366)
    max_duration: timedelta = timedelta(hours=24)


class MeetingListener(Protocol):
    """Told of every change inside the writing transaction (invitations are queued here)."""

    async def meeting_changed(
        self, session: AsyncSession, meeting: Meeting, sites: Sequence[MeetingSite], action: str
    ) -> None: ...


@dataclass(frozen=True)
class MeetingRecord:
    meeting: Meeting
    sites: list[MeetingSite]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def meeting_view(meeting: Meeting, sites: Sequence[MeetingSite]) -> dict[str, Any]:
    """The meeting as the API shows it (also what the audit log and the change feed keep)."""
    zone = ZoneInfo(meeting.timezone)
    return {
        "id": meeting.id,
        "version": meeting.version,
        "sequence": meeting.sequence,
        "status": meeting.status,
        "title": meeting.title,
        "kind": meeting.kind,
        "mode": meeting.mode,
        "organizer_unit_id": meeting.organizer_unit_id,
        "chair": meeting.chair,
        "agenda": meeting.agenda,
        "start": _iso(meeting.start_at),
        "end": _iso(meeting.end_at),
        "start_local": meeting.start_at.astimezone(zone).isoformat(),
        "end_local": meeting.end_at.astimezone(zone).isoformat(),
        "timezone": meeting.timezone,
        "rrule": meeting.rrule,
        "exdates": list(meeting.exdates or []),
        "host_room_id": meeting.host_room_id,
        "sites": [
            {
                "site_id": s.id,
                "room_id": s.room_id,
                "endpoint_id": s.endpoint_id,
                "contacts": list(s.contacts or []),
            }
            for s in sorted(sites, key=lambda s: s.id)
        ],
        "invited": [{"email": i["email"], "name": i.get("name")} for i in meeting.invited or []],
        "preferred_bridge": meeting.preferred_bridge,
        "external_ref": meeting.external_ref,
        "created_by": meeting.created_by,
        "created_at": _iso(meeting.created_at),
        "updated_at": _iso(meeting.updated_at),
    }


class SeriesFields(Protocol):
    """What a series is made of: a Meeting, or a plain row with the same columns."""

    start_at: datetime
    end_at: datetime
    timezone: str
    rrule: str | None
    exdates: list[str]


class OverrideFields(Protocol):
    occurrence_key: datetime
    start_at: datetime | None
    end_at: datetime | None
    cancelled: bool
    sites: list[dict[str, Any]] | None


def series_of(
    meeting: SeriesFields, overrides: Iterable[OverrideFields], policy: BookingPolicy
) -> Series:
    return parse_series(
        start=meeting.start_at,
        end=meeting.end_at,
        timezone=meeting.timezone,
        rrule=meeting.rrule,
        exdates=[datetime.fromisoformat(d) for d in meeting.exdates or []],
        overrides=[
            OccurrenceOverride(
                occurrence_key=o.occurrence_key,
                start=o.start_at,
                end=o.end_at,
                cancelled=o.cancelled,
                site_ids=tuple(int(s["room_id"]) for s in o.sites) if o.sites is not None else None,
            )
            for o in overrides
        ],
        max_duration=policy.max_duration,
    )


def _span(series: Series) -> tuple[datetime, datetime | None]:
    """First start and last end over all occurrences (None: open-ended)."""
    first = next(iter_occurrences(series, include_cancelled=True))
    if series.is_open_ended:
        return first.start, None
    last_end = max(occ.end for occ in iter_occurrences(series, include_cancelled=True))
    return min(first.start, series.start), last_end


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
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._pools = pools
        self._zone = default_zone
        self._clock = clock
        self._listeners = list(listeners)

    def add_listener(self, listener: MeetingListener) -> None:
        self._listeners.append(listener)

    # -- visibility -------------------------------------------------------------------

    @staticmethod
    def visible_to(who: Principal) -> ColumnElement[bool]:
        """A meeting is visible when organised in the caller's subtree or with a site there;
        operators see the meetings their rooms take part in."""
        units = select(Unit.id).where(Unit.path.startswith(who.unit_path))
        site_meetings = (
            select(MeetingSite.meeting_id)
            .join(Room, MeetingSite.room_id == Room.id)
            .where(Room.unit_id.in_(units))
        )
        if who.role is Role.OPERATOR:
            return Meeting.id.in_(site_meetings)
        return or_(Meeting.organizer_unit_id.in_(units), Meeting.id.in_(site_meetings))

    async def _load(self, session: AsyncSession, who: Principal, meeting_id: int) -> MeetingRecord:
        meeting = (
            await session.execute(
                select(Meeting).where(Meeting.id == meeting_id, self.visible_to(who))
            )
        ).scalar_one_or_none()
        if meeting is None:
            raise NotFound("no such meeting")
        sites = list(
            (
                await session.execute(
                    select(MeetingSite).where(MeetingSite.meeting_id == meeting.id)
                )
            ).scalars()
        )
        return MeetingRecord(meeting, sites)

    async def get(self, who: Principal, meeting_id: int) -> MeetingRecord:
        async with self._sessions() as session:
            return await self._load(session, who, meeting_id)

    async def list_meetings(
        self, who: Principal, query: schemas.MeetingQuery, after: int | None
    ) -> tuple[list[MeetingRecord], int | None]:
        async with self._sessions() as session:
            stmt: Select[Meeting] = select(Meeting).where(self.visible_to(who))
            if query.from_ is not None:
                stmt = stmt.where(
                    or_(Meeting.series_end.is_(None), Meeting.series_end > query.from_)
                )
            if query.to is not None:
                stmt = stmt.where(Meeting.series_start < query.to)
            if query.unit is not None:
                unit = await session.get(Unit, query.unit)
                if unit is None or not who.sees(unit.path):
                    raise NotFound("no such unit")
                stmt = stmt.where(
                    Meeting.organizer_unit_id.in_(
                        select(Unit.id).where(Unit.path.startswith(unit.path))
                    )
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
                    Meeting.id.in_(
                        select(MeetingSite.meeting_id).where(MeetingSite.room_id == query.site)
                    )
                )
            if query.q:
                stmt = stmt.where(
                    Meeting.search_text.contains(search_blob(query.q), autoescape=True)
                )
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

    # -- validation -------------------------------------------------------------------

    async def _organizer(self, session: AsyncSession, who: Principal, unit_id: int) -> Unit:
        unit = await session.get(Unit, unit_id)
        if unit is None:
            raise InvalidInput(
                "unknown unit", problems=[FieldProblem("organizer_unit_id", "no such unit")]
            )
        if not who.sees(unit.path):
            raise PermissionDenied(
                "you book for your own unit's subtree only",
                problems=[FieldProblem("organizer_unit_id", "outside your unit scope")],
            )
        return unit

    @staticmethod
    async def _resolve_sites(
        session: AsyncSession, sites: Sequence[schemas.SiteIn], mode: str, field: str = "sites"
    ) -> list[tuple[int, int | None, list[str]]]:
        """Check the sites (any unit may be invited) and pick each room's endpoint if none given."""
        problems: list[FieldProblem] = []
        seen: dict[int, int] = {}
        for index, site in enumerate(sites):
            if site.room_id in seen:
                problems.append(
                    FieldProblem(
                        f"{field}.{index}.room_id", f"the room is already site {seen[site.room_id]}"
                    )
                )
            seen.setdefault(site.room_id, index)
        room_ids = list(seen)
        rooms = {
            r.id
            for r in (await session.execute(select(Room).where(Room.id.in_(room_ids)))).scalars()
        }
        endpoints: dict[int, list[Endpoint]] = defaultdict(list)
        for endpoint in (
            await session.execute(
                select(Endpoint).where(Endpoint.room_id.in_(room_ids)).order_by(Endpoint.id)
            )
        ).scalars():
            endpoints[endpoint.room_id].append(endpoint)
        resolved: list[tuple[int, int | None, list[str]]] = []
        for index, site in enumerate(sites):
            if site.room_id not in rooms:
                problems.append(FieldProblem(f"{field}.{index}.room_id", "no such room"))
                continue
            endpoint_id = site.endpoint_id
            if endpoint_id is not None and endpoint_id not in {
                e.id for e in endpoints[site.room_id]
            }:
                problems.append(
                    FieldProblem(f"{field}.{index}.endpoint_id", "not an endpoint of that room")
                )
                continue
            if endpoint_id is None and mode != "in_person" and endpoints[site.room_id]:
                endpoint_id = endpoints[site.room_id][0].id
            resolved.append((site.room_id, endpoint_id, [str(c) for c in site.contacts]))
        if problems:
            raise InvalidInput("some sites cannot be used", problems=problems)
        return resolved

    # -- conflicts --------------------------------------------------------------------

    async def _lock(self, session: AsyncSession) -> None:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": BOOKING_LOCK_KEY}
            )

    def _candidate(
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

    async def _existing(
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
        for meeting_id, room_id, endpoint_id in await session.execute(
            select(MeetingSite.meeting_id, MeetingSite.room_id, MeetingSite.endpoint_id).where(
                MeetingSite.meeting_id.in_(ids)
            )
        ):
            sites[meeting_id].append((room_id, endpoint_id))
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
                    (int(s["room_id"]), s.get("endpoint_id")) for s in override.sites or []
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
                ports.append((booked, len(chosen)))
        return shared, ports, titles

    async def _materialize(
        self,
        session: AsyncSession,
        meeting: Meeting,
        series: Series,
        overrides: Sequence[MeetingOverride],
    ) -> None:
        """Store the meeting's occurrences anew (called in every writing transaction)."""
        await session.execute(
            delete(MeetingOccurrence).where(MeetingOccurrence.meeting_id == meeting.id)
        )
        rows, until = occurrence_rows(
            meeting.id,
            series,
            {o.occurrence_key for o in overrides if o.sites is not None},
            self._clock(),
        )
        if rows:
            await session.execute(insert(MeetingOccurrence), rows)
        meeting.materialized_until = until

    async def roll_horizon(self, now: datetime, *, margin: timedelta = timedelta(days=30)) -> int:
        """Store further occurrences of open-ended series whose stored ones run out within
        ``margin``; the scheduler calls this so that it always finds them.  Returns how many
        series were extended."""
        async with self._sessions.begin() as session:
            meetings = list(
                (
                    await session.execute(
                        select(Meeting).where(
                            Meeting.materialized_until.is_not(None),
                            Meeting.materialized_until < now + MATERIALIZE_HORIZON - margin,
                            Meeting.status == "scheduled",
                        )
                    )
                ).scalars()
            )
            for meeting in meetings:
                overrides = list(
                    (
                        await session.execute(
                            select(MeetingOverride).where(MeetingOverride.meeting_id == meeting.id)
                        )
                    ).scalars()
                )
                series = series_of(meeting, overrides, self._policy)
                await self._materialize(session, meeting, series, overrides)
            return len(meetings)

    async def _check_conflicts(
        self,
        session: AsyncSession,
        meeting_id: int | None,
        series: Series,
        mode: str,
        organizer: Unit,
        preferred: str | None,
        sites: list[tuple[int, int | None, list[str]]],
        override_sites: dict[datetime, list[dict[str, Any]]],
    ) -> None:
        rooms = {room for room, _, _ in sites}
        endpoints = {endpoint for _, endpoint, _ in sites if endpoint is not None}
        for chosen in override_sites.values():
            rooms |= {int(s["room_id"]) for s in chosen}
        candidate = self._candidate(meeting_id, series, rooms, endpoints, override_sites)
        if not candidate:
            return
        online = mode in ONLINE_MODES
        pools = eligible(self._pools(), organizer.path, preferred) if online else []
        demand = 0
        if online and sites:
            needed = ports_needed(len(sites), pools)
            if needed is None:
                total = sum(pool.ports for pool in pools)
                raise InvalidInput(
                    "more sites than the bridges can take",
                    problems=[
                        FieldProblem(
                            "sites",
                            f"{len(sites)} sites; the bridges serving this unit have {total} ports",
                        )
                    ],
                )
            demand = needed
        buffer = self._policy.setup_buffer
        window_start = min(o.start for o in candidate) - buffer
        window_end = max(o.end for o in candidate) + buffer
        shared, port_uses, titles = await self._existing(
            session, window_start, window_end, meeting_id, rooms, endpoints, online and demand > 0
        )
        clashes = find_clashes(candidate, shared, buffer=buffer)
        reported: list[dict[str, Any]] = [
            {
                "kind": clash.resource_kind,
                "resource_id": clash.resource_id,
                "meeting_id": clash.meeting_id,
                "meeting_title": titles.get(int(clash.meeting_id or 0)),
                "occurrence": occurrence_key_text(clash.occurrence_key),
                "start": _iso(clash.start),
                "end": _iso(clash.end),
                "candidate_occurrence": occurrence_key_text(clash.candidate_key),
            }
            for clash in clashes[:MAX_REPORTED_CLASHES]
        ]
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
                        "start": _iso(period.start),
                        "end": _iso(period.end),
                        "in_use": period.in_use,
                        "capacity": capacity,
                    }
                )
        if reported:
            raise BookingConflict(f"{len(reported)} clash(es) with other bookings", reported)

    # -- writes -----------------------------------------------------------------------

    async def _record_change(
        self,
        session: AsyncSession,
        actor: Actor,
        record: MeetingRecord,
        action: str,
        organizer: Unit,
        before: dict[str, Any] | None,
    ) -> None:
        await session.flush()
        view = meeting_view(record.meeting, record.sites)
        session.add(
            MeetingChange(
                meeting_id=record.meeting.id,
                version=record.meeting.version,
                action=action,
                at=self._clock(),
                snapshot=view,
            )
        )
        audit.record(
            session,
            actor,
            at=self._clock(),
            action=action,
            entity="meeting",
            entity_id=record.meeting.id,
            unit_path=organizer.path,
            before=before,
            after=view,
        )
        for listener in self._listeners:
            await listener.meeting_changed(session, record.meeting, record.sites, action)

    def _status_for(self, requested: str, series_end: datetime | None) -> str:
        if requested == "draft":
            return "draft"
        finished = series_end is not None and series_end <= self._clock()
        # A meeting recorded after the fact is held as declared; it takes no resources now.
        return "ended" if finished else "scheduled"

    async def create(self, actor: Actor, data: schemas.MeetingCreate) -> MeetingRecord:
        async with self._sessions.begin() as session:
            await self._lock(session)
            organizer = await self._organizer(session, actor.principal, data.organizer_unit_id)
            zone = data.timezone or organizer.timezone or self._zone
            series = parse_series(
                start=data.start,
                end=data.end,
                timezone=zone,
                rrule=data.rrule,
                exdates=data.exdates or [],
                max_duration=self._policy.max_duration,
            )
            sites = await self._resolve_sites(session, data.sites, data.mode)
            if data.host_room_id is not None and await session.get(Room, data.host_room_id) is None:
                raise InvalidInput(
                    "unknown room", problems=[FieldProblem("host_room_id", "no such room")]
                )
            series_start, series_end = _span(series)
            status = self._status_for(data.status, series_end)
            if status == "scheduled":
                await self._check_conflicts(
                    session, None, series, data.mode, organizer, data.preferred_bridge, sites, {}
                )
            meeting = Meeting(
                title=data.title,
                search_text=search_blob(data.title, data.chair, data.external_ref),
                kind=data.kind,
                mode=data.mode,
                organizer_unit_id=organizer.id,
                chair=data.chair,
                agenda=data.agenda,
                start_at=series.start,
                end_at=series.end,
                timezone=zone,
                rrule=series.rrule,
                exdates=sorted(_iso(d) for d in series.exdates),
                series_start=series_start,
                series_end=series_end,
                host_room_id=data.host_room_id,
                preferred_bridge=data.preferred_bridge,
                external_ref=data.external_ref,
                invited=[i.model_dump(mode="json") for i in data.invited or []],
                status=status,
                version=1,
                sequence=0,
                created_by=actor.principal.label,
                created_at=self._clock(),
                updated_at=self._clock(),
            )
            session.add(meeting)
            await session.flush()
            site_rows = [
                MeetingSite(meeting_id=meeting.id, room_id=r, endpoint_id=e, contacts=c)
                for r, e, c in sites
            ]
            session.add_all(site_rows)
            await self._materialize(session, meeting, series, [])
            record = MeetingRecord(meeting, site_rows)
            await self._record_change(session, actor, record, "create", organizer, None)
            return record

    async def _writable(
        self, session: AsyncSession, actor: Actor, meeting_id: int, if_match: int | None
    ) -> tuple[MeetingRecord, Unit]:
        record = await self._load(session, actor.principal, meeting_id)
        organizer = await session.get(Unit, record.meeting.organizer_unit_id)
        if organizer is None or not actor.principal.sees(organizer.path):
            raise PermissionDenied("only the organising unit's subtree may change this meeting")
        if if_match is None:
            raise PreconditionRequired("send If-Match with the version you last read (its ETag)")
        if if_match != record.meeting.version:
            raise StaleVersion(
                f"the meeting is at version {record.meeting.version}, you sent {if_match}: "
                "read it again"
            )
        if record.meeting.status in CLOSED:
            raise MeetingClosed(
                f"the meeting is {record.meeting.status} and can no longer be changed"
            )
        return record, organizer

    async def update(
        self, actor: Actor, meeting_id: int, if_match: int | None, data: schemas.MeetingUpdate
    ) -> MeetingRecord:
        given = data.model_fields_set
        for name in (
            "title",
            "kind",
            "mode",
            "organizer_unit_id",
            "start",
            "end",
            "timezone",
            "status",
            "sites",
        ):
            if name in given and getattr(data, name) is None:
                raise InvalidInput(
                    "must not be null", problems=[FieldProblem(name, "must not be null")]
                )
        async with self._sessions.begin() as session:
            await self._lock(session)
            record, organizer = await self._writable(session, actor, meeting_id, if_match)
            meeting = record.meeting
            before = meeting_view(meeting, record.sites)
            if (
                data.organizer_unit_id is not None
                and data.organizer_unit_id != meeting.organizer_unit_id
            ):
                organizer = await self._organizer(session, actor.principal, data.organizer_unit_id)
                meeting.organizer_unit_id = organizer.id
            mode = data.mode or meeting.mode
            overrides = list(
                (
                    await session.execute(
                        select(MeetingOverride).where(MeetingOverride.meeting_id == meeting.id)
                    )
                ).scalars()
            )
            timing = bool(given & {"start", "end", "timezone", "rrule", "exdates"})
            if timing and overrides:
                # Overrides are keyed by the old rule's starts; a new rule invalidates them.
                await session.execute(
                    delete(MeetingOverride).where(MeetingOverride.meeting_id == meeting.id)
                )
                overrides = []
            series = parse_series(
                start=data.start or meeting.start_at,
                end=data.end or meeting.end_at,
                timezone=data.timezone or meeting.timezone,
                rrule=data.rrule if "rrule" in given else meeting.rrule,
                exdates=(data.exdates or [])
                if "exdates" in given
                else [datetime.fromisoformat(d) for d in meeting.exdates or []],
                overrides=[
                    OccurrenceOverride(
                        o.occurrence_key,
                        o.start_at,
                        o.end_at,
                        o.cancelled,
                        tuple(int(s["room_id"]) for s in o.sites) if o.sites is not None else None,
                    )
                    for o in overrides
                ],
                max_duration=self._policy.max_duration,
            )
            if "sites" in given and data.sites is not None:
                sites = await self._resolve_sites(session, data.sites, mode)
            else:
                sites = [(s.room_id, s.endpoint_id, list(s.contacts or [])) for s in record.sites]
            if (
                "host_room_id" in given
                and data.host_room_id is not None
                and await session.get(Room, data.host_room_id) is None
            ):
                raise InvalidInput(
                    "unknown room", problems=[FieldProblem("host_room_id", "no such room")]
                )
            series_start, series_end = _span(series)
            status = self._status_for(
                data.status or ("draft" if meeting.status == "draft" else "scheduled"), series_end
            )
            if status == "scheduled":
                await self._check_conflicts(
                    session,
                    meeting.id,
                    series,
                    mode,
                    organizer,
                    data.preferred_bridge
                    if "preferred_bridge" in given
                    else meeting.preferred_bridge,
                    sites,
                    {o.occurrence_key: list(o.sites) for o in overrides if o.sites is not None},
                )
            for name in (
                "title",
                "kind",
                "mode",
                "chair",
                "agenda",
                "preferred_bridge",
                "external_ref",
                "host_room_id",
            ):
                if name in given:
                    setattr(meeting, name, getattr(data, name))
            if "invited" in given:
                meeting.invited = [i.model_dump(mode="json") for i in data.invited or []]
            meeting.start_at, meeting.end_at, meeting.timezone = (
                series.start,
                series.end,
                series.timezone,
            )
            meeting.rrule = series.rrule
            meeting.exdates = sorted(_iso(d) for d in series.exdates)
            meeting.series_start, meeting.series_end = series_start, series_end
            meeting.search_text = search_blob(meeting.title, meeting.chair, meeting.external_ref)
            meeting.status = status
            await self._materialize(session, meeting, series, overrides)
            if "sites" in given:
                await session.execute(
                    delete(MeetingSite).where(MeetingSite.meeting_id == meeting.id)
                )
                record = MeetingRecord(
                    meeting,
                    [
                        MeetingSite(meeting_id=meeting.id, room_id=r, endpoint_id=e, contacts=c)
                        for r, e, c in sites
                    ],
                )
                session.add_all(record.sites)
            meeting.version += 1
            if timing or given & {"title", "sites", "agenda", "host_room_id", "invited"}:
                meeting.sequence += 1
            meeting.updated_at = self._clock()
            await self._record_change(session, actor, record, "update", organizer, before)
            return record

    async def cancel(self, actor: Actor, meeting_id: int, if_match: int | None) -> MeetingRecord:
        async with self._sessions.begin() as session:
            record, organizer = await self._writable(session, actor, meeting_id, if_match)
            before = meeting_view(record.meeting, record.sites)
            record.meeting.status = "cancelled"
            record.meeting.version += 1
            record.meeting.sequence += 1
            record.meeting.updated_at = self._clock()
            await self._record_change(session, actor, record, "cancel", organizer, before)
            return record

    # -- occurrences ------------------------------------------------------------------

    async def occurrences(
        self, who: Principal, meeting_id: int, start: datetime, end: datetime
    ) -> tuple[MeetingRecord, list[tuple[Occurrence, list[dict[str, Any]]]]]:
        async with self._sessions() as session:
            record = await self._load(session, who, meeting_id)
            overrides = list(
                (
                    await session.execute(
                        select(MeetingOverride).where(MeetingOverride.meeting_id == meeting_id)
                    )
                ).scalars()
            )
        by_key = {o.occurrence_key: o for o in overrides}
        series = series_of(record.meeting, overrides, self._policy)
        default_sites = [
            {
                "site_id": s.id,
                "room_id": s.room_id,
                "endpoint_id": s.endpoint_id,
                "contacts": list(s.contacts or []),
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

    async def change_occurrence(
        self,
        actor: Actor,
        meeting_id: int,
        key: datetime,
        if_match: int | None,
        change: schemas.OccurrenceChange,
    ) -> MeetingRecord:
        async with self._sessions.begin() as session:
            await self._lock(session)
            record, organizer = await self._writable(session, actor, meeting_id, if_match)
            meeting = record.meeting
            before = meeting_view(meeting, record.sites)
            overrides = {
                o.occurrence_key: o
                for o in (
                    await session.execute(
                        select(MeetingOverride).where(MeetingOverride.meeting_id == meeting.id)
                    )
                ).scalars()
            }
            row = overrides.get(key) or MeetingOverride(
                meeting_id=meeting.id, occurrence_key=key, cancelled=False
            )
            given = change.model_fields_set
            if "start" in given:
                row.start_at = change.start
            if "end" in given:
                row.end_at = change.end
            if "cancelled" in given:
                row.cancelled = bool(change.cancelled)
            if "sites" in given:
                if change.sites is None:
                    row.sites = None
                else:
                    resolved = await self._resolve_sites(session, change.sites, meeting.mode)
                    row.sites = [{"room_id": r, "endpoint_id": e} for r, e, _ in resolved]
            merged = {**overrides, key: row}
            series = series_of(meeting, merged.values(), self._policy)
            if meeting.status == "scheduled" and not row.cancelled:
                sites = [(s.room_id, s.endpoint_id, list(s.contacts or [])) for s in record.sites]
                await self._check_conflicts(
                    session,
                    meeting.id,
                    series,
                    meeting.mode,
                    organizer,
                    meeting.preferred_bridge,
                    sites,
                    {k: list(o.sites) for k, o in merged.items() if o.sites is not None},
                )
            if key not in overrides:
                session.add(row)
            meeting.series_start, meeting.series_end = _span(series)
            await session.flush()
            await self._materialize(session, meeting, series, list(merged.values()))
            meeting.version += 1
            meeting.sequence += 1
            meeting.updated_at = self._clock()
            await self._record_change(session, actor, record, "occurrence", organizer, before)
            return record

    # -- availability -----------------------------------------------------------------

    async def availability(
        self, who: Principal, room_ids: list[int], start: datetime, end: datetime
    ) -> tuple[dict[int, list[FreeBusy]], list[PortPeriod], int]:
        """Free/busy per room (any room: sites may be invited anywhere) and the free bridge
        ports over the window for the caller's unit."""
        if end <= start:
            raise InvalidInput("empty window", problems=[FieldProblem("to", "must be after from")])
        if end - start > timedelta(days=366):
            raise InvalidInput(
                "window too long", problems=[FieldProblem("to", "at most 366 days after from")]
            )
        async with self._sessions() as session:
            known = set(
                (await session.execute(select(Room.id).where(Room.id.in_(room_ids)))).scalars()
            )
            missing = [r for r in room_ids if r not in known]
            if missing:
                raise InvalidInput(
                    "unknown rooms", problems=[FieldProblem("rooms", f"no such room: {missing}")]
                )
            shared, port_uses, _ = await self._existing(
                session, start, end, None, set(room_ids), set(), True
            )
        rooms = {
            room: free_busy([(o.start, o.end) for o in shared if room in o.rooms], start, end)
            for room in room_ids
        }
        capacity = sum(pool.ports for pool in eligible(self._pools(), who.unit_path, None))
        ports = port_timeline(
            [PortUse(o.start, o.end, n) for o, n in port_uses],
            capacity=capacity,
            start=start,
            end=end,
        )
        return rooms, ports, capacity

    # -- change feed ------------------------------------------------------------------

    async def changes(
        self, who: Principal, since: int, limit: int
    ) -> tuple[list[MeetingChange], int]:
        async with self._sessions() as session:
            visible = select(Meeting.id).where(self.visible_to(who))
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

    # -- references -------------------------------------------------------------------

    @staticmethod
    async def references(session: AsyncSession, kind: str, ident: int) -> list[Reference]:
        """What meetings still use a room or endpoint (for refusing its deletion)."""
        if kind == "room":
            condition = or_(MeetingSite.room_id == ident)
            hosted = (
                select(Meeting.id, Meeting.title).where(Meeting.host_room_id == ident).limit(20)
            )
            found = [Reference("meeting", i, t) for i, t in (await session.execute(hosted))]
        elif kind == "endpoint":
            condition = MeetingSite.endpoint_id == ident
            found = []
        elif kind == "unit":
            rows = await session.execute(
                select(Meeting.id, Meeting.title)
                .where(Meeting.organizer_unit_id == ident)
                .limit(20)
            )
            return [Reference("meeting", i, t) for i, t in rows]
        else:
            return []
        rows = await session.execute(
            select(Meeting.id, Meeting.title)
            .join(MeetingSite, MeetingSite.meeting_id == Meeting.id)
            .where(condition)
            .distinct()
            .limit(20)
        )
        found += [Reference("meeting", i, t) for i, t in rows]
        return found
