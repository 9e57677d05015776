"""iCalendar output parsed back with icalendar: what calendar clients read out of our invitations.

Zone facts are checked through the document's own VTIMEZONE (converted by icalendar/dateutil
without looking the TZID up), because that is all a client that does not know the IANA name
has to go on.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar, Event, vRecur

from vcorch.calendars.ical import IcsAttendee, IcsEvent, Method, build_calendar
from vcorch.errors import InvalidInput

HCM = "Asia/Ho_Chi_Minh"
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def at(zone: str, text: str) -> datetime:
    """'2025-03-24 09:00' as a wall time in ``zone``."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(**changes: Any) -> IcsEvent:
    base = IcsEvent(
        uid="meeting-42@vcorch.example.vn",
        sequence=0,
        summary="Hội nghị trực tuyến triển khai Chương trình mục tiêu quốc gia",
        description="Điểm cầu: UBND tỉnh Lào Cai, huyện Bát Xát.\nChuẩn bị: báo cáo quý I.",
        location="Phòng họp trực tuyến số 1, Ủy ban Dân tộc",
        start=at(HCM, "2025-04-10 08:00"),
        end=at(HCM, "2025-04-10 11:30"),
        zone=HCM,
        last_modified=utc("2025-04-01 02:03:04"),
        organizer_email="thu-ky@ubdt.example.vn",
        organizer_name="Văn phòng Ủy ban",
        attendees=(
            IcsAttendee(email="lao-cai@example.vn", name="Sở Dân tộc tỉnh Lào Cai"),
            IcsAttendee(email="bat-xat@example.vn", name="Phòng Dân tộc huyện Bát Xát"),
        ),
        url="https://vcorch.example.vn/meetings/42",
        categories=("họp", "trực tuyến"),
    )
    return dataclasses.replace(base, **changes)


@dataclass(frozen=True)
class Case:
    id: str
    method: Method
    events: tuple[IcsEvent, ...]


CASES = [
    Case("hcm-single-request", "REQUEST", (event(),)),
    Case(
        "berlin-summer-update",
        "REQUEST",
        (
            event(
                zone=BERLIN,
                sequence=3,
                start=at(BERLIN, "2025-07-01 14:00"),
                end=at(BERLIN, "2025-07-01 15:00"),
            ),
        ),
    ),
    Case(
        "berlin-weekly-across-spring-forward",
        "REQUEST",
        (
            event(
                zone=BERLIN,
                start=at(BERLIN, "2025-03-24 09:00"),
                end=at(BERLIN, "2025-03-24 10:00"),
                rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=6",
                exdates=(at(BERLIN, "2025-04-07 09:00"),),
            ),
        ),
    ),
    Case(
        "new-york-after-fall-back",
        "REQUEST",
        (
            event(
                zone=NEW_YORK,
                start=at(NEW_YORK, "2025-11-03 09:30"),
                end=at(NEW_YORK, "2025-11-03 10:30"),
            ),
        ),
    ),
    Case(
        "hcm-series-with-exdates",
        "REQUEST",
        (
            event(
                rrule="FREQ=WEEKLY;BYDAY=TH;UNTIL=20250626T010000Z",
                exdates=(at(HCM, "2025-04-24 08:00"), at(HCM, "2025-05-01 08:00")),
            ),
        ),
    ),
    Case(
        "berlin-series-with-moved-occurrence",
        "REQUEST",
        (
            event(
                zone=BERLIN,
                sequence=1,
                start=at(BERLIN, "2025-03-24 09:00"),
                end=at(BERLIN, "2025-03-24 10:00"),
                rrule="FREQ=WEEKLY;BYDAY=MO",
            ),
            event(
                zone=BERLIN,
                sequence=1,
                recurrence_id=at(BERLIN, "2025-03-31 09:00"),
                start=at(BERLIN, "2025-04-01 15:00"),
                end=at(BERLIN, "2025-04-01 16:00"),
                summary="Họp giao ban (dời sang thứ Ba)",
            ),
        ),
    ),
    Case("hcm-single-cancelled", "CANCEL", (event(sequence=2),)),
    Case(
        "one-occurrence-cancelled",
        "CANCEL",
        (
            event(
                sequence=4,
                recurrence_id=at(HCM, "2025-04-17 08:00"),
                start=at(HCM, "2025-04-17 08:00"),
                end=at(HCM, "2025-04-17 11:30"),
                status="CANCELLED",
            ),
        ),
    ),
    Case(
        "feed-with-two-zones",
        "PUBLISH",
        (
            event(uid="a@vcorch"),
            event(
                uid="b@vcorch",
                zone=NEW_YORK,
                start=at(NEW_YORK, "2025-04-10 08:00"),
                end=at(NEW_YORK, "2025-04-10 09:00"),
                organizer_email=None,
                organizer_name=None,
            ),
        ),
    ),
]


