"""One occurrence's attendance from what was loaded: pure (``now`` is a parameter)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vcorch.attendance.intervals import (
    CHANNELS,
    Channel,
    Observation,
    ParticipantTimeline,
    build_timelines,
)
from vcorch.attendance.loader import OccurrenceData, Place
from vcorch.attendance.mapping import SiteRef, observations_of_run
from vcorch.attendance.models import CheckIn, RosterEntry
from vcorch.attendance.outcome import AttendancePolicy, SiteOutcome, Window, judge

CLOSED_RUN = frozenset({"ended", "missed", "failed"})


@dataclass(frozen=True)
class SiteReport:
    place: Place
    outcome: SiteOutcome
    participants: tuple[ParticipantTimeline, ...]
    headcount: int | None
    checked_in: int


@dataclass(frozen=True)
class OccurrenceReport:
    data: OccurrenceData
    window: Window
    sites: list[SiteReport]
    unmatched: tuple[ParticipantTimeline, ...]
    roster: list[RosterEntry]
    checkins: list[CheckIn]

    @property
    def run_status(self) -> str:
        if self.data.run is not None:
            return self.data.run.status
        return "not_launched"

    def counts(self) -> Counter[str]:
        return Counter(site.outcome.status for site in self.sites)


def window_of(data: OccurrenceData, now: datetime) -> tuple[Window, datetime]:
    """The meeting as measured, and when participants still in are taken to have left."""
    run = data.run
    if run is not None:
        start = run.start_at
        if run.status in CLOSED_RUN:
            end = max(start, run.ended_at or run.end_at)
            return Window(start, end, closed=True), end
        return Window(start, max(start, now), closed=False), now
    start, end = data.ref.start, data.ref.end
    if now >= end:
        return Window(start, end, closed=True), end
    return Window(start, max(start, now), closed=False), now


def entry_channel(stored: str) -> Channel:
    """A manual entry's channel; ``webrtc_fallback`` is how entries made before the
    channels were unified name a browser."""
    if stored == "webrtc_fallback":
        return "browser"
    for channel in CHANNELS:
        if channel == stored:
            return channel
    return "in_person"


def manual_observations(data: OccurrenceData) -> list[Observation]:
    found: list[Observation] = []
    for entry in data.entries:
        channel = entry_channel(entry.channel)
        participant = f"manual|{entry.id}"
        for kind, at in (("join", entry.start_at), ("leave", entry.end_at)):
            found.append(
                Observation(
                    key=f"manual:{entry.id}:{kind}",
                    kind="join" if kind == "join" else "leave",
                    participant=participant,
                    at=at,
                    source="manual",
                    channel=channel,
                    site=entry.room_id,
                    display_name=entry.note,
                )
            )
    return found


def site_refs(places: Sequence[Place]) -> list[SiteRef]:
    return [
        SiteRef(
            run_site_id=p.run_site_id,
            room_id=p.room_id,
            participant_id=p.participant_id,
            endpoint_address=p.endpoint_address,
            endpoint_kind=p.endpoint_kind,
            state=p.state or "pending",
            bridge=p.bridge,
            channel=p.channel,
        )
        for p in places
        if p.run_site_id is not None
    ]


def build_report(
    data: OccurrenceData,
    *,
    policy: AttendancePolicy,
    now: datetime,
    builtin_bridges: frozenset[str],
    roster: Sequence[RosterEntry] = (),
) -> OccurrenceReport:
    window, close_at = window_of(data, now)
    observations = manual_observations(data)
    if data.run is not None:
        observations.extend(
            observations_of_run(
                data.reports,
                data.conferences,
                site_refs(data.places),
                builtin_bridges=builtin_bridges,
            )
        )
    timelines = build_timelines(
        observations,
        close_at=close_at,
        closed=window.closed,
        reconnect_grace=policy.reconnect_grace,
        sites=[p.room_id for p in data.places],
    )
    per_room = Counter(c.room_id for c in data.checkins if c.room_id is not None)
    sites = []
    for place in data.places:
        timeline = timelines.sites[place.room_id]
        headcount = data.headcounts.get(place.room_id)
        sites.append(
            SiteReport(
                place=place,
                outcome=judge(timeline, window, policy),
                participants=timeline.participants,
                headcount=headcount.count if headcount is not None else None,
                checked_in=per_room.get(place.room_id, 0),
            )
        )
    return OccurrenceReport(
        data=data,
        window=window,
        sites=sites,
        unmatched=timelines.unmatched,
        roster=list(roster),
        checkins=list(data.checkins),
    )
