"""Join/leave observations in, connected intervals out: pure, time is a parameter.

An *observation* says that a participant joined or left at a moment, as one source saw it:
a bridge's pushed event (hook or in-process), a participant list the orchestrator polled, the
built-in WebRTC bridge, or an operator's manual entry.  The same happening may be observed
several times (a replayed hook, a poll that saw what a lost event would have said), in any
order of arrival.  The result depends only on the *set* of observations:

- observations are de-duplicated by ``key`` and replayed in the order of their own time
  (``at``), never of arrival; at one instant a join comes before a leave (a zero-length
  visit is a smaller error than a phantom one that never ends);
- per participant, a join while already in and a leave while already out change nothing; a
  leave with no join before it opens nothing (bridges report calls that rang out or were
  refused that way) and is counted as ``unmatched_leaves`` so that a lost join shows;
- a participant still in when the observations end is closed at ``close_at`` (the run's end,
  or now while it is live) and marked;
- a site's intervals are the union of its participants' (a room system and a browser at
  once count once), and gaps up to ``reconnect_grace`` are bridged (a reconnect is one
  stay, not two).

Connected time is measured inside the meeting's window only, so it never exceeds its length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

Kind = Literal["join", "leave"]
Source = Literal["pushed", "polled", "builtin", "manual"]
# The ways a site takes part (orchestration's channels), and in person (a manual entry).
Channel = Literal["room_system", "browser", "gateway", "dial_in", "in_person"]
EndMark = Literal["left", "polled", "meeting_ended", "still_connected"]
StartMark = Literal["joined", "polled", "manual"]

KIND_ORDER: dict[str, int] = {"join": 0, "leave": 1}
# Which source names an interval's start or end when several saw the same instant.
SOURCE_ORDER: dict[str, int] = {"manual": 0, "pushed": 1, "builtin": 2, "polled": 3}
CHANNELS: tuple[Channel, ...] = ("room_system", "browser", "gateway", "dial_in", "in_person")


@dataclass(frozen=True)
class Observation:
    """One join or leave of one participant, as one source saw it.

    ``key`` identifies the report (the same report always has the same key); ``participant``
    identifies who (a bridge's participant in one conference, or a manual entry);
    ``site`` is the site it belongs to (``None``: nobody could tell).
    """

    key: str
    kind: Kind
    participant: str
    at: datetime
    source: Source
    channel: Channel = "room_system"
    site: Hashable | None = None
    display_name: str | None = None

    def order(self) -> tuple[datetime, int, int, str]:
        return (self.at, KIND_ORDER[self.kind], SOURCE_ORDER[self.source], self.key)


@dataclass(frozen=True)
class Interval:
    """A stretch of connection, with where its ends came from."""

    start: datetime
    end: datetime
    start_mark: StartMark = "joined"
    end_mark: EndMark = "left"
    channels: frozenset[Channel] = frozenset({"room_system"})
    sources: frozenset[Source] = frozenset({"pushed"})

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())

    def clipped_seconds(self, start: datetime, end: datetime) -> float:
        low, high = max(self.start, start), min(self.end, end)
        return max(0.0, (high - low).total_seconds())


@dataclass(frozen=True)
class ParticipantTimeline:
    participant: str
    site: Hashable | None
    display_name: str | None
    intervals: tuple[Interval, ...]
    unmatched_leaves: int = 0


@dataclass(frozen=True)
class SiteTimeline:
    site: Hashable
    intervals: tuple[Interval, ...]
    participants: tuple[ParticipantTimeline, ...]
    reconnects: int = 0
    unmatched_leaves: int = 0


@dataclass(frozen=True)
class Timelines:
    sites: dict[Hashable, SiteTimeline] = field(default_factory=dict)
    # Participants no site could be found for (guests, a mistyped address...).
    unmatched: tuple[ParticipantTimeline, ...] = ()


def dedupe(observations: Iterable[Observation]) -> list[Observation]:
    """One observation per key, in event-time order; which copy of a key is kept does not
    depend on the order they came in."""
    chosen: dict[str, Observation] = {}
    for item in observations:
        known = chosen.get(item.key)
        if known is None or _rank(item) < _rank(known):
            chosen[item.key] = item
    return sorted(chosen.values(), key=Observation.order)


def _rank(item: Observation) -> tuple[object, ...]:
    return (*item.order(), item.participant, item.channel, str(item.site), item.display_name or "")


def participant_timeline(
    participant: str, ordered: Sequence[Observation], close_at: datetime, closed: bool
) -> ParticipantTimeline:
    """Replay one participant's observations (already de-duplicated and ordered)."""
    intervals: list[Interval] = []
    opened: Observation | None = None
    channels: set[Channel] = set()
    sources: set[Source] = set()
    unmatched = 0
    for item in ordered:
        if item.kind == "join":
            if opened is None:
                opened = item
                channels = {item.channel}
                sources = {item.source}
            else:
                # Already in: a second report of the same stay (possibly by another source).
                channels.add(item.channel)
                sources.add(item.source)
            continue
        if opened is None:
            unmatched += 1
            continue
        sources.add(item.source)
        intervals.append(
            Interval(
                start=opened.at,
                end=item.at,
                start_mark=_start_mark(opened),
                end_mark="polled" if item.source == "polled" else "left",
                channels=frozenset(channels),
                sources=frozenset(sources),
            )
        )
        opened = None
    if opened is not None:
        intervals.append(
            Interval(
                start=opened.at,
                end=max(opened.at, close_at),
                start_mark=_start_mark(opened),
                end_mark="meeting_ended" if closed else "still_connected",
                channels=frozenset(channels),
                sources=frozenset(sources),
            )
        )
    site = next((item.site for item in ordered if item.site is not None), None)
    name = next((item.display_name for item in ordered if item.display_name), None)
    return ParticipantTimeline(participant, site, name, tuple(intervals), unmatched)


def _start_mark(item: Observation) -> StartMark:
    if item.source == "manual":
        return "manual"
    return "polled" if item.source == "polled" else "joined"


def merge(intervals: Iterable[Interval], grace: timedelta) -> tuple[list[Interval], int]:
    """Union of intervals, bridging gaps up to ``grace``; returns them and how many gaps
    were bridged (reconnects)."""
    ordered = sorted(intervals, key=lambda i: (i.start, i.end, i.end_mark))
    merged: list[Interval] = []
    bridged = 0
    for item in ordered:
        if merged and item.start <= merged[-1].end + grace:
            last = merged[-1]
            if item.start > last.end:
                bridged += 1
            end, end_mark = last.end, last.end_mark
            if item.end > last.end or (item.end == last.end and _open(item) and not _open(last)):
                end, end_mark = item.end, item.end_mark
            merged[-1] = Interval(
                start=last.start,
                end=end,
                start_mark=last.start_mark,
                end_mark=end_mark,
                channels=last.channels | item.channels,
                sources=last.sources | item.sources,
            )
        else:
            merged.append(item)
    return merged, bridged


def _open(item: Interval) -> bool:
    return item.end_mark in ("still_connected", "meeting_ended")


def build_timelines(
    observations: Iterable[Observation],
    *,
    close_at: datetime,
    closed: bool,
    reconnect_grace: timedelta,
    sites: Iterable[Hashable] = (),
) -> Timelines:
    """Per participant and per site intervals from any bag of observations.

    ``close_at`` is when a participant still in is taken to have left: the run's end once it
    is over (``closed``), else now.  ``sites`` lists the sites to report even when nothing
    was observed for them.
    """
    by_participant: dict[str, list[Observation]] = defaultdict(list)
    for item in dedupe(observations):
        by_participant[item.participant].append(item)
    per_site: dict[Hashable, list[ParticipantTimeline]] = {site: [] for site in sites}
    unmatched: list[ParticipantTimeline] = []
    for participant in sorted(by_participant):
        timeline = participant_timeline(participant, by_participant[participant], close_at, closed)
        if timeline.site is None:
            unmatched.append(timeline)
        else:
            per_site.setdefault(timeline.site, []).append(timeline)
    result: dict[Hashable, SiteTimeline] = {}
    for site, members in per_site.items():
        merged, bridged = merge(
            (interval for member in members for interval in member.intervals), reconnect_grace
        )
        result[site] = SiteTimeline(
            site=site,
            intervals=tuple(merged),
            participants=tuple(members),
            reconnects=bridged,
            unmatched_leaves=sum(member.unmatched_leaves for member in members),
        )
    return Timelines(sites=result, unmatched=tuple(unmatched))


def connected_seconds(intervals: Iterable[Interval], start: datetime, end: datetime) -> float:
    """Seconds inside ``[start, end]`` covered by the (non-overlapping) intervals."""
    return sum(interval.clipped_seconds(start, end) for interval in intervals)


def seconds_by_channel(
    participants: Iterable[ParticipantTimeline], start: datetime, end: datetime
) -> dict[Channel, float]:
    """Connected seconds per way of taking part; each channel's own union, so that two
    participants on one channel at once count once."""
    spans: dict[Channel, list[Interval]] = defaultdict(list)
    for member in participants:
        for interval in member.intervals:
            for channel in interval.channels:
                spans[channel].append(interval)
    totals: dict[Channel, float] = {}
    for channel in CHANNELS:
        if spans.get(channel):
            union, _ = merge(spans[channel], timedelta(0))
            seconds = connected_seconds(union, start, end)
            if seconds > 0:
                totals[channel] = seconds
    return totals
