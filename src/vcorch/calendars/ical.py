"""iCalendar (RFC 5545) documents for meetings: invitations, cancellations and feeds.

Pure: data in, bytes out; no database, no clock (DTSTAMP comes from the caller).

Decisions (each one is tested):

- DTSTART, DTEND, EXDATE and RECURRENCE-ID are written as local wall time with
  ``TZID=<the event's IANA zone>``, and the calendar carries one VTIMEZONE per zone used, built
  by icalendar from the zoneinfo database for the years the events need, so a client that does
  not know the IANA name still places the meeting right (RFC 5545 §3.2.19 requires a VTIMEZONE
  for every TZID).  ``UTC`` and its aliases are written as ``...Z`` times without a VTIMEZONE.
- An instant in the repeated hour after a DST fall-back (the *second* of two equal wall
  times) cannot be named by a local time (RFC 5545 §3.3.5 reads it as the first), so such an
  instant is written in UTC instead; a recurring event may not *start* there, because its
  rule would then expand in UTC instead of the zone.
- DTSTAMP is UTC.  It defaults to the event's LAST-MODIFIED (RFC 5545 §3.8.7.2 makes them
  equal for a calendar without METHOD; for iTIP a later change has a later modification time,
  which is the order clients need when SEQUENCE is equal); pass ``dtstamp`` to set it.
- iTIP (RFC 5546) shapes: REQUEST and CANCEL need an ORGANIZER and at least one ATTENDEE;
  under CANCEL every event is written ``STATUS:CANCELLED`` whatever it says (the method
  decides, so the same event can be reused for the cancellation mail); a REQUEST refuses a
  cancelled meeting but turns a cancelled *occurrence* of a series it also carries into an
  EXDATE of that series (a REQUEST may only hold confirmed or tentative events); PUBLISH (feeds)
  carries no ATTENDEE lines (RFC 5546 §3.2.1), which also keeps contacts' e-mail addresses
  out of a feed.
- Text is NFC-normalised; control characters other than line breaks in the description are
  refused, and one-line values (UID, addresses, names, URL...) refuse line breaks too,
  because CAL-ADDRESS and URI values are written unescaped and a line break there would
  inject properties.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, Timezone, vCalAddress, vRecur

from vcorch.errors import FieldProblem, InvalidInput

Method = Literal["REQUEST", "CANCEL", "PUBLISH"]
Status = Literal["CONFIRMED", "CANCELLED", "TENTATIVE"]
Role = Literal["CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT", "NON-PARTICIPANT"]

DEFAULT_PRODUCT_ID = "-//vcorch//vcorch//VI"

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Zulu", "UCT", "Zulu", "Etc/GMT"})
_METHODS = frozenset({"REQUEST", "CANCEL", "PUBLISH"})
_STATUSES = frozenset({"CONFIRMED", "CANCELLED", "TENTATIVE"})
_ROLES = frozenset({"CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT", "NON-PARTICIPANT"})
# A deliberately plain check: the mailer validates deliverable addresses; here it is enough
# that the value is one mailbox and cannot break out of the property.
_EMAIL = re.compile(r"^[^\s@<>\"(),;:\\]+@[^\s@<>\"(),;:\\]+\.[^\s@<>\"(),;:\\]+$")
# An open-ended series gets time zone transitions for this many years after its start;
# clients extend the last known rule beyond that.
_OPEN_SERIES_YEARS = 20


@dataclass(frozen=True, kw_only=True)
class IcsAttendee:
    """One invited person or site contact."""

    email: str
    name: str | None = None
    role: Role = "REQ-PARTICIPANT"


@dataclass(frozen=True, kw_only=True)
class IcsEvent:
    """One VEVENT: a single meeting, a series (``rrule``), or one occurrence of a series.

    Every datetime must be aware; ``zone`` is the IANA zone the meeting is shown in.
    An occurrence that was moved or cancelled is its own ``IcsEvent`` with the series'
    ``uid`` and ``recurrence_id`` set to the occurrence's original start.
    """

    uid: str
    sequence: int
    summary: str
    start: datetime
    end: datetime
    zone: str
    last_modified: datetime
    description: str | None = None
    location: str | None = None
    rrule: str | None = None
    exdates: Sequence[datetime] = ()
    recurrence_id: datetime | None = None
    status: Status = "CONFIRMED"
    organizer_email: str | None = None
    organizer_name: str | None = None
    attendees: Sequence[IcsAttendee] = field(default_factory=tuple)
    url: str | None = None
    categories: Sequence[str] = ()


def build_calendar(
    events: Sequence[IcsEvent],
    *,
    method: Method,
    product_id: str = DEFAULT_PRODUCT_ID,
    calendar_name: str | None = None,
    dtstamp: datetime | None = None,
) -> bytes:
    """Return one VCALENDAR (UTF-8, CRLF, folded at 75 octets) holding ``events``.

    Raises :class:`~vcorch.errors.InvalidInput` naming the offending field
    (``events[2].attendees[0].email``, ``method``...) when the events cannot make a valid
    document for ``method``.
    """
    problems: list[FieldProblem] = []
    if method not in _METHODS:
        problems.append(FieldProblem("method", "must be REQUEST, CANCEL or PUBLISH"))
    _check_line(problems, "product_id", product_id)
    if calendar_name is not None:
        _check_line(problems, "calendar_name", calendar_name)
    if dtstamp is not None:
        _check_aware(problems, "dtstamp", dtstamp)
    if method in {"REQUEST", "CANCEL"} and not events:
        problems.append(FieldProblem("events", f"{method} needs at least one event"))
    seen: set[tuple[str, datetime | None]] = set()
    for index, event in enumerate(events):
        _check_event(problems, f"events[{index}]", event, method)
        key = (event.uid, _utc_or_none(event.recurrence_id))
        if key in seen:
            problems.append(
                FieldProblem(f"events[{index}].uid", "the same UID and RECURRENCE-ID twice")
            )
        seen.add(key)
    if method == "REQUEST":
        _check_cancelled_occurrences(problems, events)
    if problems:
        raise InvalidInput("the calendar cannot be built", problems=problems)
    if method == "REQUEST":
        events = _fold_cancelled_occurrences(events)

    calendar = Calendar()
    calendar.add("prodid", _nfc(product_id))
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    if calendar_name is not None:
        calendar.add("x-wr-calname", _nfc(calendar_name))
    for timezone in _timezones(events):
        calendar.add_component(timezone)
    for event in events:
        calendar.add_component(_vevent(event, method, dtstamp))
    data: bytes = calendar.to_ical()
    return data


def _is_cancelled_occurrence(event: IcsEvent) -> bool:
    return event.status == "CANCELLED" and event.recurrence_id is not None


def _check_cancelled_occurrences(problems: list[FieldProblem], events: Sequence[IcsEvent]) -> None:
    series = {event.uid for event in events if event.rrule is not None}
    for index, event in enumerate(events):
        if _is_cancelled_occurrence(event) and event.uid not in series:
            problems.append(
                FieldProblem(
                    f"events[{index}].status",
                    "a cancelled occurrence needs its series in the same REQUEST (or use CANCEL)",
                )
            )


def _fold_cancelled_occurrences(events: Sequence[IcsEvent]) -> list[IcsEvent]:
    """Turn cancelled occurrences into EXDATEs of their series.

    RFC 5546 §3.2.2 lets a REQUEST carry only TENTATIVE or CONFIRMED events; an occurrence
    that no longer takes place is, in a REQUEST, an occurrence the series excludes.
    """
    removed: dict[str, list[datetime]] = {}
    for event in events:
        if _is_cancelled_occurrence(event) and event.recurrence_id is not None:
            removed.setdefault(event.uid, []).append(event.recurrence_id)
    folded: list[IcsEvent] = []
    for event in events:
        if _is_cancelled_occurrence(event):
            continue
        extra = removed.get(event.uid, []) if event.rrule is not None else []
        if extra:
            known = {moment.astimezone(UTC) for moment in event.exdates}
            added = [moment for moment in extra if moment.astimezone(UTC) not in known]
            event = replace(event, exdates=(*event.exdates, *added))
        folded.append(event)
    return folded


def _vevent(event: IcsEvent, method: Method, dtstamp: datetime | None) -> Event:
    zone = _zone(event.zone)
    vevent = Event()
    vevent.add("uid", _nfc(event.uid))
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", (dtstamp or event.last_modified).astimezone(UTC))
    vevent.add("last-modified", event.last_modified.astimezone(UTC))
    if event.recurrence_id is not None:
        vevent.add("recurrence-id", _wall(event.recurrence_id, zone))
    vevent.add("dtstart", _wall(event.start, zone))
    vevent.add("dtend", _wall(event.end, zone))
    if event.rrule is not None:
        vevent.add("rrule", vRecur.from_ical(event.rrule))
    _add_exdates(vevent, event.exdates, zone)
    vevent.add("summary", _nfc(event.summary))
    if event.description is not None:
        vevent.add("description", _nfc(event.description.replace("\r\n", "\n")))
    if event.location is not None:
        vevent.add("location", _nfc(event.location))
    if event.url is not None:
        vevent.add("url", event.url)
    if event.categories:
        vevent.add("categories", [_nfc(category) for category in event.categories])
    vevent.add("status", "CANCELLED" if method == "CANCEL" else event.status)
    # Outlook shows a cancelled meeting as "free"; a live one blocks the time.
    vevent.add("transp", "TRANSPARENT" if method == "CANCEL" else "OPAQUE")
    if event.organizer_email is not None:
        vevent.add("organizer", _address(event.organizer_email, event.organizer_name, None))
    if method != "PUBLISH":
        for attendee in event.attendees:
            vevent.add("attendee", _address(attendee.email, attendee.name, attendee.role))
    return vevent


def _address(email: str, name: str | None, role: Role | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        # icalendar quotes the value and encodes quotes per RFC 6868.
        address.params["CN"] = _nfc(name)
    if role is not None:
        address.params["CUTYPE"] = "INDIVIDUAL"
        address.params["ROLE"] = role
        address.params["PARTSTAT"] = "NEEDS-ACTION"
    return address


def _add_exdates(vevent: Event, exdates: Sequence[datetime], zone: ZoneInfo | None) -> None:
    local = [_wall(moment, zone) for moment in sorted(exdates)]
    # One EXDATE line carries one TZID, so local and UTC values go on separate lines.
    zoned = [moment for moment in local if moment.tzinfo is not UTC]
    in_utc = [moment for moment in local if moment.tzinfo is UTC]
    for group in (zoned, in_utc):
        if group:
            vevent.add("exdate", group)


def _wall(moment: datetime, zone: ZoneInfo | None) -> datetime:
    """The instant as the zone's wall time, or in UTC when a wall time cannot name it."""
    if zone is None:
        return moment.astimezone(UTC)
    local = moment.astimezone(zone)
    if local.fold:
        return moment.astimezone(UTC)
    return local


