"""When each endpoint is next probed.

Every endpoint has its own fixed phase within its interval, derived from a hash of its id
and a seed: endpoint 17 with a 60 s interval is probed at, say, second 23 of every minute,
endpoint 18 at second 51.  So probes spread evenly over the interval instead of bursting
at its start, the plan survives restarts unchanged (nothing to store), and a change of
interval (an endpoint becoming "hot" before its meeting) takes effect within one new
interval.  Slots are counted from a fixed epoch, so all of this is arithmetic on ``now``.

An endpoint is "hot" while a meeting it takes part in starts within the hour or is live;
hot endpoints are probed at the shorter hot interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

EndpointId = int | str

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Cadence:
    """Probe intervals: ``interval`` normally, ``hot_interval`` around meetings."""

    interval: timedelta = timedelta(seconds=60)
    hot_interval: timedelta = timedelta(seconds=10)
    hot_lead: timedelta = timedelta(hours=1)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.interval < timedelta(seconds=1) or self.hot_interval < timedelta(seconds=1):
            raise ValueError("probe intervals must be at least one second")
        if self.hot_lead < timedelta(0):
            raise ValueError("hot_lead must not be negative")


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("times must be timezone-aware")


def _micros(delta: timedelta) -> int:
    return delta // _MICROSECOND


@lru_cache(maxsize=131_072)
def _phase_micros(endpoint_id: EndpointId, step: int, seed: int) -> int:
    # Cached: a leader asks for every endpoint's phase once a second.
    digest = hashlib.blake2b(f"{seed}:{endpoint_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") * step >> 64


def phase(endpoint_id: EndpointId, interval: timedelta, seed: int = 0) -> timedelta:
    """The endpoint's fixed offset within ``interval``: uniform, deterministic per seed."""
    return timedelta(microseconds=_phase_micros(endpoint_id, _micros(interval), seed))


def interval_for(
    endpoint_id: EndpointId,
    cadence: Cadence,
    *,
    hot: Set[EndpointId] = frozenset(),
    own_interval: timedelta | None = None,
) -> timedelta:
    """The interval that applies now: the endpoint's own (or the default), shorter if hot."""
    interval = own_interval if own_interval is not None else cadence.interval
    if endpoint_id in hot:
        return min(interval, cadence.hot_interval)
    return interval


def next_due(
    endpoint_id: EndpointId, after: datetime, interval: timedelta, seed: int = 0
) -> datetime:
    """The endpoint's first probe slot strictly after ``after``."""
    _require_aware(after)
    step = _micros(interval)
    if step <= 0:
        raise ValueError("interval must be positive")
    offset = _phase_micros(endpoint_id, step, seed)
    elapsed = _micros(after - _EPOCH) - offset
    slot = elapsed // step + 1
    return _EPOCH + timedelta(microseconds=offset + slot * step)


def due_between(
    endpoints: Iterable[tuple[EndpointId, timedelta | None]],
    since: datetime,
    until: datetime,
    cadence: Cadence,
    *,
    hot: Set[EndpointId] = frozenset(),
) -> list[EndpointId]:
    """Endpoints with a probe slot in ``(since, until]``, each once, in input order.

    ``endpoints`` pairs each id with its own interval (None for the default).  A scheduler
    calls this once per tick with the previous tick's ``until`` as ``since``, so no slot is
    served twice or skipped; a tick that runs late by more than an interval probes the
    endpoint once, not once per missed slot.
    """
    _require_aware(since)
    _require_aware(until)
    if until <= since:
        return []
    # next_due(...) <= until, in integer microseconds: this runs for every endpoint on
    # every tick (10,000 endpoints, once a second), so no datetime arithmetic per endpoint.
    since_us = _micros(since - _EPOCH)
    until_us = _micros(until - _EPOCH)
    steps: dict[timedelta, int] = {}
    seed = cadence.seed
    due: list[EndpointId] = []
    for endpoint_id, own in endpoints:
        interval = interval_for(endpoint_id, cadence, hot=hot, own_interval=own)
        step = steps.get(interval)
        if step is None:
            step = steps[interval] = _micros(interval)
            if step <= 0:
                raise ValueError("interval must be positive")
        offset = _phase_micros(endpoint_id, step, seed)
        if offset + ((since_us - offset) // step + 1) * step <= until_us:
            due.append(endpoint_id)
    return due


def is_hot(start: datetime, end: datetime, now: datetime, lead: timedelta) -> bool:
    """A meeting makes its sites hot from ``lead`` before its start until its end."""
    _require_aware(start)
    _require_aware(end)
    _require_aware(now)
    return start - lead <= now < end


def hot_endpoints(
    meetings: Iterable[tuple[datetime, datetime, Iterable[EndpointId]]],
    now: datetime,
    cadence: Cadence,
) -> set[EndpointId]:
    """Endpoints of every meeting (start, end, endpoint ids) that is hot at ``now``."""
    hot: set[EndpointId] = set()
    for start, end, endpoint_ids in meetings:
        if is_hot(start, end, now, cadence.hot_lead):
            hot.update(endpoint_ids)
    return hot
