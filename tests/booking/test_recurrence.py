"""Series validation and expansion: zones, DST, year crossings, EXDATE, overrides, windows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from vcorch.booking.errors import InvalidSchedule
from vcorch.booking.recurrence import (
    MAX_COUNT,
    Occurrence,
    OccurrenceOverride,
    Series,
    between,
    iter_occurrences,
    occurrence_key_text,
    parse_series,
)
from vcorch.errors import InvalidInput

HCM = "Asia/Ho_Chi_Minh"
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(text: str) -> datetime:
    """'2025-03-09 07:30' read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def at(zone: str, text: str) -> datetime:
    """'2025-03-09 02:30' as a wall time in ``zone`` (the first one, if repeated)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def series(
    zone: str,
    start: str,
    rrule: str | None = None,
    *,
    minutes: int = 60,
    exdates: tuple[datetime, ...] = (),
    overrides: tuple[OccurrenceOverride, ...] = (),
) -> Series:
    first = at(zone, start)
    return parse_series(
        start=first,
        end=first + timedelta(minutes=minutes),
        timezone=zone,
        rrule=rrule,
        exdates=exdates,
        overrides=overrides,
    )


def starts(found: list[Occurrence]) -> list[str]:
    return [f"{o.start:%Y-%m-%d %H:%M}" for o in found]


# --- expansion tables ---------------------------------------------------------------------

# (zone, first start local, rule, window from UTC, window to UTC, expected starts in UTC)
# Expected values are worked out by hand from the calendar and each zone's offsets.
EXPANSIONS = [
    pytest.param(
        HCM,
        "2025-01-06 08:00",
        "FREQ=WEEKLY;BYDAY=MO",
        "2025-01-01",
        "2025-02-01",
        ["2025-01-06 01:00", "2025-01-13 01:00", "2025-01-20 01:00", "2025-01-27 01:00"],
        id="hcm-weekly-monday-08:00-is-01:00Z",
    ),
    pytest.param(
        BERLIN,
        "2025-03-24 09:00",
        "FREQ=WEEKLY",
        "2025-03-20",
        "2025-04-10",
        ["2025-03-24 08:00", "2025-03-31 07:00", "2025-04-07 07:00"],
        id="berlin-weekly-keeps-09:00-local-across-spring-dst",
    ),
    pytest.param(
        BERLIN,
        "2025-10-20 09:00",
        "FREQ=WEEKLY",
        "2025-10-19",
        "2025-11-04",
        ["2025-10-20 07:00", "2025-10-27 08:00", "2025-11-03 08:00"],
        id="berlin-weekly-keeps-09:00-local-across-autumn-dst",
    ),
    pytest.param(
        NEW_YORK,
        "2025-03-07 02:30",
        "FREQ=DAILY",
        "2025-03-08",
        "2025-03-11",
        ["2025-03-08 07:30", "2025-03-09 07:30", "2025-03-10 06:30"],
        id="new-york-02:30-in-spring-gap-shifts-forward-to-03:30-edt",
    ),
    pytest.param(
        BERLIN,
        "2025-03-28 02:30",
        "FREQ=DAILY;COUNT=4",
        "2025-03-01",
        "2025-04-30",
        ["2025-03-28 01:30", "2025-03-29 01:30", "2025-03-30 01:30", "2025-03-31 00:30"],
        id="berlin-02:30-in-spring-gap-shifts-forward-to-03:30-cest",
    ),
    pytest.param(
        NEW_YORK,
        "2025-10-31 01:30",
        "FREQ=DAILY",
        "2025-11-01",
        "2025-11-04",
        ["2025-11-01 05:30", "2025-11-02 05:30", "2025-11-03 06:30"],
        id="new-york-01:30-in-autumn-fold-is-the-first-one-edt",
    ),
    pytest.param(
        HCM,
        "2025-11-28 14:00",
        "FREQ=MONTHLY;BYDAY=-1FR;COUNT=4",
        "2025-01-01",
        "2027-01-01",
        ["2025-11-28 07:00", "2025-12-26 07:00", "2026-01-30 07:00", "2026-02-27 07:00"],
        id="last-friday-monthly-crossing-the-year",
    ),
    pytest.param(
        HCM,
        "2025-12-23 08:00",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH",
        "2025-12-01",
        "2026-01-20",
        ["2025-12-23 01:00", "2025-12-25 01:00", "2026-01-06 01:00", "2026-01-08 01:00"],
        id="fortnightly-tue-thu-crossing-the-year",
    ),
    pytest.param(
        HCM,
        "2025-01-31 08:00",
        "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4",
        "2025-01-01",
        "2026-01-01",
        ["2025-01-31 01:00", "2025-03-31 01:00", "2025-05-31 01:00", "2025-07-31 01:00"],
        id="monthly-31st-skips-short-months",
    ),
    pytest.param(
        HCM,
        "2025-01-31 08:00",
        "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3",
        "2025-01-01",
        "2026-01-01",
        ["2025-01-31 01:00", "2025-02-28 01:00", "2025-03-31 01:00"],
        id="monthly-last-day",
    ),
    pytest.param(
        HCM,
        "2025-01-31 08:00",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3",
        "2025-01-01",
        "2026-01-01",
        ["2025-01-31 01:00", "2025-02-28 01:00", "2025-03-31 01:00"],
        id="last-workday-of-month-bysetpos",
    ),
    pytest.param(
        HCM,
        "2024-02-29 08:00",
        "FREQ=YEARLY;COUNT=3",
        "2024-01-01",
        "2040-01-01",
        ["2024-02-29 01:00", "2028-02-29 01:00", "2032-02-29 01:00"],
        id="yearly-on-leap-day",
    ),
    pytest.param(
        HCM,
        "2025-01-01 08:00",
        "FREQ=DAILY;UNTIL=20250103T010000Z",
        "2024-12-01",
        "2025-02-01",
        ["2025-01-01 01:00", "2025-01-02 01:00", "2025-01-03 01:00"],
        id="until-is-inclusive",
    ),
    pytest.param(
        HCM,
        "2025-01-01 08:00",
        "FREQ=DAILY;UNTIL=20250103T005959Z",
        "2024-12-01",
        "2025-02-01",
        ["2025-01-01 01:00", "2025-01-02 01:00"],
        id="until-one-second-early",
    ),
    pytest.param(
        HCM,
        "2025-01-08 08:00",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=4",
        "2025-01-01",
        "2025-03-01",
        ["2025-01-08 01:00", "2025-01-10 01:00", "2025-01-13 01:00", "2025-01-15 01:00"],
        id="start-mid-week-skips-earlier-days-of-that-week",
    ),
    pytest.param(
        NEW_YORK,
        "2025-12-29 17:00",
        "FREQ=DAILY;INTERVAL=3",
        "2025-12-29",
        "2026-01-08",
        ["2025-12-29 22:00", "2026-01-01 22:00", "2026-01-04 22:00", "2026-01-07 22:00"],
        id="every-third-day-crossing-the-year",
    ),
    pytest.param(
        BERLIN,
        "2025-05-12 10:00",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        "2025-01-01",
        "2028-01-01",
        ["2025-05-12 08:00", "2026-05-11 08:00", "2027-05-17 08:00"],
        id="yearly-monday-of-iso-week-20",
    ),
    pytest.param(
        BERLIN,
        "2024-12-30 10:00",
        "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO",
        "2024-01-01",
        "2028-01-01",
        ["2024-12-30 09:00", "2025-12-29 09:00", "2027-01-04 09:00"],
        id="iso-week-1-starts-in-the-previous-december",
    ),
    pytest.param(
        HCM,
        "2025-01-10 08:00",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR",
        "2031-01-08 00:00",
        "2031-01-14 00:00",
        ["2031-01-08 01:00", "2031-01-10 01:00", "2031-01-13 01:00"],
        id="years-later-window-opening-mid-week-keeps-that-weeks-days",
    ),
    pytest.param(
        HCM,
        "2025-01-08 08:00",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYSETPOS=2;COUNT=3",
        "2025-01-01",
        "2025-03-01",
        ["2025-01-08 01:00", "2025-01-15 01:00", "2025-01-22 01:00"],
        id="weekly-bysetpos-counts-the-whole-first-week",
    ),
    pytest.param(
        HCM,
        "2025-01-08 08:00",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=3",
        "2025-01-01",
        "2025-03-01",
        ["2025-01-08 01:00", "2025-01-10 01:00", "2025-01-13 01:00"],
        id="count-starts-at-the-start-not-at-the-week-start",
    ),
    pytest.param(
        HCM,
        "2025-05-01 08:00",
        None,
        "2025-04-30",
        "2025-05-02",
        ["2025-05-01 01:00"],
        id="single-meeting-is-a-series-of-one",
    ),
]


@pytest.mark.parametrize(
    ("zone", "first", "rule", "window_from", "window_to", "expected"), EXPANSIONS
)
def test_expansion_gives_the_expected_utc_starts(
    zone: str, first: str, rule: str | None, window_from: str, window_to: str, expected: list[str]
) -> None:
    s = series(zone, first, rule)

    found = between(s, utc(window_from), utc(window_to))

    assert starts(found) == expected
    assert all(o.key == o.start and o.end - o.start == timedelta(hours=1) for o in found)


@pytest.mark.parametrize(
    ("zone", "first", "rule"),
    [
        (HCM, "2025-01-06 08:00", "FREQ=WEEKLY;BYDAY=MO"),
        (BERLIN, "2025-01-06 08:00", "FREQ=WEEKLY;BYDAY=MO"),
        (NEW_YORK, "2025-01-06 08:00", "FREQ=WEEKLY;BYDAY=MO"),
    ],
)
def test_weekly_series_stays_at_its_local_wall_time_for_years(
    zone: str, first: str, rule: str
) -> None:
    s = series(zone, first, rule)

    found = between(s, utc("2025-01-01"), utc("2030-01-01"))

    local = [o.start.astimezone(ZoneInfo(zone)) for o in found]
    assert {(t.hour, t.minute, t.weekday()) for t in local} == {(8, 0, 0)}
    mondays = sum(
        1
        for n in range((date(2030, 1, 1) - date(2025, 1, 6)).days)
        if (date(2025, 1, 6) + timedelta(days=n)).weekday() == 0
    )
    assert len(found) == mondays


def test_duration_is_real_time_even_when_start_and_end_share_a_zone() -> None:
    start = at(NEW_YORK, "2025-11-02 00:30")  # EDT
    end = at(NEW_YORK, "2025-11-02 02:30")  # EST: the clock went back an hour in between

    s = parse_series(start=start, end=end, timezone=NEW_YORK)

    assert s.duration == timedelta(hours=3)
    (only,) = between(s, utc("2025-11-01"), utc("2025-11-03"))
    assert (only.start, only.end) == (utc("2025-11-02 04:30"), utc("2025-11-02 07:30"))


def test_between_is_half_open_on_the_window() -> None:
    s = series(HCM, "2025-01-06 08:00", "FREQ=DAILY")  # 01:00Z-02:00Z each day

    assert starts(between(s, utc("2025-01-07 02:00"), utc("2025-01-08 01:00"))) == []
    assert starts(between(s, utc("2025-01-07 01:59"), utc("2025-01-08 01:01"))) == [
        "2025-01-07 01:00",
        "2025-01-08 01:00",
    ]


# --- far-future windows of open-ended series ----------------------------------------------


# How fast such a window is expanded: benchmarks/complexity.py (far_window.*).
@pytest.mark.parametrize(
    ("first", "rule", "window_from", "weekday", "monthday"),
    [
        ("2025-01-06 08:00", "FREQ=WEEKLY;BYDAY=MO", "2399-06-01", 0, None),
        ("2025-01-01 08:00", "FREQ=DAILY", "2199-12-20", None, None),
        ("2025-01-15 08:00", "FREQ=MONTHLY", "2700-01-01", None, 15),
        ("2025-01-07 08:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH", "2500-03-01", None, None),
        (
            "2025-01-31 08:00",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "2600-01-01",
            None,
            None,
        ),
        ("2025-03-01 08:00", "FREQ=YEARLY", "2900-01-01", None, 1),
    ],
)
def test_far_future_window_of_an_open_ended_series_is_right(
    first: str, rule: str, window_from: str, weekday: int | None, monthday: int | None
) -> None:
    s = series(HCM, first, rule)
    window_start = utc(window_from)

    found = between(s, window_start, window_start + timedelta(days=400))

    assert found, "an open-ended series has occurrences in any long window"
    for o in found:
        local = o.start.astimezone(ZoneInfo(HCM))
        assert (local.hour, local.minute) == (8, 0)
        assert weekday is None or local.weekday() == weekday
        assert monthday is None or local.day == monthday
    # The same window reached by walking every occurrence from the start (no jumping).
    walked = [
        t.replace(tzinfo=ZoneInfo(HCM)).astimezone(UTC)
        for t in _walk(rrulestr(s.rrule or "", dtstart=_local(s)), window_start)
        if t.replace(tzinfo=ZoneInfo(HCM)).astimezone(UTC) < window_start + timedelta(days=400)
    ]
    assert [o.start for o in found if o.start >= window_start] == [
        t for t in walked if t >= window_start
    ]


def _local(s: Series) -> datetime:
    return s.start.astimezone(s.zone).replace(tzinfo=None)


def _walk(rule: Iterable[datetime], until: datetime) -> list[datetime]:
    """Plain dateutil from the first start, up to 400 days past ``until``."""
    stop = (until + timedelta(days=401)).replace(tzinfo=None)
    out: list[datetime] = []
    for t in rule:
        if t > stop:
            break
        out.append(t)
    return out


def test_iter_occurrences_is_lazy_for_an_endless_series() -> None:
    s = series(HCM, "2025-01-01 08:00", "FREQ=DAILY")

    first_five = list(islice(iter_occurrences(s), 5))

    assert starts(first_five) == [f"2025-01-0{d} 01:00" for d in range(1, 6)]
    assert s.is_open_ended


# --- EXDATE and overrides -----------------------------------------------------------------

WEEKLY = "FREQ=WEEKLY;BYDAY=MO;COUNT=4"  # HCM, Mondays 6, 13, 20, 27 January 2025, 08:00


def test_exdate_removes_an_occurrence() -> None:
    s = series(HCM, "2025-01-06 08:00", WEEKLY, exdates=(at(HCM, "2025-01-13 08:00"),))

    found = between(s, utc("2025-01-01"), utc("2025-03-01"), include_cancelled=True)

    assert starts(found) == ["2025-01-06 01:00", "2025-01-20 01:00", "2025-01-27 01:00"]


def test_exdate_given_in_another_offset_matches_the_same_instant() -> None:
    berlin_view = at(HCM, "2025-01-13 08:00").astimezone(ZoneInfo(BERLIN))
    s = series(HCM, "2025-01-06 08:00", WEEKLY, exdates=(berlin_view,))

    assert utc("2025-01-13 01:00") in s.exdates


def test_cancelled_occurrence_is_hidden_unless_asked_for() -> None:
    key = at(HCM, "2025-01-20 08:00")
    s = series(
        HCM, "2025-01-06 08:00", WEEKLY, overrides=(OccurrenceOverride(key, cancelled=True),)
    )

    plain = between(s, utc("2025-01-01"), utc("2025-03-01"))
    full = between(s, utc("2025-01-01"), utc("2025-03-01"), include_cancelled=True)

    assert starts(plain) == ["2025-01-06 01:00", "2025-01-13 01:00", "2025-01-27 01:00"]
    assert [(o.start, o.cancelled) for o in full if o.cancelled] == [
        (utc("2025-01-20 01:00"), True)
    ]


@pytest.mark.parametrize(
    ("moved_to", "window_from", "window_to", "expected"),
    [
        pytest.param(
            "2025-01-14 14:00",
            "2025-01-01",
            "2025-02-01",
            ["2025-01-06 01:00", "2025-01-14 07:00", "2025-01-20 01:00", "2025-01-27 01:00"],
            id="moved-a-day-later-appears-there-in-order",
        ),
        pytest.param(
            "2025-01-14 14:00",
            "2025-01-13 00:00",
            "2025-01-13 23:00",
            [],
            id="not-found-where-it-was",
        ),
        pytest.param(
            "2025-03-03 08:00",
            "2025-03-01",
            "2025-03-10",
            ["2025-03-03 01:00"],
            id="moved-out-of-the-series-range-is-found-where-it-went",
        ),
        pytest.param(
            "2025-01-27 07:30",
            "2025-01-27 00:00",
            "2025-01-28 00:00",
            ["2025-01-27 00:30", "2025-01-27 01:00"],
            id="moved-onto-the-next-occurrence-day",
        ),
    ],
)
def test_moved_occurrence_appears_where_it_moved(
    moved_to: str, window_from: str, window_to: str, expected: list[str]
) -> None:
    key = at(HCM, "2025-01-13 08:00")
    override = OccurrenceOverride(key, start=at(HCM, moved_to))
    s = series(HCM, "2025-01-06 08:00", WEEKLY, overrides=(override,))

    found = between(s, utc(window_from), utc(window_to))

    assert starts(found) == expected
    moved = [o for o in found if o.moved]
    assert all(o.key == utc("2025-01-13 01:00") for o in moved)
    assert all(o.end - o.start == timedelta(hours=1) for o in moved)


def test_override_with_a_new_end_only_extends_in_place() -> None:
    key = at(HCM, "2025-01-13 08:00")
    s = series(
        HCM,
        "2025-01-06 08:00",
        WEEKLY,
        overrides=(OccurrenceOverride(key, end=at(HCM, "2025-01-13 11:00")),),
    )

    (found,) = between(s, utc("2025-01-13"), utc("2025-01-14"))

    assert (found.start, found.end, found.moved) == (
        utc("2025-01-13 01:00"),
        utc("2025-01-13 04:00"),
        True,
    )


def test_override_changes_sites_of_one_occurrence_only() -> None:
    key = at(HCM, "2025-01-20 08:00")
    s = series(
        HCM, "2025-01-06 08:00", WEEKLY, overrides=(OccurrenceOverride(key, site_ids=(7, 9)),)
    )

    found = between(s, utc("2025-01-01"), utc("2025-03-01"))

    assert [(f"{o.start:%d}", o.site_ids, o.moved) for o in found] == [
        ("06", None, False),
        ("13", None, False),
        ("20", (7, 9), False),
        ("27", None, False),
    ]


def test_override_of_an_open_ended_series_far_from_its_start() -> None:
    key = at(HCM, "2031-06-02 08:00")  # a Monday
    override = OccurrenceOverride(key, start=at(HCM, "2031-06-03 15:00"), site_ids=("a",))
    s = series(HCM, "2025-01-06 08:00", "FREQ=WEEKLY;BYDAY=MO", overrides=(override,))

    found = between(s, utc("2031-06-01"), utc("2031-06-10"))

    assert [(f"{o.start:%Y-%m-%d %H:%M}", o.site_ids) for o in found] == [
        ("2031-06-03 08:00", ("a",)),
        ("2031-06-09 01:00", None),
    ]


def test_occurrence_key_text_is_rfc5545_utc() -> None:
    assert occurrence_key_text(at(NEW_YORK, "2025-11-02 01:30")) == "20251102T053000Z"


# --- refused input ------------------------------------------------------------------------

GOOD = {
    "start": at(HCM, "2025-01-06 08:00"),
    "end": at(HCM, "2025-01-06 10:00"),
    "timezone": HCM,
    "rrule": "FREQ=WEEKLY;BYDAY=MO",
}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        pytest.param({"start": datetime(2025, 1, 6, 8)}, "start", "naive", id="naive-start"),
        pytest.param({"end": datetime(2025, 1, 6, 10)}, "end", "naive", id="naive-end"),
        pytest.param(
            {"end": at(HCM, "2025-01-06 07:00")}, "end", "after start", id="end-before-start"
        ),
        pytest.param(
            {"end": at(HCM, "2025-01-06 08:00")}, "end", "after start", id="zero-duration"
        ),
        pytest.param({"end": at(HCM, "2025-01-07 08:01")}, "end", "at most", id="over-long"),
        pytest.param(
            {"start": at(HCM, "2025-01-06 08:00:00.5")}, "start", "whole seconds", id="sub-second"
        ),
        pytest.param({"timezone": "Mars/Olympus_Mons"}, "timezone", "unknown", id="unknown-zone"),
        pytest.param({"timezone": "../../etc/passwd"}, "timezone", "unknown", id="path-as-zone"),
        pytest.param({"timezone": ""}, "timezone", "required", id="empty-zone"),
        pytest.param(
            {"rrule": "FREQ=SECONDLY"}, "rrule", "DAILY, WEEKLY, MONTHLY, YEARLY", id="secondly"
        ),
        pytest.param({"rrule": "FREQ=MINUTELY"}, "rrule", "not allowed", id="minutely"),
        pytest.param({"rrule": "FREQ=HOURLY;COUNT=3"}, "rrule", "not allowed", id="hourly"),
        pytest.param({"rrule": "BYDAY=MO"}, "rrule", "FREQ is required", id="no-freq"),
        pytest.param(
            {"rrule": "FREQ=WEEKLY;BYDAY=TU"},
            "rrule",
            "not itself an occurrence",
            id="start-not-in-rule",
        ),
        pytest.param(
            {"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"},
            "rrule",
            "not itself an occurrence",
            id="empty-rule",
        ),
        pytest.param(
            {"rrule": f"FREQ=DAILY;COUNT={MAX_COUNT + 1}"}, "rrule", "COUNT", id="count-too-big"
        ),
        pytest.param({"rrule": "FREQ=DAILY;COUNT=0"}, "rrule", "COUNT", id="count-zero"),
        pytest.param(
            {"rrule": "FREQ=DAILY;COUNT=3;UNTIL=20250201T000000Z"},
            "rrule",
            "COUNT and UNTIL",
            id="count-and-until",
        ),
        pytest.param(
            {"rrule": "FREQ=DAILY;UNTIL=20250201"}, "rrule", "UTC date-time", id="until-date-only"
        ),
        pytest.param(
            {"rrule": "FREQ=DAILY;UNTIL=20250201T000000"},
            "rrule",
            "UTC date-time",
            id="until-floating",
        ),
        pytest.param(
            {"rrule": "FREQ=DAILY;UNTIL=20250105T000000Z"},
            "rrule",
            "before the start",
            id="until-before-start",
        ),
        pytest.param(
            {"rrule": "FREQ=DAILY;UNTIL=20251399T000000Z"},
            "rrule",
            "not a valid",
            id="until-bad-date",
        ),
        pytest.param(
            {"rrule": "FREQ=DAILY;X-NAME=1"}, "rrule", "unknown rule part", id="unknown-part"
        ),
        pytest.param(
            {"rrule": "FREQ=YEARLY;BYEASTER=0"},
            "rrule",
            "unknown rule part",
            id="dateutil-only-part",
        ),
        pytest.param(
            {"rrule": "FREQ=DAILY;BYHOUR=8,14"}, "rrule", "BYHOUR is not supported", id="byhour"
        ),
        pytest.param({"rrule": "FREQ=DAILY;FREQ=WEEKLY"}, "rrule", "twice", id="duplicate-part"),
        pytest.param({"rrule": "FREQ=DAILY;INTERVAL=0"}, "rrule", "INTERVAL", id="interval-zero"),
        pytest.param({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule", "BYDAY", id="bad-weekday"),
        pytest.param(
            {"rrule": "FREQ=WEEKLY;BYDAY=1MO"}, "rrule", "numbered weekday", id="numbered-weekly"
        ),
        pytest.param(
            {"rrule": "FREQ=MONTHLY;BYMONTHDAY=32"}, "rrule", "BYMONTHDAY", id="monthday-32"
        ),
        pytest.param(
            {"rrule": "FREQ=MONTHLY;BYWEEKNO=3"}, "rrule", "BYWEEKNO cannot", id="weekno-monthly"
        ),
        pytest.param(
            {"rrule": "FREQ=WEEKLY;BYSETPOS=1"}, "rrule", "BYSETPOS needs", id="bysetpos-alone"
        ),
        pytest.param({"rrule": "FREQ=WEEKLY;WKST=XY"}, "rrule", "WKST", id="bad-wkst"),
        pytest.param({"rrule": "FREQ"}, "rrule", "NAME=VALUE", id="malformed"),
        pytest.param(
            {"rrule": "DTSTART:20250106T010000Z\nRRULE:FREQ=DAILY"},
            "rrule",
            "separate fields",
            id="multi-line",
        ),
        pytest.param(
            {"rrule": "EXDATE:20250106T010000Z"}, "rrule", "separate fields", id="exdate-in-rule"
        ),
    ],
)
def test_refused_input_names_the_field(changes: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        parse_series(**{**GOOD, **changes})  # type: ignore[arg-type]

    assert isinstance(caught.value, InvalidInput)
    fields = {p.field: p.message for p in caught.value.problems}
    assert field in fields, caught.value.problems
    assert words in fields[field]


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(InvalidSchedule) as caught:
        parse_series(start=datetime(2025, 1, 6, 8), end=datetime(2025, 1, 6, 9), timezone="Nowhere")

    assert {p.field for p in caught.value.problems} == {"start", "end", "timezone"}


def test_start_in_the_second_of_two_equal_wall_times_is_refused() -> None:
    second_0130 = utc("2025-11-02 06:30")  # 01:30 EST, after 01:30 EDT the same night

    with pytest.raises(InvalidSchedule) as caught:
        parse_series(start=second_0130, end=second_0130 + timedelta(hours=1), timezone=NEW_YORK)

    assert [p.field for p in caught.value.problems] == ["start"]
    assert "twice" in caught.value.problems[0].message


@pytest.mark.parametrize(
    ("exdates", "overrides", "field", "words"),
    [
        pytest.param((datetime(2025, 1, 13, 8),), (), "exdates", "aware", id="naive-exdate"),
        pytest.param(
            (at(HCM, "2025-01-14 08:00"),),
            (),
            "exdates",
            "not the start",
            id="exdate-not-an-occurrence",
        ),
        pytest.param(
            (at(HCM, "2025-01-13 09:00"),), (), "exdates", "not the start", id="exdate-wrong-time"
        ),
        pytest.param(
            tuple(at(HCM, f"2025-01-{d} 08:00") for d in ("06", "13", "20", "27")),
            (),
            "exdates",
            "every occurrence",
            id="exdates-remove-everything",
        ),
        pytest.param(
            (),
            (OccurrenceOverride(at(HCM, "2025-01-14 08:00"), cancelled=True),),
            "overrides",
            "not an occurrence",
            id="override-not-an-occurrence",
        ),
        pytest.param(
            (),
            (OccurrenceOverride(datetime(2025, 1, 13, 8), cancelled=True),),
            "overrides",
            "aware",
            id="override-naive-key",
        ),
        pytest.param(
            (),
            (
                OccurrenceOverride(
                    at(HCM, "2025-01-13 08:00"),
                    start=at(HCM, "2025-01-13 09:00"),
                    end=at(HCM, "2025-01-13 09:00"),
                ),
            ),
            "overrides",
            "end must be after start",
            id="override-empty-span",
        ),
        pytest.param(
            (),
            (OccurrenceOverride(at(HCM, "2025-01-13 08:00"), end=at(HCM, "2025-01-15 08:00")),),
            "overrides",
            "at most",
            id="override-too-long",
        ),
        pytest.param(
            (),
            (
                OccurrenceOverride(at(HCM, "2025-01-13 08:00"), cancelled=True),
                OccurrenceOverride(at(HCM, "2025-01-13 08:00"), site_ids=(1,)),
            ),
            "overrides",
            "twice",
            id="override-twice",
        ),
        pytest.param(
            (at(HCM, "2025-01-13 08:00"),),
            (OccurrenceOverride(at(HCM, "2025-01-13 08:00"), cancelled=True),),
            "overrides",
            "EXDATE",
            id="override-of-an-exdate",
        ),
    ],
)
def test_refused_exceptions_name_the_field(
    exdates: tuple[datetime, ...],
    overrides: tuple[OccurrenceOverride, ...],
    field: str,
    words: str,
) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        series(HCM, "2025-01-06 08:00", WEEKLY, exdates=exdates, overrides=overrides)

    messages = [p.message for p in caught.value.problems if p.field == field]
    assert any(words in m for m in messages), caught.value.problems


@pytest.mark.parametrize(
    ("window_from", "window_to", "field"),
    [
        (datetime(2025, 1, 1), utc("2025-02-01"), "from"),
        (utc("2025-01-01"), datetime(2025, 2, 1), "to"),
        (utc("2025-02-01"), utc("2025-01-01"), "to"),
        (utc("2025-01-01"), utc("2025-01-01"), "to"),
        (utc("2025-01-01"), utc("2028-01-01"), "to"),  # more than 1000 daily occurrences
    ],
)
def test_refused_windows(window_from: datetime, window_to: datetime, field: str) -> None:
    s = series(HCM, "2025-01-01 08:00", "FREQ=DAILY")

    with pytest.raises(InvalidSchedule) as caught:
        between(s, window_from, window_to)

    assert [p.field for p in caught.value.problems] == [field]


def test_rule_text_is_normalised() -> None:
    s = series(HCM, "2025-01-06 08:00", "rrule:byday=mo;freq=weekly;interval=1;")

    assert s.rrule == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO"


# --- properties ---------------------------------------------------------------------------

ZONES = st.sampled_from([HCM, BERLIN, NEW_YORK, "Australia/Lord_Howe", "America/Sao_Paulo"])
RULES = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=SU,SA;WKST=SU",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH,SA;WKST=TU",
        "FREQ=MONTHLY",
        "FREQ=MONTHLY;INTERVAL=5",
        "FREQ=MONTHLY;BYDAY=2TU",
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1",
        "FREQ=YEARLY",
        "FREQ=YEARLY;BYMONTH=3,9;BYDAY=-1SU",
        "FREQ=YEARLY;BYWEEKNO=1,20;BYDAY=MO",
        "FREQ=YEARLY;BYYEARDAY=100,-1",
        "FREQ=DAILY;INTERVAL=2;COUNT=200",
        "FREQ=WEEKLY;BYDAY=TU,FR;COUNT=50",
    ]
)


def _first_occurrence(zone: str, rule: str, after: datetime) -> datetime:
    first = rrulestr(rule + ";WKST=MO" if "WKST" not in rule else rule, dtstart=after)
    return next(iter(first)).replace(tzinfo=ZoneInfo(zone))  # type: ignore[no-any-return]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=ZONES,
    rule=RULES,
    day=st.dates(date(2020, 1, 1), date(2030, 12, 31)),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    offset_days=st.integers(0, 8000),
    length_days=st.integers(1, 200),
)
def test_jumping_to_a_far_window_matches_walking_there(
    zone: str, rule: str, day: date, hour: int, minute: int, offset_days: int, length_days: int
) -> None:
    start = _first_occurrence(zone, rule, datetime(day.year, day.month, day.day, hour, minute))
    try:
        s = parse_series(start=start, end=start + timedelta(hours=2), timezone=zone, rrule=rule)
    except InvalidSchedule:
        reject()  # e.g. a start inside a fall-back fold's second pass
    window_from = s.start + timedelta(days=offset_days)
    window_to = window_from + timedelta(days=length_days)

    jumped = [o.start for o in between(s, window_from, window_to, limit=10_000)]

    walked = []
    for t in rrulestr(s.rrule or "", dtstart=_local(s)):
        instant = t.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        if instant >= window_to:
            break
        if instant + timedelta(hours=2) > window_from:
            walked.append(instant)
    assert jumped == walked


@settings(max_examples=60, deadline=None)
@given(
    zone=ZONES,
    rule=RULES,
    cuts=st.lists(st.integers(0, 3000 * 24), min_size=3, max_size=3).map(sorted),
    moved_hours=st.integers(-200, 200),
)
def test_adjacent_windows_add_up(zone: str, rule: str, cuts: list[int], moved_hours: int) -> None:
    start = _first_occurrence(zone, rule, datetime(2025, 1, 1, 9))
    plain = parse_series(start=start, end=start + timedelta(hours=3), timezone=zone, rrule=rule)
    second = list(islice(iter_occurrences(plain), 2))[1]
    s = parse_series(
        start=start,
        end=start + timedelta(hours=3),
        timezone=zone,
        rrule=rule,
        overrides=[
            OccurrenceOverride(second.key, start=second.start + timedelta(hours=moved_hours))
        ],
    )
    a, b, c = (s.start + timedelta(hours=h) for h in cuts)
    if not a < b < c:
        return

    left = between(s, a, b, limit=10_000)
    right = between(s, b, c, limit=10_000)
    whole = between(s, a, c, limit=10_000)

    assert {o.key for o in left} | {o.key for o in right} == {o.key for o in whole}
    assert [o.start for o in whole] == sorted(o.start for o in whole)
    assert len({o.key for o in whole}) == len(whole)
