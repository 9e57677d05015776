"""Booking, changing and cancelling meetings and single occurrences.

Every write runs in one transaction that also holds the conflict check (serialised by an
advisory lock on PostgreSQL and by ``BEGIN IMMEDIATE`` on SQLite), the audit entry, the
change-feed entry and the queued invitations, so none of them exists without the others.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, audit
from vcorch.booking import approval, schemas
from vcorch.booking.conflicts import ConflictCheck, lock
from vcorch.booking.errors import (
    BookingConflict,
    MeetingClosed,
    PreconditionRequired,
    SiteNotRequested,
    StaleVersion,
)
from vcorch.booking.horizon import materialize
from vcorch.booking.listing import load_record
from vcorch.booking.models import Meeting, MeetingChange, MeetingOverride, MeetingSite
from vcorch.booking.policy import (
    ACCEPTED,
    CLOSED,
    DECLINED,
    HOLDS_RESOURCES,
    BookingPolicy,
)
from vcorch.booking.recurrence import OccurrenceOverride, parse_series
from vcorch.booking.series import series_of, span
from vcorch.booking.validation import check_host_room, organizer_unit, resolve_sites
from vcorch.booking.views import MeetingListener, MeetingRecord, iso, meeting_view
from vcorch.errors import FieldProblem, InvalidInput, NotFound, PermissionDenied
from vcorch.rooms import Unit
from vcorch.text import search_blob


class MeetingWrites:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        policy: BookingPolicy,
        conflicts: ConflictCheck,
        default_zone: str,
        clock: Callable[[], datetime],
        listeners: list[MeetingListener],
        public_url: str = "",
    ) -> None:
        self._sessions = sessions
        self._public_url = public_url
        self._policy = policy
        self._conflicts = conflicts
        self._zone = default_zone
        self._clock = clock
        # Shared with the service, which adds to it after construction.
        self._listeners = listeners

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
            await lock(session)
            organizer = await organizer_unit(session, actor.principal, data.organizer_unit_id)
            zone = data.timezone or organizer.timezone or self._zone
            series = parse_series(
                start=data.start,
                end=data.end,
                timezone=zone,
                rrule=data.rrule,
                exdates=data.exdates or [],
                max_duration=self._policy.max_duration,
                max_span=self._policy.max_series_span,
            )
            sites = await resolve_sites(session, data.sites, data.mode)
            if data.host_room_id is not None:
                await check_host_room(session, data.host_room_id, organizer)
            states = await self._initial_states(session, organizer, sites, actor)
            series_start, series_end = span(series)
            status = self._status_for(data.status, series_end)
            if status == "scheduled":
                await self._conflicts.check(
                    session,
                    None,
                    series,
                    data.mode,
                    organizer,
                    data.preferred_bridge,
                    # A request is checked too: asking for a room taken then is pointless
                    # (the answer names only the room and the time).
                    sites,
                    {},
                    reader=actor.principal,
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
                exdates=sorted(iso(d) for d in series.exdates),
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
                MeetingSite(
                    meeting_id=meeting.id, room_id=r, endpoint_id=e, contacts=c, approval=states[r]
                )
                for r, e, c in sites
            ]
            session.add_all(site_rows)
            await materialize(session, meeting, series, [], self._clock())
            record = MeetingRecord(meeting, site_rows)
            await self._record_change(session, actor, record, "create", organizer, None)
            await approval.tell_room_units(
                session,
                meeting,
                organizer,
                site_rows,
                public_url=self._public_url,
                now=self._clock(),
            )
            return record

    async def check(self, actor: Actor, data: schemas.MeetingCheck) -> schemas.BookingCheck:
        """What saving ``data`` would meet, without saving: the same validation (4xx as a
        save would answer) and the same conflict check, whose clashes are returned rather
        than raised.  For an edit, ``meeting_id`` names the meeting, whose own occurrences
        do not count; its per-occurrence changes are not considered."""
        async with self._sessions() as session:
            exclude: int | None = None
            if data.meeting_id is not None:
                exclude = (await load_record(session, actor.principal, data.meeting_id)).meeting.id
            organizer = await organizer_unit(session, actor.principal, data.organizer_unit_id)
            zone = data.timezone or organizer.timezone or self._zone
            series = parse_series(
                start=data.start,
                end=data.end,
                timezone=zone,
                rrule=data.rrule,
                exdates=data.exdates or [],
                max_duration=self._policy.max_duration,
                max_span=self._policy.max_series_span,
            )
            sites = await resolve_sites(session, data.sites, data.mode)
            if data.host_room_id is not None:
                await check_host_room(session, data.host_room_id, organizer)
            states = await self._initial_states(session, organizer, sites, actor)
            series_start, series_end = span(series)
            status = self._status_for(data.status, series_end)
            clashes: list[dict[str, Any]] = []
            if status == "scheduled":
                try:
                    await self._conflicts.check(
                        session,
                        exclude,
                        series,
                        data.mode,
                        organizer,
                        data.preferred_bridge,
                        sites,
                        {},
                        reader=actor.principal,
                    )
                except BookingConflict as err:
                    clashes = list(err.extra["clashes"])
            return schemas.BookingCheck(
                ok=not clashes,
                status=status,
                first_start=series_start,
                last_end=series_end,
                requests=sorted(room for room, state in states.items() if state != ACCEPTED),
                clashes=clashes,
            )

    @staticmethod
    async def _initial_states(
        session: AsyncSession,
        organizer: Unit,
        sites: list[tuple[int, int | None, list[str]]],
        actor: Actor,
    ) -> dict[int, str]:
        """Accepted when the room lies in the organiser's units, or when the caller could
        decide for the room's unit anyway (central booking for a province); else asked."""
        units = await approval.room_units(session, [room for room, _, _ in sites])
        return {
            room: ACCEPTED
            if actor.principal.sees(units[room][1].path)
            else approval.initial_state(units[room][1].path, organizer.path)
            for room, _, _ in sites
        }

    async def _writable(
        self, session: AsyncSession, actor: Actor, meeting_id: int, if_match: int | None
    ) -> tuple[MeetingRecord, Unit]:
        record = await load_record(session, actor.principal, meeting_id)
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
            await lock(session)
            record, organizer = await self._writable(session, actor, meeting_id, if_match)
            meeting = record.meeting
            before = meeting_view(meeting, record.sites)
            organizer_before = organizer.id
            if (
                data.organizer_unit_id is not None
                and data.organizer_unit_id != meeting.organizer_unit_id
            ):
                organizer = await organizer_unit(session, actor.principal, data.organizer_unit_id)
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
                max_span=self._policy.max_series_span,
            )
            if "sites" in given and data.sites is not None:
                sites = await resolve_sites(session, data.sites, mode)
            else:
                sites = [(s.room_id, s.endpoint_id, list(s.contacts or [])) for s in record.sites]
            states = await self._initial_states(session, organizer, sites, actor)
            kept = {s.room_id: s for s in record.sites}
            asked_again: set[int] = set()
            room_paths = {
                room: unit.path
                for room, (_, unit) in (await approval.room_units(session, list(kept))).items()
            }
            for room in states:
                if room not in kept or not approval.foreign(room_paths[room], organizer.path):
                    continue
                previous = kept[room].approval
                # An acceptance was for the times asked; new times (or a new organiser) are
                # a new request, unless the caller decides for the room's unit itself.  A
                # decline stands until the room's unit changes it.
                if (
                    previous == ACCEPTED
                    and (timing or organizer.id != organizer_before)
                    and states[room] != ACCEPTED
                ):
                    asked_again.add(room)
                else:
                    states[room] = previous
            host_room = data.host_room_id if "host_room_id" in given else meeting.host_room_id
            if host_room is not None and given & {"host_room_id", "organizer_unit_id"}:
                organizer_now = await session.get(Unit, meeting.organizer_unit_id)
                if organizer_now is not None:
                    await check_host_room(session, host_room, organizer_now)
            series_start, series_end = span(series)
            status = self._status_for(
                data.status or ("draft" if meeting.status == "draft" else "scheduled"), series_end
            )
            if status == "scheduled":
                await self._conflicts.check(
                    session,
                    meeting.id,
                    series,
                    mode,
                    organizer,
                    data.preferred_bridge
                    if "preferred_bridge" in given
                    else meeting.preferred_bridge,
                    [site for site in sites if states[site[0]] != DECLINED],
                    {o.occurrence_key: list(o.sites) for o in overrides if o.sites is not None},
                    reader=actor.principal,
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
            meeting.exdates = sorted(iso(d) for d in series.exdates)
            meeting.series_start, meeting.series_end = series_start, series_end
            meeting.search_text = search_blob(meeting.title, meeting.chair, meeting.external_ref)
            meeting.status = status
            await materialize(session, meeting, series, overrides, self._clock())
            if "sites" in given:
                await session.execute(
                    delete(MeetingSite).where(MeetingSite.meeting_id == meeting.id)
                )
                rows = []
                for r, e, c in sites:
                    row = MeetingSite(
                        meeting_id=meeting.id,
                        room_id=r,
                        endpoint_id=e,
                        contacts=c,
                        approval=states[r],
                    )
                    if r in kept and r not in asked_again and states[r] == kept[r].approval:
                        row.decided_by = kept[r].decided_by
                        row.decided_at = kept[r].decided_at
                        row.decision_note = kept[r].decision_note
                    rows.append(row)
                record = MeetingRecord(meeting, rows)
                session.add_all(record.sites)
            else:
                for site in record.sites:
                    if states[site.room_id] != site.approval:
                        site.approval = states[site.room_id]
                        site.decided_by = site.decided_at = site.decision_note = None
            meeting.version += 1
            if timing or given & {"title", "sites", "agenda", "host_room_id", "invited"}:
                meeting.sequence += 1
            meeting.updated_at = self._clock()
            await self._record_change(session, actor, record, "update", organizer, before)
            await approval.tell_room_units(
                session,
                meeting,
                organizer,
                [s for s in record.sites if s.room_id in asked_again or s.room_id not in kept],
                public_url=self._public_url,
                now=self._clock(),
            )
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

    async def change_occurrence(
        self,
        actor: Actor,
        meeting_id: int,
        key: datetime,
        if_match: int | None,
        change: schemas.OccurrenceChange,
    ) -> MeetingRecord:
        async with self._sessions.begin() as session:
            await lock(session)
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
                    resolved = await resolve_sites(session, change.sites, meeting.mode)
                    await self._only_held_foreign_rooms(session, organizer, record, resolved)
                    row.sites = [{"room_id": r, "endpoint_id": e} for r, e, _ in resolved]
            merged = {**overrides, key: row}
            series = series_of(meeting, merged.values(), self._policy)
            if meeting.status == "scheduled" and not row.cancelled:
                sites = [
                    (s.room_id, s.endpoint_id, list(s.contacts or []))
                    for s in record.sites
                    if s.approval != DECLINED
                ]
                await self._conflicts.check(
                    session,
                    meeting.id,
                    series,
                    meeting.mode,
                    organizer,
                    meeting.preferred_bridge,
                    sites,
                    {k: list(o.sites) for k, o in merged.items() if o.sites is not None},
                    reader=actor.principal,
                )
            if key not in overrides:
                session.add(row)
            meeting.series_start, meeting.series_end = span(series)
            await session.flush()
            await materialize(session, meeting, series, list(merged.values()), self._clock())
            meeting.version += 1
            meeting.sequence += 1
            meeting.updated_at = self._clock()
            await self._record_change(session, actor, record, "occurrence", organizer, before)
            return record

    async def _only_held_foreign_rooms(
        self,
        session: AsyncSession,
        organizer: Unit,
        record: MeetingRecord,
        resolved: list[tuple[int, int | None, list[str]]],
    ) -> None:
        """An occurrence may use another unit's room only once that unit accepted it as a
        site of the meeting: an override must not take a room the request did not get."""
        units = await approval.room_units(session, [r for r, _, _ in resolved])
        accepted = {s.room_id for s in approval.held(record.sites)}
        problems = [
            FieldProblem(
                f"sites.{index}.room_id",
                "another unit's room: add it as a site of the meeting and wait for its unit "
                "to accept",
            )
            for index, (room, _, _) in enumerate(resolved)
            if approval.foreign(units[room][1].path, organizer.path) and room not in accepted
        ]
        if problems:
            raise InvalidInput(
                "some sites are not yet accepted by their rooms' units", problems=problems
            )

    async def decide(
        self, actor: Actor, meeting_id: int, site_id: int, decision: str, note: str | None
    ) -> dict[str, Any]:
        """The room's unit accepts or declines a site in its room (declining also after an
        acceptance takes the room out).  Accepting checks that the room is free."""
        async with self._sessions.begin() as session:
            await lock(session)
            site = await session.scalar(
                select(MeetingSite).where(
                    MeetingSite.id == site_id, MeetingSite.meeting_id == meeting_id
                )
            )
            units = await approval.room_units(session, [site.room_id] if site else [])
            if site is None or not actor.principal.sees(units[site.room_id][1].path):
                raise NotFound("no such site")
            room, room_unit = units[site.room_id]
            meeting = await session.get(Meeting, meeting_id)
            organizer = await session.get(Unit, meeting.organizer_unit_id) if meeting else None
            if meeting is None or organizer is None:
                raise NotFound("no such site")
            if not approval.foreign(room_unit.path, organizer.path):
                raise SiteNotRequested(
                    "the room belongs to the organiser's own units: change the meeting's sites"
                )
            if meeting.status in CLOSED:
                raise MeetingClosed(f"the meeting is {meeting.status}: nothing to decide")
            state = ACCEPTED if decision == "accept" else DECLINED
            before = approval.site_view(site)
            if site.approval != state or (note is not None and note != site.decision_note):
                if state == ACCEPTED and meeting.status in HOLDS_RESOURCES:
                    await self._check_room(session, actor, meeting, organizer, site)
                records = list(
                    (
                        await session.execute(
                            select(MeetingSite).where(MeetingSite.meeting_id == meeting.id)
                        )
                    ).scalars()
                )
                meeting_before = meeting_view(meeting, records)
                site.approval = state
                site.decided_by = actor.principal.label
                site.decided_at = self._clock()
                site.decision_note = note
                meeting.version += 1
                meeting.sequence += 1
                meeting.updated_at = self._clock()
                await self._record_change(
                    session,
                    actor,
                    MeetingRecord(meeting, records),
                    f"site-{state}",
                    organizer,
                    meeting_before,
                )
                audit.record(
                    session,
                    actor,
                    at=self._clock(),
                    action=f"site-{state}",
                    entity="meeting_site",
                    entity_id=site.id,
                    unit_path=room_unit.path,
                    before=before,
                    after=approval.site_view(site),
                )
                await approval.tell_organizer(
                    session,
                    meeting,
                    organizer,
                    site,
                    room,
                    room_unit,
                    public_url=self._public_url,
                    now=self._clock(),
                )
            return approval.request_view(site, room, room_unit, meeting, organizer)

    async def _check_room(
        self,
        session: AsyncSession,
        actor: Actor,
        meeting: Meeting,
        organizer: Unit,
        site: MeetingSite,
    ) -> None:
        overrides = list(
            (
                await session.execute(
                    select(MeetingOverride).where(MeetingOverride.meeting_id == meeting.id)
                )
            ).scalars()
        )
        # Only this room is checked: the meeting's other sites and its ports were checked
        # when it was booked (its pending sites counted towards the ports then).
        await self._conflicts.check(
            session,
            meeting.id,
            series_of(meeting, overrides, self._policy),
            meeting.mode,
            organizer,
            meeting.preferred_bridge,
            [(site.room_id, site.endpoint_id, [])],
            {
                o.occurrence_key: [s for s in o.sites if int(s["room_id"]) == site.room_id]
                for o in overrides
                if o.sites is not None
            },
            reader=actor.principal,
            ports=False,
        )