def parse(data: bytes) -> Calendar:
    calendar = Calendar.from_ical(data)
    assert isinstance(calendar, Calendar)
    return calendar


def vtimezone_tz(calendar: Calendar, zone: str) -> tzinfo:
    """The zone as defined by the document's VTIMEZONE alone."""
    [component] = [tz for tz in calendar.timezones if str(tz["TZID"]) == zone]
    result: tzinfo = component.to_tz(lookup_tzid=False)
    return result


def read_instant(calendar: Calendar, prop: Any) -> datetime:
    """A DATE-TIME property as a client reads it: wall time + the document's VTIMEZONE."""
    value: datetime = prop.dt
    tzid = prop.params.get("TZID")
    if tzid is None:
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        return value
    return value.replace(tzinfo=vtimezone_tz(calendar, str(tzid)))


def exdate_props(vevent: Event) -> list[Any]:
    raw = vevent.get("EXDATE")
    if raw is None:
        return []
    lines = raw if isinstance(raw, list) else [raw]
    return [(line.params, item) for line in lines for item in line.dts]


def find(calendar: Calendar, uid: str, recurrence_id: datetime | None) -> Event:
    for vevent in calendar.events:
        if str(vevent["UID"]) != uid:
            continue
        rid = vevent.get("RECURRENCE-ID")
        if (rid is None and recurrence_id is None) or (
            rid is not None and recurrence_id is not None and rid.dt == recurrence_id
        ):
            return vevent
    raise AssertionError(f"no VEVENT {uid} / {recurrence_id}")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_clients_read_back_what_was_booked(case: Case) -> None:
    calendar = parse(build_calendar(case.events, method=case.method))

    assert str(calendar["METHOD"]) == case.method
    assert str(calendar["VERSION"]) == "2.0"
    assert len(calendar.events) == len(case.events)
    zones_used = {ev.zone for ev in case.events}
    assert {str(tz["TZID"]) for tz in calendar.timezones} == zones_used
    for booked in case.events:
        vevent = find(calendar, booked.uid, booked.recurrence_id)
        assert int(vevent["SEQUENCE"]) == booked.sequence
        for name, expected in (("DTSTART", booked.start), ("DTEND", booked.end)):
            assert vevent[name].params["TZID"] == booked.zone
            assert vevent[name].dt == expected
            assert read_instant(calendar, vevent[name]) == expected
        assert vevent["DTSTAMP"].dt == booked.last_modified
        assert vevent["DTSTAMP"].dt.utcoffset() == timedelta(0)
        if booked.rrule is None:
            assert "RRULE" not in vevent
        else:
            assert vevent["RRULE"] == vRecur.from_ical(booked.rrule)
        exdates = exdate_props(vevent)
        assert sorted(item.dt for _, item in exdates) == sorted(booked.exdates)
        assert all(params["TZID"] == booked.zone for params, _ in exdates)
        if booked.recurrence_id is None:
            assert "RECURRENCE-ID" not in vevent
        else:
            rid = vevent["RECURRENCE-ID"]
            assert rid.params["TZID"] == booked.zone
            assert read_instant(calendar, rid) == booked.recurrence_id
        expected_status = "CANCELLED" if case.method == "CANCEL" else booked.status
        assert str(vevent["STATUS"]) == expected_status
        attendees = vevent.get("ATTENDEE", [])
        attendees = attendees if isinstance(attendees, list) else [attendees]
        if case.method == "PUBLISH":
            assert attendees == []
        else:
            assert str(vevent["ORGANIZER"]) == f"mailto:{booked.organizer_email}"
            assert vevent["ORGANIZER"].params["CN"] == booked.organizer_name
            assert {str(a) for a in attendees} == {f"mailto:{a.email}" for a in booked.attendees}
            assert {a.params["CN"] for a in attendees} == {a.name for a in booked.attendees}
        assert str(vevent["SUMMARY"]) == booked.summary
        assert str(vevent["DESCRIPTION"]) == booked.description
        assert str(vevent["LOCATION"]) == booked.location


