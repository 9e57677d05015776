"""RRULE text: validated against what meetings may use, and written out for dateutil.

See :mod:`vcorch.booking.recurrence` for the decisions; this module keeps the rule grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil.rrule import rrulestr

ALLOWED_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MAX_COUNT = 1000
MAX_INTERVAL = 366

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


@dataclass(frozen=True)
class Rule:
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


class RuleError(ValueError):
    """Why an RRULE is refused; becomes a ``rrule`` field problem."""


def parse_rule(text: str, local_start: datetime, start_utc: datetime) -> Rule:
    body = text.strip().upper()
    if body.startswith("RRULE:"):
        body = body[len("RRULE:") :]
    if any(ch.isspace() for ch in body) or ":" in body:
        raise RuleError(
            "give one RRULE value such as FREQ=WEEKLY;BYDAY=MO; DTSTART, EXDATE and other"
            " properties are separate fields"
        )
    parts: dict[str, str] = {}
    for chunk in body.split(";"):
        if not chunk:
            continue
        name, sep, value = chunk.partition("=")
        if not sep or not name or not value:
            raise RuleError(f"{chunk!r} is not NAME=VALUE")
        if name in parts:
            raise RuleError(f"{name} is given twice")
        if name in _TIME_PARTS:
            raise RuleError(
                f"{name} is not supported: an occurrence starts at the series' start time"
            )
        if name not in _PART_ORDER:
            raise RuleError(f"unknown rule part {name}; allowed: {', '.join(_PART_ORDER)}")
        parts[name] = value
    freq = parts.get("FREQ")
    if freq is None:
        raise RuleError("FREQ is required")
    if freq not in ALLOWED_FREQUENCIES:
        raise RuleError(
            f"FREQ={freq} is not allowed for meetings; use one of {', '.join(ALLOWED_FREQUENCIES)}"
        )
    interval = _bounded_int(parts, "INTERVAL", 1, MAX_INTERVAL) or 1
    count = _bounded_int(parts, "COUNT", 1, MAX_COUNT)
    until = _parse_until(parts.get("UNTIL"), start_utc)
    if count is not None and until is not None:
        raise RuleError("COUNT and UNTIL must not both be given (RFC 5545 §3.3.10)")
    for name, (low, high, signed) in _INT_LIST_RANGES.items():
        if name in parts:
            _check_int_list(name, parts[name], low, high, signed=signed)
    for name, freqs in _ONLY_FOR.items():
        if name in parts and freq not in freqs:
            raise RuleError(f"{name} cannot be used with FREQ={freq}")
    if "BYDAY" in parts:
        _check_byday(parts["BYDAY"], freq, has_weekno="BYWEEKNO" in parts)
    if "BYSETPOS" in parts and not any(
        p in parts for p in ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")
    ):
        raise RuleError("BYSETPOS needs another BYxxx part to select from")
    wkst_name = parts.get("WKST", "MO")
    if wkst_name not in _WEEKDAYS:
        raise RuleError(f"WKST={wkst_name} is not a weekday ({', '.join(_WEEKDAYS)})")

    canonical = ";".join(f"{name}={parts[name]}" for name in _PART_ORDER if name in parts)
    engine = {k: v for k, v in parts.items() if k not in ("COUNT", "UNTIL")}
    engine["WKST"] = wkst_name  # explicit: dateutil's default follows calendar.firstweekday()
    _write_defaults(engine, freq, local_start)
    engine_text = ";".join(f"{name}={engine[name]}" for name in _PART_ORDER if name in engine)
    try:
        rrulestr(engine_text, dtstart=local_start)
    except ValueError as err:
        raise RuleError(f"the rule is malformed: {err}") from err
    rule = Rule(
        canonical=canonical,
        freq=freq,
        interval=interval,
        count=count,
        until=until,
        wkst=_WEEKDAYS.index(wkst_name),
        engine_text=engine_text,
    )
    if not _starts_period(rule, local_start):
        raise RuleError(
            f"the start ({local_start:%a %Y-%m-%d %H:%M} local) is not itself an occurrence of"
            " the rule; RFC 5545 wants the start to be the first occurrence"
        )
    return rule


def _bounded_int(parts: dict[str, str], name: str, low: int, high: int) -> int | None:
    raw = parts.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise RuleError(f"{name} must be a whole number from {low} to {high}, not {raw}")
    return int(raw)


def _parse_until(raw: str | None, start_utc: datetime) -> datetime | None:
    if raw is None:
        return None
    if not _UTC_STAMP.match(raw):
        if _LOCAL_STAMP.match(raw):
            raise RuleError(
                f"UNTIL={raw} must be a UTC date-time such as 20261231T235959Z: the start is"
                " a date-time in a named zone (RFC 5545 §3.3.10)"
            )
        raise RuleError(f"UNTIL={raw} is not a date-time such as 20261231T235959Z")
    try:
        until = datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as err:
        raise RuleError(f"UNTIL={raw} is not a valid date-time") from err
    if until < start_utc:
        raise RuleError(f"UNTIL={raw} is before the start, so the rule yields nothing")
    return until


def _check_int_list(name: str, raw: str, low: int, high: int, *, signed: bool) -> None:
    for item in raw.split(","):
        if not _SIGNED_INT.match(item) or (not signed and item[0] in "+-"):
            raise RuleError(f"{name} holds {item!r}, not a whole number")
        if not low <= abs(int(item)) <= high:
            sign = "±" if signed else ""
            raise RuleError(f"{name} values lie in {sign}{low}..{high}, not {item}")


def _check_byday(raw: str, freq: str, *, has_weekno: bool) -> None:
    for item in raw.split(","):
        match = _BYDAY_ITEM.match(item)
        if match is None:
            raise RuleError(f"BYDAY holds {item!r}; write MO..SU, optionally with +n/-n")
        ordinal = match.group(1)
        if ordinal is None:
            continue
        if freq not in ("MONTHLY", "YEARLY") or has_weekno:
            raise RuleError(
                f"BYDAY={item}: a numbered weekday needs FREQ=MONTHLY or FREQ=YEARLY without"
                " BYWEEKNO"
            )
        limit = 5 if freq == "MONTHLY" else 53
        if not 1 <= abs(int(ordinal)) <= limit:
            raise RuleError(f"BYDAY={item}: the number lies in ±1..{limit}")


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


def _starts_period(rule: Rule, local_start: datetime) -> bool:
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
