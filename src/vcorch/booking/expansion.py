"""A validated series and its lazy expansion into occurrences (see ``recurrence``)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import islice

from dateutil.rrule import rrule as DateutilRule  # noqa: N812 - a class, named like one here
from dateutil.rrule import rrulestr

from vcorch.booking.errors import InvalidSchedule
from vcorch.booking.rrule import Rule
from vcorch.errors import FieldProblem

SiteRef = int | str
"""A site's id as the booking service knows it; opaque here."""

DEFAULT_LIMIT = 1000
"""Default cap on the occurrences one :func:`between` call returns."""
FIRST_YEAR = 1970
LAST_YEAR = 8999

# Wide enough that no zone's offset change can move an occurrence across it.
_SLACK = timedelta(days=2)


@dataclass(frozen=True)
class OccurrenceOverride:
    """A change to one occurrence, attached to its original start (``occurrence_key``).

    ``start``/``end`` move it (give one or both: a new start alone keeps the duration, a new
    end alone keeps the start); ``cancelled`` cancels it; ``site_ids`` replaces its sites
    (``None`` keeps the series' sites).
    """

    occurrence_key: datetime
    start: datetime | None = None
    end: datetime | None = None
    cancelled: bool = False
    site_ids: tuple[SiteRef, ...] | None = None


@dataclass(frozen=True)
class Occurrence:
    """One expanded occurrence; all times are aware UTC datetimes.

    ``key`` is the original start (RECURRENCE-ID) even when the occurrence was moved;
    ``site_ids`` is ``None`` when the occurrence keeps the series' sites.
    """

    key: datetime
    start: datetime
    end: datetime
    cancelled: bool = False
    moved: bool = False
    site_ids: tuple[SiteRef, ...] | None = None


@dataclass(frozen=True)
class Series:
    """A validated meeting series; build it with :func:`parse_series`, never directly."""

    start: datetime
    duration: timedelta
    timezone: str
    rrule: str | None
    exdates: frozenset[datetime]
    overrides: tuple[OccurrenceOverride, ...]
    _zone: tzinfo = field(repr=False, compare=False)
    _rule: Rule | None = field(repr=False, compare=False)
    _by_key: dict[datetime, OccurrenceOverride] = field(repr=False, compare=False)
    _moved: tuple[Occurrence, ...] = field(repr=False, compare=False)

    @property
    def end(self) -> datetime:
        """End of the first occurrence (as booked, before any override)."""
        return self.start + self.duration

    @property
    def zone(self) -> tzinfo:
        """The series' zone, resolved."""
        return self._zone

    @property
    def is_open_ended(self) -> bool:
        """True when the rule has neither COUNT nor UNTIL."""
        return self._rule is not None and self._rule.count is None and self._rule.until is None


def occurrence_key_text(key: datetime) -> str:
    """The stable text form of an occurrence key: UTC, RFC 5545 basic format (``...Z``)."""
    if key.tzinfo is None:
        raise ValueError("an occurrence key is an aware datetime")
    return key.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def invalid_schedule(problems: list[FieldProblem]) -> InvalidSchedule:
    detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
    return InvalidSchedule(f"invalid schedule: {detail}", problems=problems)


def check_instant(
    name: str, value: datetime, problems: list[FieldProblem], *, whole_seconds: bool = True
) -> None:
    if not isinstance(value, datetime):
        problems.append(FieldProblem(name, f"{name} must be a date-time"))
    elif value.tzinfo is None or value.utcoffset() is None:
        problems.append(
            FieldProblem(name, f"{name} must carry a UTC offset or zone (naive date-time given)")
        )
    elif whole_seconds and value.microsecond:
        problems.append(FieldProblem(name, f"{name} must be whole seconds"))


def iter_occurrences(
    series: Series, *, after: datetime | None = None, include_cancelled: bool = False
) -> Iterator[Occurrence]:
    """Yield the occurrences that end after ``after`` (all when ``None``), lazily.

    Occurrences come in order of their (possibly moved) start, then key.  Moved ones appear
    where they moved to; EXDATEs never appear; cancelled ones appear only on request.
    The generator is endless for an open-ended series: bound it.
    """
    if after is None:
        after = min([series.start, *(occ.start for occ in series._moved)])
    elif after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    after = after.astimezone(UTC)

    def regular() -> Iterator[Occurrence]:
        for key in regular_keys(series, after - series.duration, skip_excluded=True):
            override = series._by_key.get(key)
            if override is None:
                occ = Occurrence(key=key, start=key, end=key + series.duration)
            elif override.start is not None:
                continue  # it is yielded where it moved to
            else:
                occ = Occurrence(
                    key=key,
                    start=key,
                    end=key + series.duration,
                    cancelled=override.cancelled,
                    site_ids=override.site_ids,
                )
            if occ.end > after:
                yield occ

    moved = (occ for occ in series._moved if occ.end > after)
    for occ in heapq.merge(regular(), moved, key=lambda o: (o.start, o.key)):
        if include_cancelled or not occ.cancelled:
            yield occ