SERIES_CLIENT_VIEW = [
    pytest.param(
        BERLIN,
        "2025-03-24 09:00",
        "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        ["2025-03-24 09:00", "2025-03-31 09:00", "2025-04-07 09:00"],
        id="berlin-spring-forward",
    ),
    pytest.param(
        NEW_YORK,
        "2025-10-27 18:00",
        "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        ["2025-10-27 18:00", "2025-11-03 18:00", "2025-11-10 18:00"],
        id="new-york-fall-back",
    ),
    pytest.param(
        HCM,
        "2025-12-29 08:00",
        "FREQ=DAILY;COUNT=4",
        ["2025-12-29 08:00", "2025-12-30 08:00", "2025-12-31 08:00", "2026-01-01 08:00"],
        id="hcm-year-crossing",
    ),
]


@pytest.mark.parametrize(("zone", "first", "rule", "wall_times"), SERIES_CLIENT_VIEW)
def test_series_keeps_its_wall_time_for_a_client_using_only_the_vtimezone(
    zone: str, first: str, rule: str, wall_times: list[str]
) -> None:
    start = at(zone, first)
    calendar = parse(
        build_calendar(
            [event(zone=zone, start=start, end=start + timedelta(hours=1), rrule=rule)],
            method="REQUEST",
        )
    )
    [vevent] = calendar.events
    dtstart = read_instant(calendar, vevent["DTSTART"])
    expanded = list(rrulestr(vevent["RRULE"].to_ical().decode(), dtstart=dtstart))

    assert expanded == [at(zone, text) for text in wall_times]
    # The instants really differ by DST: compared in UTC, the hour moves in Berlin/New York.
    offsets = {moment.utcoffset() for moment in expanded}
    assert offsets == {at(zone, text).utcoffset() for text in wall_times}


def test_vtimezone_covers_an_open_ended_series_years_ahead() -> None:
    start = at(BERLIN, "2025-01-06 09:00")
    calendar = parse(
        build_calendar(
            [event(zone=BERLIN, start=start, end=start + timedelta(hours=1), rrule="FREQ=WEEKLY")],
            method="REQUEST",
        )
    )
    tz = vtimezone_tz(calendar, BERLIN)
    for year in (2025, 2030, 2040):
        summer = datetime(year, 7, 1, 12, tzinfo=tz)
        winter = datetime(year, 1, 15, 12, tzinfo=tz)
        assert summer.utcoffset() == at(BERLIN, f"{year}-07-01 12:00").utcoffset()
        assert winter.utcoffset() == at(BERLIN, f"{year}-01-15 12:00").utcoffset()
        assert summer.utcoffset() != winter.utcoffset()


def test_zone_without_dst_has_one_offset_all_year() -> None:
    calendar = parse(build_calendar([event()], method="REQUEST"))
    [component] = calendar.timezones
    assert not component.daylight
    tz = vtimezone_tz(calendar, HCM)
    assert {datetime(2025, month, 1, 12, tzinfo=tz).utcoffset() for month in range(1, 13)} == {
        timedelta(hours=7)
    }


def test_file_is_crlf_folded_utf8_and_keeps_vietnamese_text_nfc() -> None:
    decomposed = unicodedata.normalize(
        "NFD", "Hội nghị sơ kết — Điện Biên, Hà Giang, Lạng Sơn " * 3
    )
    data = build_calendar(
        [event(summary=decomposed, description=decomposed + "\ndòng hai")],
        method="REQUEST",
        calendar_name="Lịch họp tỉnh Lào Cai",
    )

    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 75
    for line in lines:
        line.decode("utf-8")  # folding never splits a character
    assert any(line.startswith(b" ") for line in lines)
    calendar = parse(data)
    [vevent] = calendar.events
    composed = unicodedata.normalize("NFC", decomposed)
    assert composed != decomposed
    assert str(vevent["SUMMARY"]) == composed
    assert str(vevent["DESCRIPTION"]) == composed + "\ndòng hai"
    assert str(calendar["X-WR-CALNAME"]) == "Lịch họp tỉnh Lào Cai"


def test_calendar_name_only_when_asked() -> None:
    assert "X-WR-CALNAME" not in parse(build_calendar([event()], method="PUBLISH"))


def test_dtstamp_is_utc_and_can_be_given() -> None:
    sent = datetime(2025, 4, 2, 9, 15, tzinfo=ZoneInfo(HCM))
    calendar = parse(build_calendar([event()], method="REQUEST", dtstamp=sent))
    [vevent] = calendar.events
    assert vevent["DTSTAMP"].dt == sent
    assert vevent["DTSTAMP"].to_ical() == b"20250402T021500Z"


