"""Overlap maths for bookings: room/endpoint clashes, free/busy, bridge port capacity.

Every span is half-open, ``[start, end)``: two meetings that touch (one ends at 10:00,
the next starts at 10:00) do not overlap.  A *setup buffer* is room time needed between
two meetings: with a buffer ``b`` two spans clash when the gap between them is less than
``b`` (a gap of exactly ``b`` is fine).

Inputs are aware datetimes in any zone; they are compared in UTC (two datetimes that share
a tzinfo would otherwise compare as wall times, wrong across a DST fold) and the times
returned by the port and free/busy functions are UTC.

All functions are pure and run in O(n log n + k) for n spans and k reported results
(sort, then one sweep over the span ends), so thousands of overlapping bookings are cheap.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

__all__ = [
    "BookedOccurrence",
    "Clash",
    "FreeBusy",
    "PortPeriod",
    "PortUse",
    "ResourceKind",
    "bridge_port_demand",
    "find_clashes",
    "free_busy",
    "overlaps",
    "peak_ports",
    "port_shortfalls",
    "port_timeline",
]

Ref = int | str
"""A meeting, room, endpoint or bridge id; opaque here."""
ResourceKind = Literal["room", "endpoint"]
_B = TypeVar("_B", bound=Hashable)


def overlaps(
    a_start: datetime,
    a_end: datetime,
    b_start: datetime,
    b_end: datetime,
    *,
    buffer: timedelta = timedelta(0),
) -> bool:
    """Do ``[a_start, a_end)`` and ``[b_start, b_end)`` clash, given a setup buffer?

    The buffer widens ``a`` on both sides, so the spans clash when the gap between them
    is less than ``buffer``.
    """
    if buffer < timedelta(0):
        raise ValueError("a setup buffer cannot be negative")
    return _utc(a_start) - buffer < _utc(b_end) and _utc(b_start) < _utc(a_end) + buffer


@dataclass(frozen=True)
class BookedOccurrence:
    """One occurrence of a meeting with the rooms and endpoints it holds."""

    meeting_id: Ref | None
    occurrence_key: datetime
    start: datetime
    end: datetime
    rooms: frozenset[Ref] = frozenset()
    endpoints: frozenset[Ref] = frozenset()


@dataclass(frozen=True)
class Clash:
    """A candidate occurrence wants a room or endpoint that an existing occurrence holds.

    ``meeting_id``, ``occurrence_key``, ``start`` and ``end`` describe the *existing*
    occurrence; ``candidate_key`` names the candidate occurrence that clashes with it.
    """

    resource_kind: ResourceKind
    resource_id: Ref
    meeting_id: Ref | None
    occurrence_key: datetime
    start: datetime
    end: datetime
    candidate_key: datetime


def find_clashes(
    candidate: Iterable[BookedOccurrence],
    existing: Iterable[BookedOccurrence],
    *,
    buffer: timedelta = timedelta(0),
) -> list[Clash]:
    """Every (candidate occurrence, existing occurrence, room or endpoint) that clashes.

    Existing occurrences of the candidate's own meeting (same non-``None`` ``meeting_id``)
    are ignored, so an edit is not in conflict with the meeting's previous version.
    Sorted by candidate start, then existing start, then resource.
    """
    if buffer < timedelta(0):
        raise ValueError("a setup buffer cannot be negative")
    wanted = list(candidate)
    own = {occ.meeting_id for occ in wanted if occ.meeting_id is not None}
    by_resource_new: dict[tuple[ResourceKind, Ref], list[BookedOccurrence]] = defaultdict(list)
    by_resource_old: dict[tuple[ResourceKind, Ref], list[BookedOccurrence]] = defaultdict(list)
    for occ in wanted:
        for resource in _resources(occ):
            by_resource_new[resource].append(occ)
    for occ in existing:
        if occ.meeting_id is not None and occ.meeting_id in own:
            continue
        for resource in _resources(occ):
            if resource in by_resource_new:
                by_resource_old[resource].append(occ)

    found: list[tuple[BookedOccurrence, BookedOccurrence, tuple[ResourceKind, Ref]]] = []
    for resource, olds in by_resource_old.items():
        news = by_resource_new[resource]
        widened = [(_utc(occ.start) - buffer, _utc(occ.end) + buffer) for occ in news]
        spans = [(_utc(occ.start), _utc(occ.end)) for occ in olds]
        for i, j in _intersecting_pairs(widened, spans):
            found.append((news[i], olds[j], resource))
    found.sort(key=lambda t: (t[0].start, t[1].start, t[2][0], str(t[2][1])))
    return [
        Clash(
            resource_kind=kind,
            resource_id=ref,
            meeting_id=old.meeting_id,
            occurrence_key=old.occurrence_key,
            start=old.start,
            end=old.end,
            candidate_key=new.occurrence_key,
        )
        for new, old, (kind, ref) in found
    ]


def _utc(moment: datetime) -> datetime:
    # Aware datetimes sharing a tzinfo compare and subtract as wall times, blind to DST.
    return moment.astimezone(UTC)


def _resources(occ: BookedOccurrence) -> Iterator[tuple[ResourceKind, Ref]]:
    for room in occ.rooms:
        yield ("room", room)
    for endpoint in occ.endpoints:
        yield ("endpoint", endpoint)


def _intersecting_pairs(
    a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]
) -> Iterator[tuple[int, int]]:
    """Index pairs (i, j) with ``a[i]`` and ``b[j]`` intersecting (half-open), each once.

    A sweep by start: the later-starting span of a pair meets the other one still active.
    """
    order = sorted(
        [(span[0], 0, i) for i, span in enumerate(a)]
        + [(span[0], 1, j) for j, span in enumerate(b)]
    )
    active: tuple[list[tuple[datetime, int]], list[tuple[datetime, int]]] = ([], [])
    spans = (a, b)
    for start, side, index in order:
        other = active[1 - side]
        while other and other[0][0] <= start:
            heapq.heappop(other)
        end = spans[side][index][1]
        if end <= start:
            continue  # an empty span meets nothing
        for _, other_index in other:
            yield (index, other_index) if side == 0 else (other_index, index)
        heapq.heappush(active[side], (end, index))


@dataclass(frozen=True)
class FreeBusy:
    """One stretch of a room's time: busy or free."""

    start: datetime
    end: datetime
    busy: bool


