"""Meeting series: validation and lazy expansion of RFC 5545 recurrences.

A *series* is a first start (an aware instant), a duration, an IANA zone, an optional
RRULE, EXDATEs and per-occurrence overrides.  A single meeting is a series of one.

Decisions (each one is tested):

- The rule is expanded with dateutil on *local wall-clock* times in the series' zone, then
  each occurrence is converted to UTC, so "every Monday 08:00 Asia/Ho_Chi_Minh" stays 08:00
  there whatever other zones do.
- A wall time that does not exist (spring-forward gap) is read with the offset in force
  before the gap, i.e. shifted forward by the gap's length (02:30 in New York on a
  spring-forward day is 03:30 EDT); a wall time that occurs twice (fall-back fold) means
  the first of the two (RFC 5545 §3.3.5).  A series whose own start is the *second* of two
  equal wall times is refused: RFC 5545 local times cannot name it.
- Every occurrence lasts exactly the series' duration (RFC 5545 §3.8.5.3, DTEND case).
- The start must itself be an occurrence of the rule (RFC 5545 says it SHOULD and leaves
  the other case undefined); this also proves the rule is not empty.
- UNTIL must be a UTC date-time (``...Z``) because the start is a zoned date-time
  (RFC 5545 §3.3.10); it is inclusive.  COUNT and UNTIL together are refused.
- Only DAILY, WEEKLY, MONTHLY and YEARLY are accepted, and BYHOUR/BYMINUTE/BYSECOND are
  refused: an occurrence's time of day is the start's, so occurrences are at least a day
  apart and their UTC starts strictly increase.
- An occurrence is identified by its *original* start in UTC (its RECURRENCE-ID), see
  :func:`occurrence_key_text`.  EXDATE removes an occurrence; an override moves, cancels or
  re-sites one and stays attached to that key wherever it moves.
- Open-ended rules are allowed but never materialised: :func:`iter_occurrences` is a
  generator, :func:`between` returns one window and refuses more than ``limit`` results.
  A window far in the future is reached by jumping whole recurrence periods, not by
  walking every occurrence since the start.
- Expansion stops at the year :data:`LAST_YEAR`: far enough for a calendar, and clear of
  the year-9999 edge of :mod:`datetime`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule as DateutilRule  # noqa: N812 - a class, named like one here
from dateutil.rrule import rrulestr

from vcorch.booking.errors import InvalidSchedule
from vcorch.errors import FieldProblem

__all__ = [
    "ALLOWED_FREQUENCIES",
    "DEFAULT_LIMIT",
    "LAST_YEAR",
    "MAX_COUNT",
    "MAX_DURATION",
    "MAX_EXCEPTIONS",
    "MAX_INTERVAL",
    "Occurrence",
    "OccurrenceOverride",
    "Series",
    "SiteRef",
    "between",
    "iter_occurrences",
    "occurrence_key_text",
    "parse_series",
]

SiteRef = int | str
"""A site's id as the booking service knows it; opaque here."""

ALLOWED_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MAX_COUNT = 1000
MAX_INTERVAL = 366
MAX_EXCEPTIONS = 1000
"""At most this many EXDATEs, and at most this many overrides, per series."""
MAX_DURATION = timedelta(hours=24)
DEFAULT_LIMIT = 1000
"""Default cap on the occurrences one :func:`between` call returns."""
FIRST_YEAR = 1970
LAST_YEAR = 8999

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_PART_ORDER = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYSETPOS",
    "WKST",
)
_TIME_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
# (lowest, highest) absolute value, and whether a sign is allowed (RFC 5545 §3.3.10).
_INT_LIST_RANGES: dict[str, tuple[int, int, bool]] = {
    "BYMONTH": (1, 12, False),
    "BYWEEKNO": (1, 53, True),
    "BYYEARDAY": (1, 366, True),
    "BYMONTHDAY": (1, 31, True),
    "BYSETPOS": (1, 366, True),
}
# Which BYxxx parts make sense for which frequency (RFC 5545 §3.3.10, the table's notes).
_ONLY_FOR: dict[str, tuple[str, ...]] = {
    "BYWEEKNO": ("YEARLY",),
    "BYYEARDAY": ("YEARLY",),
    "BYMONTHDAY": ("DAILY", "MONTHLY", "YEARLY"),
}
_BYDAY_ITEM = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_SIGNED_INT = re.compile(r"^[+-]?\d{1,3}$")
_UTC_STAMP = re.compile(r"^\d{8}T\d{6}Z$")
_LOCAL_STAMP = re.compile(r"^\d{8}(T\d{6})?$")
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
class _Rule:
    """A validated rule, split into what the user wrote and what dateutil is given."""

    canonical: str
    freq: str
    interval: int
    count: int | None
    until: datetime | None
    wkst: int
    # The rule without COUNT and UNTIL, with the defaults RFC 5545 takes from DTSTART
    # written out, so that dateutil may be started from any period boundary.
    engine_text: str


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
    _rule: _Rule | None = field(repr=False, compare=False)
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


