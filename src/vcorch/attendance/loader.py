"""Reading what attendance needs about occurrences, in a few bulk queries.

One occurrence (a meeting report) or many (a unit's period report) are read the same way:
their runs, sites, conferences, the bridges' reports, polled observations, manual entries,
headcounts and check-ins, each kind in one query (chunked), never one per site.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.attendance.mapping import ConferenceRef, Report
from vcorch.attendance.models import CheckIn, Headcount, ManualEntry, PolledObservation
from vcorch.booking import ACCEPTED, Meeting, MeetingOverride, MeetingSite
from vcorch.bridge_events import BridgeEventRecord
from vcorch.orchestration import MeetingRun, RunConference, RunSite
from vcorch.rooms import Endpoint, Room, Unit

CHUNK = 500
# Reports this far around a run still belong to it (a room dialled in before the start,
# a leave logged after the end); further out a reused conference id is another run's.
RUN_MARGIN = timedelta(hours=2)
T = TypeVar("T")


@dataclass(frozen=True)
class OccurrenceRef:
    meeting: Meeting
    key: datetime
    start: datetime
    end: datetime
    cancelled: bool = False
    own_sites: bool = False


@dataclass(frozen=True)
class Place:
    """A site of an occurrence, with what the report shows and mapping needs."""

    room_id: int
    room_name: str
    unit_id: int
    unit_name: str
    unit_code: str
    unit_path: str
    unit_zone: str | None
    endpoint_id: int | None
    endpoint_address: str | None
    endpoint_kind: str | None
    run_site_id: int | None = None
    participant_id: str | None = None
    state: str | None = None
    bridge: str | None = None
    channel: str | None = None  # the run site's (orchestration/channels.py)


@dataclass
class OccurrenceData:
    ref: OccurrenceRef
    run: MeetingRun | None
    places: list[Place]
    conferences: list[ConferenceRef] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    entries: list[ManualEntry] = field(default_factory=list)
    headcounts: dict[int, Headcount] = field(default_factory=dict)
    checkins: list[CheckIn] = field(default_factory=list)

    @property
    def meeting(self) -> Meeting:
        return self.ref.meeting


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


async def _all(session: AsyncSession, statement: Select[Any]) -> list[Any]:
    return list((await session.execute(statement)).scalars())


async def _by_ids(
    session: AsyncSession, column: Any, ids: Iterable[int], model: type[T]
) -> list[T]:
    wanted = sorted(set(ids))
    found: list[T] = []
    for part in chunks(wanted):
        found.extend(await _all(session, select(model).where(column.in_(part))))
    return found


def run_span(run: MeetingRun, now: datetime) -> tuple[datetime, datetime]:
    """The times a report may carry and still belong to this run."""
    began = min(run.start_at, run.launched_at or run.start_at)
    ended = run.ended_at or max(run.end_at, now)
    return began - RUN_MARGIN, ended + RUN_MARGIN


async def load_occurrences(
    session: AsyncSession, wanted: Sequence[OccurrenceRef], now: datetime, *, details: bool = True
) -> list[OccurrenceData]:
    """The occurrences with their runs and sites; with ``details``, also the reports,
    entries, headcounts and check-ins attendance is computed from."""
    if not wanted:
        return []
    meeting_ids = sorted({ref.meeting.id for ref in wanted})
    keys = {(ref.meeting.id, ref.key) for ref in wanted}
    runs: dict[tuple[int, datetime], MeetingRun] = {}
    for run in await _by_ids(session, MeetingRun.meeting_id, meeting_ids, MeetingRun):
        if (run.meeting_id, run.occurrence_key) in keys:
            runs[(run.meeting_id, run.occurrence_key)] = run
    run_ids = sorted(run.id for run in runs.values())
    run_sites = await _by_ids(session, RunSite.run_id, run_ids, RunSite)
    run_conferences = await _by_ids(session, RunConference.run_id, run_ids, RunConference)
    conference_by_row = {row.id: row for row in run_conferences}

    # Sites of occurrences without a run: the override's, else the meeting's.
    meeting_sites = await _by_ids(session, MeetingSite.meeting_id, meeting_ids, MeetingSite)
    overrides = {
        (o.meeting_id, o.occurrence_key): o
        for o in await _by_ids(session, MeetingOverride.meeting_id, meeting_ids, MeetingOverride)
    }
    sites_of_meeting: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for booked in meeting_sites:
        if booked.approval != ACCEPTED:
            continue
        sites_of_meeting[booked.meeting_id].append((booked.room_id, booked.endpoint_id))

    wanted_sites: dict[tuple[int, datetime], list[tuple[int, int | None]]] = {}
    for ref in wanted:
        pair = (ref.meeting.id, ref.key)
        if pair in runs:
            continue
        override = overrides.get(pair)
        if ref.own_sites and override is not None and override.sites is not None:
            wanted_sites[pair] = [
                (int(item["room_id"]), _optional_int(item.get("endpoint_id")))
                for item in override.sites
            ]
        else:
            wanted_sites[pair] = sites_of_meeting.get(ref.meeting.id, [])

    room_ids = {site.room_id for site in run_sites} | {
        room for sites in wanted_sites.values() for room, _ in sites
    }
    endpoint_ids = {site.endpoint_id for site in run_sites if site.endpoint_id} | {
        endpoint for sites in wanted_sites.values() for _, endpoint in sites if endpoint
    }
    rooms = {room.id: room for room in await _by_ids(session, Room.id, room_ids, Room)}
    units = {
        unit.id: unit
        for unit in await _by_ids(session, Unit.id, {r.unit_id for r in rooms.values()}, Unit)
    }
    endpoints = {e.id: e for e in await _by_ids(session, Endpoint.id, endpoint_ids, Endpoint)}

    def place(room_id: int, endpoint_id: int | None, **extra: Any) -> Place | None:
        room = rooms.get(room_id)
        if room is None:
            return None
        unit = units[room.unit_id]
        endpoint = endpoints.get(endpoint_id) if endpoint_id else None
        return Place(
            room_id=room.id,
            room_name=room.name,
            unit_id=unit.id,
            unit_name=unit.name,
            unit_code=unit.code,
            unit_path=unit.path,
            unit_zone=unit.timezone,
            endpoint_id=endpoint_id,
            endpoint_address=endpoint.address if endpoint else None,
            endpoint_kind=endpoint.kind if endpoint else None,
            **extra,
        )

    places_of_run: dict[int, list[Place]] = defaultdict(list)
    for site in sorted(run_sites, key=lambda s: s.id):
        conference = conference_by_row.get(site.conference_row_id or 0)
        made = place(
            site.room_id,
            site.endpoint_id,
            run_site_id=site.id,
            participant_id=site.participant_id,
            state=site.state,
            bridge=conference.bridge if conference else None,
            channel=site.channel,
        )
        if made is not None:
            places_of_run[site.run_id].append(made)

    reports_of_run: dict[int, list[Report]] = {}
    entries: dict[tuple[int, datetime], list[Any]] = {}
    headcounts: dict[tuple[int, datetime], list[Any]] = {}
    checkins: dict[tuple[int, datetime], list[Any]] = {}
    if details:
        reports_of_run = await _reports(
            session, list(runs.values()), run_conferences, run_sites, now
        )
        entries = await _occurrence_rows(session, ManualEntry, meeting_ids, keys)
        headcounts = await _occurrence_rows(session, Headcount, meeting_ids, keys)
        checkins = await _occurrence_rows(session, CheckIn, meeting_ids, keys)

    result: list[OccurrenceData] = []
    for ref in wanted:
        pair = (ref.meeting.id, ref.key)
        found = runs.get(pair)
        if found is not None:
            places = places_of_run.get(found.id, [])
        else:
            places = [
                made
                for room_id, endpoint_id in sorted(set(wanted_sites.get(pair, [])))
                if (made := place(room_id, endpoint_id)) is not None
            ]
        result.append(
            OccurrenceData(
                ref=ref,
                run=found,
                places=_unique_rooms(places),
                conferences=[
                    ConferenceRef(c.bridge, c.conference_id, c.role)
                    for c in run_conferences
                    if found is not None and c.run_id == found.id
                ],
                reports=reports_of_run.get(found.id, []) if found is not None else [],
                entries=[e for e in entries.get(pair, []) if e.retracted_at is None],
                headcounts={h.room_id: h for h in headcounts.get(pair, [])},
                checkins=sorted(checkins.get(pair, []), key=lambda c: (c.checked_in_at, c.id)),
            )
        )
    return result


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _unique_rooms(places: list[Place]) -> list[Place]:
    seen: set[int] = set()
    unique = []
    for item in places:
        if item.room_id not in seen:
            seen.add(item.room_id)
            unique.append(item)
    return unique


async def _occurrence_rows(
    session: AsyncSession,
    model: type[ManualEntry] | type[Headcount] | type[CheckIn],
    meeting_ids: Sequence[int],
    keys: set[tuple[int, datetime]],
) -> dict[tuple[int, datetime], list[Any]]:
    found: dict[tuple[int, datetime], list[Any]] = defaultdict(list)
    for row in await _by_ids(session, model.meeting_id, meeting_ids, model):
        pair = (row.meeting_id, row.occurrence_key)
        if pair in keys:
            found[pair].append(row)
    return found


async def _reports(
    session: AsyncSession,
    runs: list[MeetingRun],
    conferences: list[RunConference],
    sites: list[RunSite],
    now: datetime,
) -> dict[int, list[Report]]:
    """Pushed events and polled observations that may belong to each run (the mapping
    decides which do)."""
    if not runs:
        return {}
    spans = {run.id: run_span(run, now) for run in runs}
    pairs = sorted({(c.bridge, c.conference_id) for c in conferences})
    events: list[BridgeEventRecord] = []
    for part in chunks(pairs, 200):
        condition: ColumnElement[bool] = or_(
            *(
                and_(BridgeEventRecord.bridge == b, BridgeEventRecord.conference_id == c)
                for b, c in part
            )
        )
        events.extend(await _all(session, select(BridgeEventRecord).where(condition)))
    # Reports that do not name their conference: matched on participant ids the run knows.
    bridges = sorted({c.bridge for c in conferences})
    known_ids = sorted(
        {e.participant_id for e in events} | {s.participant_id for s in sites if s.participant_id}
    )
    if bridges and known_ids:
        low = min(span[0] for span in spans.values())
        high = max(span[1] for span in spans.values())
        for part_ids in chunks(known_ids):
            events.extend(
                await _all(
                    session,
                    select(BridgeEventRecord).where(
                        BridgeEventRecord.bridge.in_(bridges),
                        BridgeEventRecord.conference_id == "",
                        BridgeEventRecord.participant_id.in_(part_ids),
                        BridgeEventRecord.at >= low,
                        BridgeEventRecord.at <= high,
                    ),
                )
            )
    polled = await _by_ids(session, PolledObservation.run_id, spans, PolledObservation)
    bridges_of_run: dict[int, set[str]] = defaultdict(set)
    for conference in conferences:
        bridges_of_run[conference.run_id].add(conference.bridge)
    result: dict[int, list[Report]] = {run.id: [] for run in runs}
    for run in runs:
        low, high = spans[run.id]
        mine = bridges_of_run[run.id]
        result[run.id].extend(
            event_report(e) for e in events if e.bridge in mine and low <= e.at <= high
        )
    for row in polled:
        result[row.run_id].append(polled_report(row))
    return result


def event_report(row: BridgeEventRecord) -> Report:
    return Report(
        key=f"event:{row.bridge}:{row.event_id}",
        bridge=row.bridge,
        kind=row.kind,
        conference_id=row.conference_id,
        participant_id=row.participant_id,
        at=row.at,
        source="pushed",
        site_id=row.site_id,
        display_name=row.display_name,
        address=row.address,
    )


def polled_report(row: PolledObservation) -> Report:
    return Report(
        key=f"polled:{row.dedupe_key}",
        bridge=row.bridge,
        kind=row.kind,
        conference_id=row.conference_id,
        participant_id=row.participant_id,
        at=row.at,
        source="polled",
        site_id=row.site_tag,
        display_name=row.display_name,
        address=row.address,
    )