def free_busy(
    spans: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime
) -> list[FreeBusy]:
    """Cut ``[start, end)`` into alternating free and busy stretches given the busy spans."""
    if end <= start:
        raise ValueError("the window must end after it starts")
    start, end = _utc(start), _utc(end)
    utc_spans = ((_utc(s), _utc(e)) for s, e in spans)
    clipped = sorted(
        (max(s, start), min(e, end)) for s, e in utc_spans if s < e and s < end and e > start
    )
    blocks: list[tuple[datetime, datetime]] = []
    for s, e in clipped:
        if blocks and s <= blocks[-1][1]:
            blocks[-1] = (blocks[-1][0], max(blocks[-1][1], e))
        else:
            blocks.append((s, e))
    result: list[FreeBusy] = []
    cursor = start
    for s, e in blocks:
        if s > cursor:
            result.append(FreeBusy(cursor, s, busy=False))
        result.append(FreeBusy(s, e, busy=True))
        cursor = e
    if cursor < end:
        result.append(FreeBusy(cursor, end, busy=False))
    return result


def bridge_port_demand(
    sites: Mapping[_B, int], links: Iterable[tuple[_B, _B]] = ()
) -> dict[_B, int]:
    """Ports one meeting takes on each bridge: its sites there, plus one per cascade link end.

    ``sites`` maps a bridge to the number of sites it hosts; each link ``(x, y)`` between
    two bridges costs one port on ``x`` and one on ``y``.
    """
    demand: dict[_B, int] = {bridge: count for bridge, count in sites.items() if count}
    for count in sites.values():
        if count < 0:
            raise ValueError("a site count cannot be negative")
    for x, y in links:
        if x == y:
            raise ValueError(f"a cascade link joins two different bridges, not {x!r} to itself")
        demand[x] = demand.get(x, 0) + 1
        demand[y] = demand.get(y, 0) + 1
    return demand