def between(
    series: Series,
    start: datetime,
    end: datetime,
    *,
    include_cancelled: bool = False,
    limit: int = DEFAULT_LIMIT,
) -> list[Occurrence]:
    """The occurrences whose span ``[start, end)`` meets the window ``[start, end)``.

    Half-open on both sides: an occurrence ending exactly at the window's start, or
    starting exactly at its end, is not in it.  Raises :class:`InvalidSchedule` (field
    ``from``/``to``) for a naive or empty window, or one holding more than ``limit``
    occurrences.
    """
    problems: list[FieldProblem] = []
    check_instant("from", start, problems, whole_seconds=False)
    check_instant("to", end, problems, whole_seconds=False)
    if not problems and end <= start:
        problems.append(FieldProblem("to", "to must be after from"))
    if problems:
        raise invalid_schedule(problems)
    found = list(
        islice(
            _take_before(
                iter_occurrences(series, after=start, include_cancelled=include_cancelled), end
            ),
            limit + 1,
        )
    )
    if len(found) > limit:
        raise invalid_schedule(
            [FieldProblem("to", f"the window holds more than {limit} occurrences; narrow it")]
        )
    return found


# --- expansion ------------------------------------------------------------------------------


def _take_before(occurrences: Iterator[Occurrence], end: datetime) -> Iterator[Occurrence]:
    for occ in occurrences:
        if occ.start >= end:
            return
        yield occ


def to_utc(local: datetime, zone: tzinfo) -> datetime:
    # fold=0: a repeated wall time means its first instance, a skipped one is read with the
    # offset before the gap (PEP 495), which is what RFC 5545 §3.3.5 prescribes.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def regular_keys(series: Series, since: datetime, *, skip_excluded: bool) -> Iterator[datetime]:
    """Original starts (UTC) at or after ``since``, in increasing order."""
    if since.year > LAST_YEAR:
        return
    since = max(since, series.start)
    rule = series._rule
    if rule is None:
        if series.start >= since and not (skip_excluded and series.start in series.exdates):
            yield series.start
        return
    local_start = series.start.astimezone(series._zone).replace(tzinfo=None)
    target = (since - _SLACK).astimezone(series._zone).replace(tzinfo=None)
    # COUNT is counted here, from the series' start, so that dateutil may start earlier
    # (at a week's WKST) or later (a jump) than the start without changing the count.
    remaining = rule.count
    dtstart = _rebase(rule, local_start, local_start if remaining is not None else target)
    engine = rrulestr(rule.engine_text, dtstart=dtstart)
    assert isinstance(engine, DateutilRule)  # narrowed: one RRULE line gives one rule
    local: datetime
    for local in engine:
        if local.year > LAST_YEAR:
            return
        key = to_utc(local, series._zone)
        if key < series.start:
            continue
        if rule.until is not None and key > rule.until:
            return
        if remaining is not None:
            if remaining == 0:
                return
            remaining -= 1
        if key < since or (skip_excluded and key in series.exdates):
            continue
        yield key


def _rebase(rule: Rule, first: datetime, target: datetime) -> datetime:
    """A dtstart for dateutil on the boundary of an active period, at or before ``target``.

    Starting dateutil there yields the same occurrences from then on as starting at
    ``first`` would, because the rule's defaults are explicit in ``engine_text`` and whole
    periods (days, weeks from WKST, months, years) are skipped in multiples of INTERVAL.
    A weekly rule always starts at its week's WKST: dateutil would otherwise apply
    BYSETPOS to the rest of the first week only, where RFC 5545 means the whole week.
    """
    n = rule.interval
    if rule.freq == "DAILY":
        k = max(0, (target.date() - first.date()).days // n)
        return first + timedelta(days=k * n)
    if rule.freq == "WEEKLY":
        week0 = first.date() - timedelta(days=(first.weekday() - rule.wkst) % 7)
        k = max(0, (target.date() - week0).days // 7 // n)
        return datetime.combine(week0 + timedelta(days=7 * n * k), first.time())
    if rule.freq == "MONTHLY":
        months = (target.year * 12 + target.month) - (first.year * 12 + first.month)
        k = months // n
        if k < 1:
            return first
        year, month0 = divmod(first.year * 12 + first.month - 1 + k * n, 12)
        return datetime.combine(date(year, month0 + 1, 1), first.time())
    k = (target.year - first.year) // n
    if k < 1:
        return first
    return datetime.combine(date(first.year + k * n, 1, 1), first.time())