def _timezones(events: Sequence[IcsEvent]) -> Iterable[Timezone]:
    """One VTIMEZONE per zone, covering every year its events need (with a margin)."""
    years: dict[str, tuple[int, int]] = {}
    for event in events:
        zone = _zone(event.zone)
        if zone is None:
            continue
        moments = [event.start, event.end, *event.exdates]
        if event.recurrence_id is not None:
            moments.append(event.recurrence_id)
        local_years = [moment.astimezone(zone).year for moment in moments]
        first, last = min(local_years), max(local_years)
        if event.rrule is not None:
            last = max(last, _series_last_year(event.rrule, event.start.year))
        known = years.get(event.zone)
        if known is not None:
            first, last = min(first, known[0]), max(last, known[1])
        years[event.zone] = (first, last)
    for name in sorted(years):
        first, last = years[name]
        yield Timezone.from_tzid(
            name, first_date=date(first - 1, 1, 1), last_date=date(last + 2, 1, 1)
        )


def _series_last_year(rrule: str, start_year: int) -> int:
    until = vRecur.from_ical(rrule).get("UNTIL")
    if until:
        moment = until[0]
        year: int = moment.year
        # Zone rules past the open-series reach repeat the last ones; the cap also keeps
        # a stored far UNTIL (written before bookings were limited) inside ``date``'s range.
        return min(year, start_year + _OPEN_SERIES_YEARS)
    # COUNT or open-ended: the exact end does not matter for the time zone, only its reach.
    return start_year + _OPEN_SERIES_YEARS