@dataclass(frozen=True)
class PortUse:
    """``ports`` ports of one bridge pool held during ``[start, end)``."""

    start: datetime
    end: datetime
    ports: int


@dataclass(frozen=True)
class PortPeriod:
    """A stretch during which port use is constant; ``free`` is negative when overbooked."""

    start: datetime
    end: datetime
    in_use: int
    free: int


def port_timeline(
    uses: Iterable[PortUse], *, capacity: int, start: datetime, end: datetime
) -> list[PortPeriod]:
    """The step function of port use over ``[start, end)`` for one bridge pool.

    Adjacent stretches with equal use are merged; the periods cover the whole window.
    """
    return [
        PortPeriod(s, e, total, capacity - total)
        for s, e, total, _ in _steps(((u, False) for u in uses), start, end)
    ]


def peak_ports(uses: Iterable[PortUse], *, start: datetime, end: datetime) -> int:
    """The largest number of ports in use at any instant of ``[start, end)``."""
    return max(
        (total for _, _, total, _ in _steps(((u, False) for u in uses), start, end)), default=0
    )


def port_shortfalls(
    existing: Iterable[PortUse], candidate: Iterable[PortUse], *, capacity: int
) -> list[PortPeriod]:
    """Stretches where adding ``candidate`` takes the pool over ``capacity``.

    Only stretches during which the candidate holds ports are reported, so an overbooking
    the candidate does not touch is not held against it.
    """
    wanted = [u for u in candidate if u.ports and u.end > u.start]
    if not wanted:
        return []
    start = min(u.start for u in wanted)
    end = max(u.end for u in wanted)
    tagged = [(u, False) for u in existing] + [(u, True) for u in wanted]
    return [
        PortPeriod(s, e, total, capacity - total)
        for s, e, total, mine in _steps(tagged, start, end)
        if mine > 0 and total > capacity
    ]


def _steps(
    uses: Iterable[tuple[PortUse, bool]],
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, datetime, int, int]]:
    """(from, to, total ports, candidate ports) stretches covering ``[start, end)``."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError("the window must end after it starts")
    deltas: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for use, mine in uses:
        if use.ports < 0:
            raise ValueError("a port count cannot be negative")
        use_start, use_end = _utc(use.start), _utc(use.end)
        if not use.ports or use_end <= start or use_start >= end or use_end <= use_start:
            continue
        begin = deltas[max(use_start, start)]
        finish = deltas[min(use_end, end)]
        begin[0] += use.ports
        finish[0] -= use.ports
        if mine:
            begin[1] += use.ports
            finish[1] -= use.ports
    steps: list[tuple[datetime, datetime, int, int]] = []
    total = mine_total = 0
    cursor = start
    for moment in sorted(deltas):
        if moment > cursor:
            _push(steps, cursor, moment, total, mine_total)
            cursor = moment
        delta = deltas[moment]
        total += delta[0]
        mine_total += delta[1]
    if cursor < end:
        _push(steps, cursor, end, total, mine_total)
    return steps


def _push(
    steps: list[tuple[datetime, datetime, int, int]],
    start: datetime,
    end: datetime,
    total: int,
    mine: int,
) -> None:
    if steps and steps[-1][2:] == (total, mine):
        steps[-1] = (steps[-1][0], end, total, steps[-1][3])
    else:
        steps.append((start, end, total, mine))