def test_description_cannot_smuggle_components() -> None:
    sneaky = "trước\nEND:VEVENT\nBEGIN:VEVENT\nUID:evil\nSUMMARY:giả"
    calendar = parse(build_calendar([event(description=sneaky)], method="REQUEST"))
    [vevent] = calendar.events
    assert str(vevent["DESCRIPTION"]) == sneaky
    assert str(vevent["UID"]) == "meeting-42@vcorch.example.vn"


def test_repeated_hour_instant_is_written_in_utc_and_keeps_its_instant() -> None:
    # 01:30 happens twice in New York on 2025-11-02; this is the second one (EST).
    second = utc("2025-11-02 06:30")
    assert second.astimezone(ZoneInfo(NEW_YORK)).fold == 1
    calendar = parse(
        build_calendar(
            [event(zone=NEW_YORK, start=second, end=second + timedelta(minutes=45))],
            method="REQUEST",
        )
    )
    [vevent] = calendar.events
    assert "TZID" not in vevent["DTSTART"].params
    assert read_instant(calendar, vevent["DTSTART"]) == second
    assert read_instant(calendar, vevent["DTEND"]) == second + timedelta(minutes=45)


def test_utc_meeting_has_no_vtimezone() -> None:
    start = utc("2025-04-10 01:00")
    calendar = parse(
        build_calendar(
            [event(zone="UTC", start=start, end=start + timedelta(hours=1))], method="REQUEST"
        )
    )
    assert calendar.timezones == []
    [vevent] = calendar.events
    assert vevent["DTSTART"].to_ical() == b"20250410T010000Z"