def _zone(name: str) -> ZoneInfo | None:
    """The zoneinfo zone, or None for UTC (written as ``Z`` times)."""
    if name in _UTC_NAMES:
        return None
    return ZoneInfo(name)


def _check_event(problems: list[FieldProblem], where: str, event: IcsEvent, method: str) -> None:
    _check_line(problems, f"{where}.uid", event.uid)
    if not isinstance(event.sequence, int) or event.sequence < 0:
        problems.append(FieldProblem(f"{where}.sequence", "must be a whole number ≥ 0"))
    _check_text(problems, f"{where}.summary", event.summary, multiline=False)
    if event.description is not None:
        _check_text(problems, f"{where}.description", event.description.replace("\r\n", "\n"), True)
    if event.location is not None:
        _check_text(problems, f"{where}.location", event.location, multiline=False)
    for name in ("start", "end", "last_modified"):
        _check_aware(problems, f"{where}.{name}", getattr(event, name))
    times_ok = _is_aware(event.start) and _is_aware(event.end)
    if times_ok and event.end <= event.start:
        problems.append(FieldProblem(f"{where}.end", "must be after start"))
    zone_ok = _check_zone(problems, f"{where}.zone", event.zone)
    for position, moment in enumerate(event.exdates):
        _check_aware(problems, f"{where}.exdates[{position}]", moment)
    if event.recurrence_id is not None:
        _check_aware(problems, f"{where}.recurrence_id", event.recurrence_id)
    _check_recurrence(problems, where, event, _zone(event.zone) if zone_ok else None)
    if event.status not in _STATUSES:
        problems.append(
            FieldProblem(f"{where}.status", "must be CONFIRMED, CANCELLED or TENTATIVE")
        )
    if method == "REQUEST" and event.status == "CANCELLED" and event.recurrence_id is None:
        problems.append(
            FieldProblem(f"{where}.status", "a cancelled meeting is sent with CANCEL, not REQUEST")
        )
    _check_people(problems, where, event, method)
    if event.url is not None:
        _check_line(problems, f"{where}.url", event.url)
    for position, category in enumerate(event.categories):
        _check_line(problems, f"{where}.categories[{position}]", category)


