"""Did an online meeting really run?  From the bridges' own stored records.

:func:`measure_connection` is the one place that turns what attendance stores into the
numbers verification needs; :func:`vcorch.stats.rules.is_verified` decides.

What counts (bridge records only; an operator's manual entry shows attendance, not that a
conference ran):

- for an occurrence vcorch ran: the join/leave events the bridges pushed and the participant
  lists vcorch polled, mapped to the run's sites exactly as the attendance report maps them
  (:mod:`vcorch.attendance.mapping`);
- for a meeting recorded after the fact: the events of the conferences linked to the
  occurrence (``stats_conference_links``), mapped to its booked sites by endpoint address;
- a participant that maps to no site (a guest on a phone) is not a site.

Per site, intervals are built as attendance builds them (:mod:`...attendance.intervals`);
``sites_connected`` counts the sites with any connected time, ``peak_sites`` the most sites
connected at one moment.  ``sites_attended`` is the attendance report's own verdict (sites
not absent, manual entries included), kept for the dashboard's attendance rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.attendance import (
    RUN_MARGIN,
    AttendancePolicy,
    ConferenceRef,
    Interval,
    Observation,
    OccurrenceData,
    OccurrenceRef,
    Report,
    SiteRef,
    build_report,
    build_timelines,
    chunks,
    event_report,
    load_occurrences,
    observations_of_run,
    site_refs,
    window_of,
)
from vcorch.booking import Meeting, MeetingOccurrence
from vcorch.bridge_events import BridgeEventRecord
from vcorch.stats.models import ConferenceLink

Basis = Literal["run", "link", "none"]


@dataclass(frozen=True)
class Connection:
    basis: Basis
    sites_invited: int
    sites_connected: int
    peak_sites: int
    sites_attended: int


def peak_concurrency(per_site: Iterable[Sequence[Interval]]) -> int:
    """The most sites connected at one instant.  A site's own intervals do not overlap
    (they are a union); where one site leaves as another joins, they do not overlap either."""
    edges: list[tuple[datetime, int]] = []
    for intervals in per_site:
        for interval in intervals:
            if interval.end > interval.start:
                edges.append((interval.start, 1))
                edges.append((interval.end, -1))
    # At one instant, leaves (-1) are counted before joins (+1).
    edges.sort()
    current = peak = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def _linked_site_refs(data: OccurrenceData) -> list[SiteRef]:
    # No run, so no run sites: the booked sites stand in, matched by endpoint address only
    # (negative ids never equal a bridge's site tag, which is a run site's id).
    return [
        SiteRef(
            run_site_id=-(index + 1),
            room_id=place.room_id,
            participant_id=None,
            endpoint_address=place.endpoint_address,
            endpoint_kind=place.endpoint_kind,
            state="connected",
        )
        for index, place in enumerate(data.places)
    ]


def measure_connection(
    data: OccurrenceData,
    linked: Sequence[Report],
    links: Sequence[ConferenceRef],
    *,
    now: datetime,
    policy: AttendancePolicy,
    builtin_bridges: frozenset[str],
) -> Connection:
    """How many of the occurrence's sites the bridges' records show connected, and at most
    at once (see the module's rules)."""
    window, close_at = window_of(data, now)
    observations: list[Observation]
    basis: Basis
    if data.run is not None:
        basis = "run"
        observations = observations_of_run(
            data.reports,
            data.conferences,
            site_refs(data.places),
            builtin_bridges=builtin_bridges,
        )
    elif links:
        basis = "link"
        low, high = data.ref.start - RUN_MARGIN, data.ref.end + RUN_MARGIN
        observations = observations_of_run(
            [report for report in linked if low <= report.at <= high],
            links,
            _linked_site_refs(data),
            builtin_bridges=builtin_bridges,
        )
    else:
        basis = "none"
        observations = []
    rooms: list[Hashable] = [place.room_id for place in data.places]
    timelines = build_timelines(
        observations,
        close_at=close_at,
        closed=window.closed,
        reconnect_grace=policy.reconnect_grace,
        sites=rooms,
    )
    per_site = {
        site: [interval for interval in timeline.intervals if interval.end > interval.start]
        for site, timeline in timelines.sites.items()
    }
    connected = {site for site, intervals in per_site.items() if intervals}
    report = build_report(data, policy=policy, now=now, builtin_bridges=builtin_bridges)
    # The attendance report does not see linked records (it knows runs only): a site those
    # show connected took part too.
    attended = {s.place.room_id for s in report.sites if s.outcome.status != "absent"}
    return Connection(
        basis=basis,
        sites_invited=len(data.places),
        sites_connected=len(connected),
        peak_sites=peak_concurrency(per_site.values()),
        sites_attended=len(attended | connected),
    )


OccurrenceId = tuple[int, datetime]


async def measure_occurrences(
    session: AsyncSession,
    wanted: Sequence[OccurrenceId],
    *,
    now: datetime,
    policy: AttendancePolicy,
    builtin_bridges: frozenset[str],
) -> dict[OccurrenceId, Connection]:
    """:func:`measure_connection` for many occurrences, read in a few bulk queries."""
    if not wanted:
        return {}
    meeting_ids = sorted({meeting_id for meeting_id, _ in wanted})
    keys = set(wanted)
    meetings: dict[int, Meeting] = {}
    rows: dict[OccurrenceId, MeetingOccurrence] = {}
    links: dict[OccurrenceId, list[ConferenceLink]] = defaultdict(list)
    for part in chunks(meeting_ids):
        for meeting in (
            await session.execute(select(Meeting).where(Meeting.id.in_(part)))
        ).scalars():
            meetings[meeting.id] = meeting
        found = await session.execute(
            select(MeetingOccurrence).where(MeetingOccurrence.meeting_id.in_(part))
        )
        for row in found.scalars():
            if (row.meeting_id, row.occurrence_key) in keys:
                rows[(row.meeting_id, row.occurrence_key)] = row
        linked = await session.execute(
            select(ConferenceLink).where(ConferenceLink.meeting_id.in_(part))
        )
        for link in linked.scalars():
            if (link.meeting_id, link.occurrence_key) in keys:
                links[(link.meeting_id, link.occurrence_key)].append(link)
    refs = [
        OccurrenceRef(
            meeting=meetings[meeting_id],
            key=key,
            start=row.start_at,
            end=row.end_at,
            cancelled=row.cancelled,
            own_sites=row.own_sites,
        )
        for (meeting_id, key), row in sorted(rows.items())
    ]
    loaded = await load_occurrences(session, refs, now)
    reports = await _linked_reports(session, [link for group in links.values() for link in group])
    measured: dict[OccurrenceId, Connection] = {}
    for data in loaded:
        pair = (data.meeting.id, data.ref.key)
        mine = links.get(pair, [])
        measured[pair] = measure_connection(
            data,
            [
                report
                for link in mine
                for report in reports.get((link.bridge, link.conference_id), [])
            ],
            [ConferenceRef(link.bridge, link.conference_id, "host") for link in mine],
            now=now,
            policy=policy,
            builtin_bridges=builtin_bridges,
        )
    return measured


async def _linked_reports(
    session: AsyncSession, links: Sequence[ConferenceLink]
) -> dict[tuple[str, str], list[Report]]:
    pairs = sorted({(link.bridge, link.conference_id) for link in links})
    found: dict[tuple[str, str], list[Report]] = defaultdict(list)
    for part in chunks(pairs, 200):
        condition = or_(
            *(
                and_(BridgeEventRecord.bridge == bridge, BridgeEventRecord.conference_id == ident)
                for bridge, ident in part
            )
        )
        for row in (await session.execute(select(BridgeEventRecord).where(condition))).scalars():
            found[(row.bridge, row.conference_id)].append(event_report(row))
    return found