def parse_series(
    *,
    start: datetime,
    end: datetime,
    timezone: str,
    rrule: str | None = None,
    exdates: Iterable[datetime] = (),
    overrides: Iterable[OccurrenceOverride] = (),
    max_duration: timedelta = MAX_DURATION,
) -> Series:
    """Validate a series and return it, or raise :class:`InvalidSchedule`.

    ``start`` and ``end`` are the first occurrence's bounds (aware, whole seconds); the
    duration ``end - start`` must be positive and at most ``max_duration``.  ``timezone``
    is an IANA name.  ``rrule`` is one RRULE value (``FREQ=WEEKLY;BYDAY=MO``, optionally
    prefixed ``RRULE:``) or ``None`` for a single meeting.  Every EXDATE and override key
    must be the original start of one of the series' occurrences.
    """
    problems: list[FieldProblem] = []
    zone = _parse_zone(timezone, problems)
    _check_instant("start", start, problems)
    _check_instant("end", end, problems)
    if problems:
        raise _invalid(problems)
    start_utc = start.astimezone(UTC)
    # In UTC: two datetimes sharing a tzinfo subtract as wall times, blind to DST.
    duration = end.astimezone(UTC) - start_utc
    if duration <= timedelta(0):
        problems.append(FieldProblem("end", "end must be after start"))
    elif duration > max_duration:
        problems.append(
            FieldProblem("end", f"a meeting lasts at most {_human(max_duration)}, not {duration}")
        )
    if not FIRST_YEAR <= start_utc.year <= LAST_YEAR - 1:
        problems.append(
            FieldProblem("start", f"start must lie between {FIRST_YEAR} and {LAST_YEAR - 1}")
        )
    assert zone is not None  # narrowed: a missing zone was reported above
    local_start = start_utc.astimezone(zone).replace(tzinfo=None)
    if not problems and _to_utc(local_start, zone) != start_utc:
        problems.append(
            FieldProblem(
                "start",
                f"{local_start:%Y-%m-%d %H:%M} occurs twice in {timezone} on that day and the"
                " start is the second one; RFC 5545 local times always mean the first, so"
                " pick another time",
            )
        )
    if problems:
        raise _invalid(problems)

    rule: _Rule | None = None
    if rrule is not None and rrule.strip():
        try:
            rule = _parse_rule(rrule, local_start, start_utc)
        except _RuleError as err:
            raise _invalid([FieldProblem("rrule", str(err))]) from err

    draft = Series(
        start=start_utc,
        duration=duration,
        timezone=timezone,
        rrule=rule.canonical if rule else None,
        exdates=frozenset(),
        overrides=(),
        _zone=zone,
        _rule=rule,
        _by_key={},
        _moved=(),
    )
    excluded = _parse_exdates(draft, exdates, problems)
    by_key = _parse_overrides(draft, overrides, excluded, max_duration, problems)
    if problems:
        raise _invalid(problems)
    moved = sorted(
        (_apply(o, duration) for o in by_key.values() if o.start is not None),
        key=lambda occ: (occ.start, occ.key),
    )
    series = Series(
        start=start_utc,
        duration=duration,
        timezone=timezone,
        rrule=draft.rrule,
        exdates=excluded,
        overrides=tuple(by_key[k] for k in sorted(by_key)),
        _zone=zone,
        _rule=rule,
        _by_key=by_key,
        _moved=tuple(moved),
    )
    if next(_regular_keys(series, start_utc, skip_excluded=True), None) is None:
        raise _invalid([FieldProblem("exdates", "the EXDATEs remove every occurrence")])
    return series


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
        for key in _regular_keys(series, after - series.duration, skip_excluded=True):
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
    _check_instant("from", start, problems, whole_seconds=False)
    _check_instant("to", end, problems, whole_seconds=False)
    if not problems and end <= start:
        problems.append(FieldProblem("to", "to must be after from"))
    if problems:
        raise _invalid(problems)
    found = list(
        islice(
            _take_before(
                iter_occurrences(series, after=start, include_cancelled=include_cancelled), end
            ),
            limit + 1,
        )
    )
    if len(found) > limit:
        raise _invalid(
            [FieldProblem("to", f"the window holds more than {limit} occurrences; narrow it")]
        )
    return found