BAD = [
    pytest.param({"start": datetime(2025, 4, 10, 8)}, "REQUEST", "events[0].start", id="naive"),
    pytest.param(
        {"end": at(HCM, "2025-04-10 08:00")}, "REQUEST", "events[0].end", id="ends-at-start"
    ),
    pytest.param({"zone": "Asia/Hanoi_Nowhere"}, "REQUEST", "events[0].zone", id="unknown-zone"),
    pytest.param({"sequence": -1}, "REQUEST", "events[0].sequence", id="negative-sequence"),
    pytest.param({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "REQUEST", "events[0].rrule", id="bad-rrule"),
    pytest.param({"rrule": "BYDAY=MO"}, "REQUEST", "events[0].rrule", id="rrule-without-freq"),
    pytest.param(
        {"rrule": "FREQ=DAILY\r\nATTENDEE:mailto:x@y.vn"},
        "REQUEST",
        "events[0].rrule",
        id="rrule-injection",
    ),
    pytest.param(
        {"exdates": (at(HCM, "2025-04-17 08:00"),)},
        "REQUEST",
        "events[0].exdates",
        id="exdate-without-series",
    ),
    pytest.param(
        {"rrule": "FREQ=DAILY", "recurrence_id": at(HCM, "2025-04-11 08:00")},
        "REQUEST",
        "events[0].rrule",
        id="occurrence-with-rule",
    ),
    pytest.param(
        {
            "rrule": "FREQ=WEEKLY",
            "zone": NEW_YORK,
            "start": utc("2025-11-02 06:30"),
            "end": utc("2025-11-02 07:30"),
        },
        "REQUEST",
        "events[0].start",
        id="series-starting-in-repeated-hour",
    ),
    pytest.param({"organizer_email": None}, "REQUEST", "events[0].organizer_email", id="no-org"),
    pytest.param({"organizer_email": None}, "CANCEL", "events[0].organizer_email", id="no-org-c"),
    pytest.param({"attendees": ()}, "REQUEST", "events[0].attendees", id="no-attendees"),
    pytest.param({"status": "CANCELLED"}, "REQUEST", "events[0].status", id="cancel-in-request"),
    pytest.param(
        {"organizer_email": "a@b.vn\r\nATTENDEE:mailto:evil@x.vn"},
        "REQUEST",
        "events[0].organizer_email",
        id="organizer-injection",
    ),
    pytest.param(
        {"attendees": (IcsAttendee(email="ok@b.vn", name="Tên\nATTENDEE:mailto:e@x.vn"),)},
        "REQUEST",
        "events[0].attendees[0].name",
        id="attendee-name-injection",
    ),
    pytest.param(
        {"attendees": (IcsAttendee(email="not an address"),)},
        "REQUEST",
        "events[0].attendees[0].email",
        id="attendee-not-an-address",
    ),
    pytest.param({"uid": "x\ry"}, "REQUEST", "events[0].uid", id="uid-with-cr"),
    pytest.param({"summary": "Họp\nBEGIN:VALARM"}, "REQUEST", "events[0].summary", id="summary-nl"),
    pytest.param({"summary": "a\x00b"}, "REQUEST", "events[0].summary", id="summary-nul"),
    pytest.param({"url": "https://x.vn/\nX:1"}, "REQUEST", "events[0].url", id="url-injection"),
    pytest.param({"categories": ("a\nb",)}, "REQUEST", "events[0].categories[0]", id="category"),
]


@pytest.mark.parametrize(("changes", "method", "field"), BAD)
def test_bad_events_are_refused_with_the_field_named(
    changes: dict[str, Any], method: Method, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_calendar([event(**changes)], method=method)
    assert field in {problem.field for problem in caught.value.problems}


def test_same_occurrence_twice_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_calendar([event(), event(sequence=1)], method="REQUEST")
    assert [problem.field for problem in caught.value.problems] == ["events[1].uid"]


def test_calendar_level_fields_are_checked() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_calendar(
            [event()],
            method="REPLY",  # type: ignore[arg-type]
            calendar_name="Lịch\r\nMETHOD:PUBLISH",
        )
    assert {problem.field for problem in caught.value.problems} == {"method", "calendar_name"}


def test_every_problem_is_reported_at_once() -> None:
    events: Sequence[IcsEvent] = [event(uid=""), event(uid="b", zone="Nowhere/City")]
    with pytest.raises(InvalidInput) as caught:
        build_calendar(events, method="REQUEST")
    fields: Iterable[str] = (problem.field for problem in caught.value.problems)
    assert set(fields) == {"events[0].uid", "events[1].zone"}


def weekly_with_changes(cancelled_status: str = "CANCELLED") -> list[IcsEvent]:
    series = event(
        zone=BERLIN,
        start=at(BERLIN, "2025-03-24 09:00"),
        end=at(BERLIN, "2025-03-24 10:00"),
        rrule="FREQ=WEEKLY;BYDAY=MO",
        exdates=(at(BERLIN, "2025-04-14 09:00"),),
    )
    moved = dataclasses.replace(
        series,
        rrule=None,
        exdates=(),
        recurrence_id=at(BERLIN, "2025-03-31 09:00"),
        start=at(BERLIN, "2025-04-01 09:00"),
        end=at(BERLIN, "2025-04-01 10:00"),
    )
    dropped = dataclasses.replace(
        moved,
        recurrence_id=at(BERLIN, "2025-04-07 09:00"),
        start=at(BERLIN, "2025-04-07 09:00"),
        end=at(BERLIN, "2025-04-07 10:00"),
        status=cancelled_status,
    )
    return [series, moved, dropped]


def test_request_turns_a_cancelled_occurrence_into_an_exdate_of_its_series() -> None:
    calendar = parse(build_calendar(weekly_with_changes(), method="REQUEST"))

    assert {str(vevent["STATUS"]) for vevent in calendar.events} == {"CONFIRMED"}
    master = find(calendar, "meeting-42@vcorch.example.vn", None)
    assert sorted(item.dt for _, item in exdate_props(master)) == [
        at(BERLIN, "2025-04-07 09:00"),
        at(BERLIN, "2025-04-14 09:00"),
    ]
    moved = find(calendar, "meeting-42@vcorch.example.vn", at(BERLIN, "2025-03-31 09:00"))
    assert moved["DTSTART"].dt == at(BERLIN, "2025-04-01 09:00")
    assert len(calendar.events) == 2


@pytest.mark.parametrize("method", ["PUBLISH", "CANCEL"])
def test_feed_and_cancel_keep_a_cancelled_occurrence_as_its_own_event(method: Method) -> None:
    calendar = parse(build_calendar(weekly_with_changes(), method=method))
    dropped = find(calendar, "meeting-42@vcorch.example.vn", at(BERLIN, "2025-04-07 09:00"))
    assert str(dropped["STATUS"]) == "CANCELLED"
    assert len(calendar.events) == 3


def test_request_refuses_a_cancelled_occurrence_without_its_series() -> None:
    lone = weekly_with_changes()[2]
    with pytest.raises(InvalidInput) as caught:
        build_calendar([lone], method="REQUEST")
    assert [problem.field for problem in caught.value.problems] == ["events[0].status"]
