"""Overlap maths: buffers, clashes per room/endpoint, free/busy, bridge port capacity."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcorch.booking.overlap import (
    BookedOccurrence,
    FreeBusy,
    PortPeriod,
    PortUse,
    bridge_port_demand,
    find_clashes,
    free_busy,
    overlaps,
    peak_ports,
    port_shortfalls,
    port_timeline,
)

DAY = datetime(2025, 6, 2, tzinfo=UTC)


def t(hhmm: str) -> datetime:
    """A time on the test day, 'HH:MM' UTC."""
    hours, minutes = hhmm.split(":")
    return DAY + timedelta(hours=int(hours), minutes=int(minutes))


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


# --- two spans ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "buffer", "expected"),
    [
        pytest.param(("09:00", "10:00"), ("11:00", "12:00"), 0, False, id="apart"),
        pytest.param(("09:00", "10:00"), ("10:00", "11:00"), 0, False, id="touching"),
        pytest.param(("09:00", "10:00"), ("09:59", "11:00"), 0, True, id="one-minute-overlap"),
        pytest.param(("09:00", "12:00"), ("10:00", "11:00"), 0, True, id="contains"),
        pytest.param(("10:00", "11:00"), ("09:00", "12:00"), 0, True, id="contained"),
        pytest.param(("09:00", "10:00"), ("09:00", "10:00"), 0, True, id="identical"),
        pytest.param(("09:00", "10:00"), ("10:00", "11:00"), 15, True, id="touching-with-buffer"),
        pytest.param(("09:00", "10:00"), ("10:15", "11:00"), 15, False, id="gap-equals-buffer"),
        pytest.param(("09:00", "10:00"), ("10:14", "11:00"), 15, True, id="gap-below-buffer"),
        pytest.param(
            ("10:15", "11:00"), ("09:00", "10:00"), 15, False, id="gap-equals-buffer-before"
        ),
        pytest.param(
            ("10:14", "11:00"), ("09:00", "10:00"), 15, True, id="gap-below-buffer-before"
        ),
    ],
)
def test_overlaps(a: tuple[str, str], b: tuple[str, str], buffer: int, expected: bool) -> None:
    assert overlaps(t(a[0]), t(a[1]), t(b[0]), t(b[1]), buffer=minutes(buffer)) is expected
    # Symmetric: the buffer is a gap between the two, whichever comes first.
    assert overlaps(t(b[0]), t(b[1]), t(a[0]), t(a[1]), buffer=minutes(buffer)) is expected


def test_wall_times_repeated_at_fall_back_are_told_apart() -> None:
    new_york = ZoneInfo("America/New_York")
    first_pass = (  # 01:10-01:50 EDT
        datetime(2025, 11, 2, 1, 10, tzinfo=new_york),
        datetime(2025, 11, 2, 1, 50, tzinfo=new_york),
    )
    second_pass = (  # 01:20-01:40 EST, an hour later in real time
        datetime(2025, 11, 2, 1, 20, fold=1, tzinfo=new_york),
        datetime(2025, 11, 2, 1, 40, fold=1, tzinfo=new_york),
    )

    assert not overlaps(*first_pass, *second_pass)
    assert overlaps(*first_pass, *second_pass, buffer=minutes(31))
    room = frozenset({1})
    old = BookedOccurrence(1, first_pass[0], *first_pass, rooms=room)
    new = BookedOccurrence(None, second_pass[0], *second_pass, rooms=room)
    assert find_clashes([new], [old]) == []
    assert port_timeline(
        [PortUse(*first_pass, 3), PortUse(*second_pass, 4)],
        capacity=5,
        start=first_pass[0],
        end=second_pass[1],
    ) == [  # in UTC: PEP 495 makes an ambiguous wall time unequal to any other zone's
        PortPeriod(utc_at("05:10"), utc_at("05:50"), 3, 2),
        PortPeriod(utc_at("05:50"), utc_at("06:20"), 0, 5),
        PortPeriod(utc_at("06:20"), utc_at("06:40"), 4, 1),
    ]


def utc_at(hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2025-11-02T{hhmm}+00:00")


def test_negative_buffer_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        overlaps(t("09:00"), t("10:00"), t("11:00"), t("12:00"), buffer=minutes(-1))


# --- clashes ------------------------------------------------------------------------------


def booking(
    meeting: int | None,
    start: str,
    end: str,
    rooms: tuple[int, ...] = (),
    endpoints: tuple[str, ...] = (),
) -> BookedOccurrence:
    return BookedOccurrence(
        meeting_id=meeting,
        occurrence_key=t(start),
        start=t(start),
        end=t(end),
        rooms=frozenset(rooms),
        endpoints=frozenset(endpoints),
    )


EXISTING = [
    booking(1, "08:00", "09:00", rooms=(10,), endpoints=("sip:a",)),
    booking(2, "09:00", "10:00", rooms=(11,), endpoints=("sip:b",)),
    booking(3, "10:30", "12:00", rooms=(10, 12), endpoints=("sip:c",)),
    booking(4, "13:00", "14:00", rooms=(13,), endpoints=("sip:a",)),
]


@pytest.mark.parametrize(
    ("candidate", "buffer", "expected"),
    [
        pytest.param(
            [booking(None, "09:00", "10:30", rooms=(10,))],
            0,
            [],
            id="room-free-between-touching-meetings",
        ),
        pytest.param(
            [booking(None, "09:00", "10:30", rooms=(10,))],
            1,
            [("room", 10, 1, "08:00"), ("room", 10, 3, "10:30")],
            id="buffer-makes-touching-meetings-clash",
        ),
        pytest.param(
            [booking(None, "11:00", "11:30", rooms=(12, 13))],
            0,
            [("room", 12, 3, "10:30")],
            id="one-of-two-rooms-taken",
        ),
        pytest.param(
            [booking(None, "12:30", "13:30", endpoints=("sip:a",))],
            0,
            [("endpoint", "sip:a", 4, "13:00")],
            id="endpoint-taken-in-another-room",
        ),
        pytest.param(
            [booking(None, "07:00", "15:00", rooms=(10,), endpoints=("sip:a", "sip:b"))],
            0,
            [
                ("endpoint", "sip:a", 1, "08:00"),
                ("room", 10, 1, "08:00"),
                ("endpoint", "sip:b", 2, "09:00"),
                ("room", 10, 3, "10:30"),
                ("endpoint", "sip:a", 4, "13:00"),
            ],
            id="long-meeting-lists-every-clash",
        ),
        pytest.param(
            [booking(3, "11:00", "12:30", rooms=(10, 12))],
            0,
            [],
            id="editing-a-meeting-does-not-clash-with-itself",
        ),
        pytest.param(
            [booking(None, "09:00", "10:00", rooms=(99,), endpoints=("sip:z",))],
            0,
            [],
            id="other-resources",
        ),
    ],
)
def test_find_clashes(
    candidate: list[BookedOccurrence],
    buffer: int,
    expected: list[tuple[str, object, int, str]],
) -> None:
    clashes = find_clashes(candidate, EXISTING, buffer=minutes(buffer))

    assert [
        (c.resource_kind, c.resource_id, c.meeting_id, f"{c.start:%H:%M}") for c in clashes
    ] == expected
    by_id = {b.meeting_id: b for b in EXISTING}
    for clash in clashes:
        old = by_id[clash.meeting_id]
        assert (clash.occurrence_key, clash.end) == (old.occurrence_key, old.end)


def test_each_candidate_occurrence_of_a_series_reports_its_own_clash() -> None:
    existing = [
        BookedOccurrence(
            7,
            DAY + timedelta(days=d, hours=9),
            DAY + timedelta(days=d, hours=9),
            DAY + timedelta(days=d, hours=10),
            rooms=frozenset({5}),
        )
        for d in (0, 14)
    ]
    weekly = [
        BookedOccurrence(
            None,
            DAY + timedelta(days=d, hours=9, minutes=30),
            DAY + timedelta(days=d, hours=9, minutes=30),
            DAY + timedelta(days=d, hours=11),
            rooms=frozenset({5}),
        )
        for d in (0, 7, 14, 21)
    ]

    clashes = find_clashes(weekly, existing)

    assert [(c.candidate_key - DAY, c.occurrence_key - DAY) for c in clashes] == [
        (timedelta(hours=9, minutes=30), timedelta(hours=9)),
        (timedelta(days=14, hours=9, minutes=30), timedelta(days=14, hours=9)),
    ]


SPAN = st.tuples(st.integers(0, 200), st.integers(1, 60)).map(
    lambda p: (DAY + minutes(p[0]), DAY + minutes(p[0] + p[1]))
)


@st.composite
def bookings(draw: st.DrawFn, meeting_ids: st.SearchStrategy[int | None]) -> BookedOccurrence:
    start, end = draw(SPAN)
    return BookedOccurrence(
        meeting_id=draw(meeting_ids),
        occurrence_key=start,
        start=start,
        end=end,
        rooms=frozenset(draw(st.sets(st.integers(1, 4), max_size=2))),
        endpoints=frozenset(draw(st.sets(st.sampled_from("abc"), max_size=2))),
    )


@settings(max_examples=150, deadline=None)
@given(
    candidate=st.lists(bookings(st.just(None)), max_size=6),
    existing=st.lists(bookings(st.integers(1, 30)), max_size=25),
    buffer=st.integers(0, 20),
)
def test_clashes_match_checking_every_pair(
    candidate: list[BookedOccurrence], existing: list[BookedOccurrence], buffer: int
) -> None:
    found = find_clashes(candidate, existing, buffer=minutes(buffer))

    expected = sorted(
        (new.occurrence_key, old.occurrence_key, old.meeting_id, kind, str(ref))
        for new in candidate
        for old in existing
        for kind, mine, theirs in (
            ("room", new.rooms, old.rooms),
            ("endpoint", new.endpoints, old.endpoints),
        )
        for ref in mine & theirs
        if overlaps(new.start, new.end, old.start, old.end, buffer=minutes(buffer))
    )
    assert (
        sorted(
            (c.candidate_key, c.occurrence_key, c.meeting_id, c.resource_kind, str(c.resource_id))
            for c in found
        )
        == expected
    )


def test_thousands_of_overlapping_bookings_are_checked() -> None:
    # How fast: benchmarks/complexity.py (clash_check).
    rng = random.Random(5545)
    existing = []
    for n in range(20_000):
        start = DAY + minutes(rng.randrange(0, 60 * 24 * 30))
        existing.append(
            BookedOccurrence(
                n,
                start,
                start,
                start + minutes(rng.randrange(30, 240)),
                rooms=frozenset({rng.randrange(2000)}),
                endpoints=frozenset({f"sip:{rng.randrange(2000)}"}),
            )
        )
    candidate = [
        BookedOccurrence(
            None,
            DAY + timedelta(days=d, hours=9),
            DAY + timedelta(days=d, hours=9),
            DAY + timedelta(days=d, hours=11),
            rooms=frozenset(range(50)),
        )
        for d in range(30)
    ]

    clashes = find_clashes(candidate, existing, buffer=minutes(15))

    assert clashes, "random data this dense must hold some clash"
    assert all(c.resource_kind == "room" and int(c.resource_id) < 50 for c in clashes)


# --- free/busy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        pytest.param([], [("08:00", "18:00", False)], id="all-free"),
        pytest.param(
            [("09:00", "10:00"), ("10:00", "11:00"), ("13:00", "14:00")],
            [
                ("08:00", "09:00", False),
                ("09:00", "11:00", True),
                ("11:00", "13:00", False),
                ("13:00", "14:00", True),
                ("14:00", "18:00", False),
            ],
            id="touching-spans-merge",
        ),
        pytest.param(
            [("07:00", "08:30"), ("08:00", "09:00"), ("17:30", "19:00")],
            [("08:00", "09:00", True), ("09:00", "17:30", False), ("17:30", "18:00", True)],
            id="clipped-to-the-window",
        ),
        pytest.param(
            [("10:00", "12:00"), ("10:30", "11:00")],
            [("08:00", "10:00", False), ("10:00", "12:00", True), ("12:00", "18:00", False)],
            id="contained-span",
        ),
        pytest.param(
            [("05:00", "07:00"), ("19:00", "20:00")], [("08:00", "18:00", False)], id="outside"
        ),
    ],
)
def test_free_busy(spans: list[tuple[str, str]], expected: list[tuple[str, str, bool]]) -> None:
    result = free_busy([(t(a), t(b)) for a, b in spans], t("08:00"), t("18:00"))

    assert result == [FreeBusy(t(a), t(b), busy=busy) for a, b, busy in expected]


# --- ports --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sites", "links", "expected"),
    [
        pytest.param({"cms": 6}, [], {"cms": 6}, id="one-bridge"),
        pytest.param(
            {"cms": 6, "janus": 3}, [("cms", "janus")], {"cms": 7, "janus": 4}, id="cascade"
        ),
        pytest.param(
            {"a": 2, "b": 2, "c": 2},
            [("a", "b"), ("a", "c")],
            {"a": 4, "b": 3, "c": 3},
            id="star-cascade",
        ),
        pytest.param({"a": 0, "b": 4}, [], {"b": 4}, id="unused-bridge"),
    ],
)
def test_bridge_port_demand(
    sites: dict[str, int], links: list[tuple[str, str]], expected: dict[str, int]
) -> None:
    assert bridge_port_demand(sites, links) == expected


def test_a_link_to_itself_is_refused() -> None:
    with pytest.raises(ValueError, match="two different bridges"):
        bridge_port_demand({"a": 1}, [("a", "a")])


def use(start: str, end: str, ports: int) -> PortUse:
    return PortUse(t(start), t(end), ports)


@pytest.mark.parametrize(
    ("uses", "expected"),
    [
        pytest.param([], [("08:00", "12:00", 0)], id="idle"),
        pytest.param(
            [use("09:00", "10:00", 4), use("09:30", "11:00", 3)],
            [
                ("08:00", "09:00", 0),
                ("09:00", "09:30", 4),
                ("09:30", "10:00", 7),
                ("10:00", "11:00", 3),
                ("11:00", "12:00", 0),
            ],
            id="overlapping",
        ),
        pytest.param(
            [use("09:00", "10:00", 4), use("10:00", "11:00", 4)],
            [("08:00", "09:00", 0), ("09:00", "11:00", 4), ("11:00", "12:00", 0)],
            id="touching-do-not-add-up",
        ),
        pytest.param(
            [use("07:00", "13:00", 2), use("09:00", "10:00", 5)],
            [("08:00", "09:00", 2), ("09:00", "10:00", 7), ("10:00", "12:00", 2)],
            id="clipped-to-the-window",
        ),
    ],
)
def test_port_timeline(uses: list[PortUse], expected: list[tuple[str, str, int]]) -> None:
    timeline = port_timeline(uses, capacity=10, start=t("08:00"), end=t("12:00"))

    assert timeline == [PortPeriod(t(a), t(b), n, 10 - n) for a, b, n in expected]


@pytest.mark.parametrize(
    ("uses", "expected"),
    [
        pytest.param([], 0, id="none"),
        pytest.param([use("09:00", "10:00", 4), use("10:00", "11:00", 5)], 5, id="touching"),
        pytest.param(
            [use("09:00", "12:00", 4), use("10:00", "11:00", 5), use("10:30", "10:45", 1)],
            10,
            id="nested",
        ),
        pytest.param(
            [use("06:00", "07:00", 50), use("09:00", "10:00", 3)], 3, id="outside-the-window"
        ),
    ],
)
def test_peak_ports(uses: list[PortUse], expected: int) -> None:
    assert peak_ports(uses, start=t("08:00"), end=t("12:00")) == expected


def test_port_shortfalls_report_only_where_the_candidate_tips_the_pool_over() -> None:
    existing = [use("08:00", "09:00", 12), use("09:00", "11:00", 8)]  # 08-09 already over 10
    candidate = [use("08:30", "12:00", 3)]

    shortfalls = port_shortfalls(existing, candidate, capacity=10)

    assert shortfalls == [
        PortPeriod(t("08:30"), t("09:00"), 15, -5),
        PortPeriod(t("09:00"), t("11:00"), 11, -1),
    ]
    assert port_shortfalls(existing, [use("11:00", "12:00", 3)], capacity=10) == []
    # A series whose occurrences bracket someone else's overbooking is not blamed for it.
    bracketing = [use("07:00", "08:00", 1), use("11:00", "12:00", 1)]
    assert port_shortfalls(existing, bracketing, capacity=10) == []


@settings(max_examples=150, deadline=None)
@given(
    spans=st.lists(
        st.tuples(st.integers(0, 300), st.integers(1, 120), st.integers(0, 8)), max_size=30
    ),
    probes=st.lists(st.integers(0, 299), min_size=1, max_size=10),
)
def test_peak_is_never_below_any_instant(
    spans: list[tuple[int, int, int]], probes: list[int]
) -> None:
    uses = [PortUse(DAY + minutes(s), DAY + minutes(s + d), p) for s, d, p in spans]
    start, end = DAY, DAY + minutes(300)

    peak = peak_ports(uses, start=start, end=end)
    timeline = port_timeline(uses, capacity=20, start=start, end=end)

    def at_instant(moment: datetime) -> int:
        return sum(u.ports for u in uses if u.start <= moment < u.end)

    for probe in probes:
        assert peak >= at_instant(DAY + minutes(probe))
    # The peak is reached at some span start, and the timeline tiles the window exactly.
    assert peak == max([0] + [at_instant(u.start) for u in uses if u.start < end])
    assert timeline[0].start == start and timeline[-1].end == end
    assert all(a.end == b.start and a.in_use != b.in_use for a, b in pairwise(timeline))
    assert all(p.in_use == at_instant(p.start) for p in timeline)


def test_sweep_over_ten_thousand_port_uses_finds_the_peak() -> None:
    # How fast: benchmarks/complexity.py (port_sweep).
    rng = random.Random(30)
    uses = []
    for _ in range(10_000):
        start = DAY + minutes(rng.randrange(0, 60 * 24 * 7))
        uses.append(PortUse(start, start + minutes(rng.randrange(30, 240)), rng.randrange(1, 9)))

    timeline = port_timeline(uses, capacity=200, start=DAY, end=DAY + timedelta(days=7))

    assert max(p.in_use for p in timeline) == peak_ports(
        uses, start=DAY, end=DAY + timedelta(days=7)
    )