# --- expansion ------------------------------------------------------------------------------


def _take_before(occurrences: Iterator[Occurrence], end: datetime) -> Iterator[Occurrence]:
    for occ in occurrences:
        if occ.start >= end:
            return
        yield occ


def _to_utc(local: datetime, zone: tzinfo) -> datetime:
    # fold=0: a repeated wall time means its first instance, a skipped one is read with the
    # offset before the gap (PEP 495), which is what RFC 5545 §3.3.5 prescribes.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _regular_keys(series: Series, since: datetime, *, skip_excluded: bool) -> Iterator[datetime]:
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
        key = _to_utc(local, series._zone)
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


def _rebase(rule: _Rule, first: datetime, target: datetime) -> datetime:
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


# --- validation -----------------------------------------------------------------------------


class _RuleError(ValueError):
    """Why an RRULE is refused; becomes a ``rrule`` field problem."""


def _invalid(problems: list[FieldProblem]) -> InvalidSchedule:
    detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
    return InvalidSchedule(f"invalid schedule: {detail}", problems=problems)


def _human(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hours"


def _parse_zone(name: str, problems: list[FieldProblem]) -> ZoneInfo | None:
    if not isinstance(name, str) or not name.strip():
        problems.append(FieldProblem("timezone", "timezone is required, e.g. Asia/Ho_Chi_Minh"))
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        # ValueError: a key that is not a relative path inside the zone database.
        problems.append(
            FieldProblem("timezone", f"unknown time zone {name!r}; use an IANA name ({err})")
        )
        return None


def _check_instant(
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


def _parse_rule(text: str, local_start: datetime, start_utc: datetime) -> _Rule:
    body = text.strip().upper()
    if body.startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if any(ch.isspace() for ch in body) or ":" in body:
        raise _RuleError(
            "give one RRULE value such as FREQ=WEEKLY;BYDAY=MO; DTSTART, EXDATE and other"
            " properties are separate fields"
        )
    parts: dict[str, str] = {}
    for chunk in body.split(";"):
        if not chunk:
            continue
        name, sep, value = chunk.partition("=")
        if not sep or not name or not value:
            raise _RuleError(f"{chunk!r} is not NAME=VALUE")
        if name in parts:
            raise _RuleError(f"{name} is given twice")
        if name in _TIME_PARTS:
            raise _RuleError(
                f"{name} is not supported: an occurrence starts at the series' start time"
            )
        if name not in _PART_ORDER:
            raise _RuleError(f"unknown rule part {name}; allowed: {', '.join(_PART_ORDER)}")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq is None:
        raise _RuleError("FREQ is required")
    if freq not in ALLOWED_FREQUENCIES:
        raise _RuleError(
            f"FREQ={freq} is not allowed for meetings; use one of {', '.join(ALLOWED_FREQUENCIES)}"
        )
    interval = _bounded_int(parts, "INTERVAL", 1, MAX_INTERVAL) or 1
    count = _bounded_int(parts, "COUNT", 1, MAX_COUNT)
    until = _parse_until(parts.get("UNTIL"), start_utc)
    if count is not None and until is not None:
        raise _RuleError("COUNT and UNTIL must not both be given (RFC 5545 §3.3.10)")
    for name, (low, high, signed) in _INT_LIST_RANGES.items():
        if name in parts:
            _check_int_list(name, parts[name], low, high, signed=signed)
    for name, freqs in _ONLY_FOR.items():
        if name in parts and freq not in freqs:
            raise _RuleError(f"{name} cannot be used with FREQ={freq}")
    if "BYDAY" in parts:
        _check_byday(parts["BYDAY"], freq, has_weekno="BYWEEKNO" in parts)
    if "BYSETPOS" in parts and not any(
        p in parts for p in ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")
    ):
        raise _RuleError("BYSETPOS needs another BYxxx part to select from")
    wkst_name = parts.get("WKST", "MO")
    if wkst_name not in _WEEKDAYS:
        raise _RuleError(f"WKST={wkst_name} is not a weekday ({', '.join(_WEEKDAYS)})")

    canonical = ";".join(f"{name}={parts[name]}" for name in _PART_ORDER if name in parts)
    engine = {k: v for k, v in parts.items() if k not in ("COUNT", "UNTIL")}
    engine["WKST"] = wkst_name  # explicit: dateutil's default follows calendar.firstweekday()
    _write_defaults(engine, freq, local_start)
    engine_text = ";".join(f"{name}={engine[name]}" for name in _PART_ORDER if name in engine)
    try:
        rrulestr(engine_text, dtstart=local_start)
    except ValueError as err:
        raise _RuleError(f"the rule is malformed: {err}") from err
    rule = _Rule(
        canonical=canonical,
        freq=freq,
        interval=interval,
        count=count,
        until=until,
        wkst=_WEEKDAYS.index(wkst_name),
        engine_text=engine_text,
    )
    if not _starts_period(rule, local_start):
        raise _RuleError(
            f"the start ({local_start:%a %Y-%m-%d %H:%M} local) is not itself an occurrence of"
            " the rule; RFC 5545 wants the start to be the first occurrence"
        )
    return rule


def _bounded_int(parts: dict[str, str], name: str, low: int, high: int) -> int | None:
    raw = parts.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _RuleError(f"{name} must be a whole number from {low} to {high}, not {raw}")
    return int(raw)


def _parse_until(raw: str | None, start_utc: datetime) -> datetime | None:
    if raw is None:
        return None
    if not _UTC_STAMP.match(raw):
        if _LOCAL_STAMP.match(raw):
            raise _RuleError(
                f"UNTIL={raw} must be a UTC date-time such as 20261231T235959Z: the start is"
                " a date-time in a named zone (RFC 5545 §3.3.10)"
            )
        raise _RuleError(f"UNTIL={raw} is not a date-time such as 20261231T235959Z")
    try:
        until = datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as err:
        raise _RuleError(f"UNTIL={raw} is not a valid date-time") from err
    if until < start_utc:
        raise _RuleError(f"UNTIL={raw} is before the start, so the rule yields nothing")
    return until


def _check_int_list(name: str, raw: str, low: int, high: int, *, signed: bool) -> None:
    for item in raw.split(","):
        if not _SIGNED_INT.match(item) or (not signed and item[0] in "+-"):
            raise _RuleError(f"{name} holds {item!r}, not a whole number")
        if not low <= abs(int(item)) <= high:
            sign = "±" if signed else ""
            raise _RuleError(f"{name} values lie in {sign}{low}..{high}, not {item}")


def _check_byday(raw: str, freq: str, *, has_weekno: bool) -> None:
    for item in raw.split(","):
        match = _BYDAY_ITEM.match(item)
        if match is None:
            raise _RuleError(f"BYDAY holds {item!r}; write MO..SU, optionally with +n/-n")
        ordinal = match.group(1)
        if ordinal is None:
            continue
        if freq not in ("MONTHLY", "YEARLY") or has_weekno:
            raise _RuleError(
                f"BYDAY={item}: a numbered weekday needs FREQ=MONTHLY or FREQ=YEARLY without"
                " BYWEEKNO"
            )
        limit = 5 if freq == "MONTHLY" else 53
        if not 1 <= abs(int(ordinal)) <= limit:
            raise _RuleError(f"BYDAY={item}: the number lies in ±1..{limit}")


def _write_defaults(parts: dict[str, str], freq: str, local_start: datetime) -> None:
    """Write out what RFC 5545 (and dateutil) would otherwise take from DTSTART."""
    day_level = ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")
    if any(p in parts for p in day_level):
        return
    if freq == "WEEKLY":
        parts["BYDAY"] = _WEEKDAYS[local_start.weekday()]
    elif freq == "MONTHLY":
        parts["BYMONTHDAY"] = str(local_start.day)
    elif freq == "YEARLY":
        parts.setdefault("BYMONTH", str(local_start.month))
        parts["BYMONTHDAY"] = str(local_start.day)


def _starts_period(rule: _Rule, local_start: datetime) -> bool:
    """Is ``local_start`` an occurrence of the rule's period that contains it?

    Judged on the whole period (RFC 5545 semantics, also for BYSETPOS).  The period is
    moved by whole 400-year Gregorian cycles (same weekdays, same leap years) close to the
    end of dateutil's range, and INTERVAL is made huge, so that dateutil stops right after
    that one period even when the rule never matches anything.
    """
    shift_years = max(0, (9598 - local_start.year) // 400) * 400
    moved_start = local_start.replace(year=local_start.year + shift_years)
    if rule.freq == "DAILY":
        period_start = moved_start
    elif rule.freq == "WEEKLY":
        period_start = moved_start - timedelta(days=(moved_start.weekday() - rule.wkst) % 7)
    elif rule.freq == "MONTHLY":
        period_start = moved_start.replace(day=1)
    else:
        period_start = moved_start.replace(month=1, day=1)
    huge = 12 * 10_000
    text = re.sub(r"(^|;)INTERVAL=\d+", "", rule.engine_text) + f";INTERVAL={huge}"
    candidate: datetime
    # Stopping at the first candidate past the start keeps a valid series cheap: dateutil
    # only makes its huge jump when the start is not found in the period.
    for candidate in rrulestr(text, dtstart=period_start):
        if candidate >= moved_start:
            return candidate == moved_start
    return False


def _parse_exdates(
    series: Series, exdates: Iterable[datetime], problems: list[FieldProblem]
) -> frozenset[datetime]:
    found: set[datetime] = set()
    for index, value in enumerate(exdates):
        if index >= MAX_EXCEPTIONS:
            problems.append(FieldProblem("exdates", f"at most {MAX_EXCEPTIONS} EXDATEs"))
            break
        if not isinstance(value, datetime) or value.tzinfo is None:
            problems.append(
                FieldProblem("exdates", f"EXDATE #{index + 1} must be an aware date-time")
            )
            continue
        key = value.astimezone(UTC)
        if not _is_regular_start(series, key):
            problems.append(
                FieldProblem(
                    "exdates",
                    f"EXDATE #{index + 1} ({occurrence_key_text(key)}) is not the start of an"
                    " occurrence of this series",
                )
            )
            continue
        found.add(key)
    return frozenset(found)


def _parse_overrides(
    series: Series,
    overrides: Iterable[OccurrenceOverride],
    excluded: frozenset[datetime],
    max_duration: timedelta,
    problems: list[FieldProblem],
) -> dict[datetime, OccurrenceOverride]:
    found: dict[datetime, OccurrenceOverride] = {}
    for index, override in enumerate(overrides):
        label = f"override #{index + 1}"
        if index >= MAX_EXCEPTIONS:
            problems.append(FieldProblem("overrides", f"at most {MAX_EXCEPTIONS} overrides"))
            break
        bad = [
            name
            for name, value in (
                ("occurrence_key", override.occurrence_key),
                ("start", override.start),
                ("end", override.end),
            )
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None)
        ]
        if bad:
            problems.append(
                FieldProblem("overrides", f"{label}: {', '.join(bad)} must be aware date-times")
            )
            continue
        key = override.occurrence_key.astimezone(UTC)
        stamp = occurrence_key_text(key)
        if key in found:
            problems.append(FieldProblem("overrides", f"{label}: {stamp} is overridden twice"))
            continue
        if key in excluded:
            problems.append(FieldProblem("overrides", f"{label}: {stamp} is removed by an EXDATE"))
            continue
        if not _is_regular_start(series, key):
            problems.append(
                FieldProblem("overrides", f"{label}: {stamp} is not an occurrence of this series")
            )
            continue
        new_start = override.start.astimezone(UTC) if override.start else None
        new_end = override.end.astimezone(UTC) if override.end else None
        if new_start is not None or new_end is not None:
            begins = new_start or key
            ends = new_end or begins + series.duration
            if ends <= begins:
                problems.append(FieldProblem("overrides", f"{label}: end must be after start"))
                continue
            if ends - begins > max_duration:
                problems.append(
                    FieldProblem(
                        "overrides", f"{label}: a meeting lasts at most {_human(max_duration)}"
                    )
                )
                continue
            if (begins, ends) == (key, key + series.duration):
                new_start = new_end = None  # "moved" to where it already is
            else:
                new_start, new_end = begins, ends
        found[key] = OccurrenceOverride(
            occurrence_key=key,
            start=new_start,
            end=new_end,
            cancelled=override.cancelled,
            site_ids=tuple(override.site_ids) if override.site_ids is not None else None,
        )
    return found


def _is_regular_start(series: Series, key: datetime) -> bool:
    return next(_regular_keys(series, key, skip_excluded=False), None) == key


def _apply(override: OccurrenceOverride, duration: timedelta) -> Occurrence:
    assert override.start is not None  # narrowed: only moved overrides come here
    return Occurrence(
        key=override.occurrence_key,
        start=override.start,
        end=override.end or override.start + duration,
        cancelled=override.cancelled,
        moved=True,
        site_ids=override.site_ids,
    )
