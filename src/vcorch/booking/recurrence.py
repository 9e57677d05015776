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

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vcorch.booking.expansion import (
    DEFAULT_LIMIT,
    FIRST_YEAR,
    LAST_YEAR,
    Occurrence,
    OccurrenceOverride,
    Series,
    SiteRef,
    between,
    check_instant,
    invalid_schedule,
    iter_occurrences,
    occurrence_key_text,
    regular_keys,
    to_utc,
)
from vcorch.booking.rrule import (
    ALLOWED_FREQUENCIES,
    MAX_COUNT,
    MAX_INTERVAL,
    Rule,
    RuleError,
    parse_rule,
)
from vcorch.errors import FieldProblem

__all__ = [
    "ALLOWED_FREQUENCIES",
    "DEFAULT_LIMIT",
    "LAST_YEAR",
    "MAX_COUNT",
    "MAX_DURATION",
    "MAX_EXCEPTIONS",
    "MAX_INTERVAL",
    "MAX_SERIES_SPAN",
    "Occurrence",
    "OccurrenceOverride",
    "Series",
    "SiteRef",
    "between",
    "iter_occurrences",
    "occurrence_key_text",
    "parse_series",
]


MAX_EXCEPTIONS = 1000
"""At most this many EXDATEs, and at most this many overrides, per series."""
MAX_DURATION = timedelta(hours=24)
MAX_SERIES_SPAN = timedelta(days=3653)
"""How far after its start a series with an end (UNTIL or COUNT) may run: ten years."""


def parse_series(
    *,
    start: datetime,
    end: datetime,
    timezone: str,
    rrule: str | None = None,
    exdates: Iterable[datetime] = (),
    overrides: Iterable[OccurrenceOverride] = (),
    max_duration: timedelta = MAX_DURATION,
    max_span: timedelta | None = None,
) -> Series:
    """Validate a series and return it, or raise :class:`InvalidSchedule`.

    ``start`` and ``end`` are the first occurrence's bounds (aware, whole seconds); the
    duration ``end - start`` must be positive and at most ``max_duration``.  ``timezone``
    is an IANA name.  ``rrule`` is one RRULE value (``FREQ=WEEKLY;BYDAY=MO``, optionally
    prefixed ``RRULE:``) or ``None`` for a single meeting.  Every EXDATE and override key
    must be the original start of one of the series' occurrences.

    ``max_span`` (bookings being written give it; stored ones are read without it) refuses
    a series whose last occurrence starts more than that after its start: an end far in
    the future is what makes a booking expensive, and an open-ended series (no UNTIL, no
    COUNT) says "until further notice" without it.
    """
    problems: list[FieldProblem] = []
    zone = _parse_zone(timezone, problems)
    check_instant("start", start, problems)
    check_instant("end", end, problems)
    if problems:
        raise invalid_schedule(problems)
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
    if not problems and to_utc(local_start, zone) != start_utc:
        problems.append(
            FieldProblem(
                "start",
                f"{local_start:%Y-%m-%d %H:%M} occurs twice in {timezone} on that day and the"
                " start is the second one; RFC 5545 local times always mean the first, so"
                " pick another time",
            )
        )
    if problems:
        raise invalid_schedule(problems)

    rule: Rule | None = None
    if rrule is not None and rrule.strip():
        try:
            rule = parse_rule(rrule, local_start, start_utc)
        except RuleError as err:
            raise invalid_schedule([FieldProblem("rrule", str(err))]) from err
        too_far = _until_too_far(rule, start_utc, max_span) if max_span else None
        if too_far is not None:
            raise invalid_schedule([FieldProblem("rrule", too_far)])

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
        raise invalid_schedule(problems)
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
    if next(regular_keys(series, start_utc, skip_excluded=True), None) is None:
        raise invalid_schedule([FieldProblem("exdates", "the EXDATEs remove every occurrence")])
    too_far = _count_too_far(series, max_span) if max_span else None
    if too_far is not None:
        raise invalid_schedule([FieldProblem("rrule", too_far)])
    return series


def _until_too_far(rule: Rule, start_utc: datetime, max_span: timedelta) -> str | None:
    if rule.until is None or rule.until <= start_utc + max_span:
        return None
    return (
        f"UNTIL lies more than {_years(max_span)} years after the start; end the series by"
        f" {start_utc + max_span:%Y-%m-%d}, or leave UNTIL and COUNT out for a series that"
        " runs until further notice"
    )


def _count_too_far(series: Series, max_span: timedelta) -> str | None:
    """Bounded work: at most COUNT (≤ MAX_COUNT) starts, none past the limit, are made."""
    rule = series._rule
    if rule is None or rule.count is None:
        return None
    limit = series.start + max_span
    for seen, key in enumerate(regular_keys(series, series.start, skip_excluded=False), 1):
        if key > limit:
            break
        if seen >= rule.count:
            return None
    return (
        f"COUNT={rule.count} runs more than {_years(max_span)} years past the start; lower"
        " COUNT, or leave UNTIL and COUNT out for a series that runs until further notice"
    )


def _years(span: timedelta) -> int:
    return round(span.days / 365.25)


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
    return next(regular_keys(series, key, skip_excluded=False), None) == key


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