def _check_recurrence(
    problems: list[FieldProblem], where: str, event: IcsEvent, zone: ZoneInfo | None
) -> None:
    if event.rrule is None:
        if event.exdates:
            problems.append(FieldProblem(f"{where}.exdates", "only a series (rrule) has exdates"))
        return
    if event.recurrence_id is not None:
        problems.append(
            FieldProblem(f"{where}.rrule", "one occurrence (recurrence_id) cannot be a series")
        )
    _check_line(problems, f"{where}.rrule", event.rrule)
    try:
        rule = vRecur.from_ical(event.rrule)
    except ValueError as err:
        problems.append(FieldProblem(f"{where}.rrule", f"not an RFC 5545 RRULE value: {err}"))
        return
    if "FREQ" not in rule:
        problems.append(FieldProblem(f"{where}.rrule", "FREQ is required"))
    if zone is not None and _is_aware(event.start) and event.start.astimezone(zone).fold:
        problems.append(
            FieldProblem(
                f"{where}.start",
                "a series cannot start in the repeated hour after a DST change",
            )
        )


def _check_people(problems: list[FieldProblem], where: str, event: IcsEvent, method: str) -> None:
    if event.organizer_email is None:
        if method in {"REQUEST", "CANCEL"}:
            problems.append(
                FieldProblem(f"{where}.organizer_email", f"{method} needs an ORGANIZER")
            )
    else:
        _check_email(problems, f"{where}.organizer_email", event.organizer_email)
    if event.organizer_name is not None:
        _check_line(problems, f"{where}.organizer_name", event.organizer_name)
    if method in {"REQUEST", "CANCEL"} and not event.attendees:
        problems.append(FieldProblem(f"{where}.attendees", f"{method} needs at least one ATTENDEE"))
    for position, attendee in enumerate(event.attendees):
        at = f"{where}.attendees[{position}]"
        _check_email(problems, f"{at}.email", attendee.email)
        if attendee.name is not None:
            _check_line(problems, f"{at}.name", attendee.name)
        if attendee.role not in _ROLES:
            problems.append(FieldProblem(f"{at}.role", "not an RFC 5545 ROLE"))


def _check_zone(problems: list[FieldProblem], where: str, name: str) -> bool:
    if not _check_line(problems, where, name):
        return False
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(FieldProblem(where, "not an IANA time zone"))
        return False
    return True


def _check_email(problems: list[FieldProblem], where: str, value: str) -> None:
    if _check_line(problems, where, value) and not _EMAIL.match(value):
        problems.append(FieldProblem(where, "not an e-mail address"))


def _check_aware(problems: list[FieldProblem], where: str, value: datetime) -> None:
    if not _is_aware(value):
        problems.append(FieldProblem(where, "must be an aware datetime"))


def _is_aware(value: object) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def _check_line(problems: list[FieldProblem], where: str, value: str) -> bool:
    return _check_text(problems, where, value, multiline=False, blank_ok=False)


def _check_text(
    problems: list[FieldProblem],
    where: str,
    value: str,
    multiline: bool,
    blank_ok: bool = True,
) -> bool:
    if not isinstance(value, str):
        problems.append(FieldProblem(where, "must be text"))
        return False
    allowed = {"\n", "\t"} if multiline else set()
    for char in value:
        if char in allowed:
            continue
        category = unicodedata.category(char)
        if category in {"Cc", "Cs", "Zl", "Zp"}:
            problems.append(FieldProblem(where, f"contains the character U+{ord(char):04X}"))
            return False
    if not blank_ok and not value.strip():
        problems.append(FieldProblem(where, "must not be blank"))
        return False
    return True


def _utc_or_none(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if _is_aware(moment) and moment is not None else None


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)
