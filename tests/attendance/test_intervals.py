"""Observations to intervals: order, duplication and replay do not matter; time is bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from vcorch.attendance.intervals import Observation, build_timelines
from vcorch.attendance.outcome import AttendancePolicy, Window, judge

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
END = START + timedelta(hours=2)
GRACE = timedelta(seconds=60)
POLICY = AttendancePolicy()


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def obs(
    key: str,
    kind: str,
    minutes: float,
    participant: str = "p1",
    site: int | None = 1,
    source: str = "pushed",
    channel: str = "room_system",
) -> Observation:
    return Observation(
        key=key,
        kind=kind,  # type: ignore[arg-type]
        participant=participant,
        at=at(minutes),
        source=source,  # type: ignore[arg-type]
        channel=channel,  # type: ignore[arg-type]
        site=site,
    )


def outcome(observations: list[Observation], *, closed: bool = True, now: datetime = END):
    window = Window(START, END if closed else max(START, min(now, END)), closed)
    timelines = build_timelines(
        observations,
        close_at=END if closed else now,
        closed=closed,
        reconnect_grace=GRACE,
        sites=[1],
    )
    return judge(timelines.sites[1], window, POLICY)


# -- properties ------------------------------------------------------------------------------

observation = st.builds(
    lambda kind, minutes, participant, source, channel: (
        kind,
        minutes,
        participant,
        source,
        channel,
    ),
    st.sampled_from(["join", "leave"]),
    st.integers(min_value=-60 * 60, max_value=3 * 60 * 60).map(lambda s: s / 60),
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from(["pushed", "polled", "builtin", "manual"]),
    st.sampled_from(["room_system", "browser", "in_person"]),
)
SITE_OF = {"a": 1, "b": 1, "c": 2, "d": None}


def make(raw: list[tuple[str, float, str, str, str]]) -> list[Observation]:
    return [
        obs(f"k{i}", kind, minutes, participant, SITE_OF[participant], source, channel)
        for i, (kind, minutes, participant, source, channel) in enumerate(raw)
    ]


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(observation, max_size=40),
    data=st.data(),
    closed=st.booleans(),
)
def test_any_order_duplication_or_replay_gives_the_same_intervals(
    raw: list[tuple[str, float, str, str, str]], data: st.DataObject, closed: bool
) -> None:
    original = make(raw)
    replayed = (
        original + data.draw(st.lists(st.sampled_from(original), max_size=40)) if original else []
    )
    shuffled = data.draw(st.permutations(replayed))
    close_at = END if closed else at(45)
    expected = build_timelines(
        original, close_at=close_at, closed=closed, reconnect_grace=GRACE, sites=[1, 2]
    )
    got = build_timelines(
        shuffled, close_at=close_at, closed=closed, reconnect_grace=GRACE, sites=[1, 2]
    )
    assert got == expected
    window = Window(START, END if closed else at(45), closed)
    assert [judge(t, window, POLICY) for t in got.sites.values()] == [
        judge(t, window, POLICY) for t in expected.sites.values()
    ]


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(observation, max_size=60), closed=st.booleans(), grace=st.integers(0, 3600))
def test_connected_time_never_exceeds_the_meeting(
    raw: list[tuple[str, float, str, str, str]], closed: bool, grace: int
) -> None:
    close_at = END if closed else at(45)
    window = Window(START, END if closed else at(45), closed)
    timelines = build_timelines(
        make(raw),
        close_at=close_at,
        closed=closed,
        reconnect_grace=timedelta(seconds=grace),
        sites=[1, 2],
    )
    for timeline in timelines.sites.values():
        result = judge(timeline, window, POLICY)
        assert 0 <= result.connected_seconds <= window.seconds
        assert 0 <= result.share <= 1
        # Each channel's time lies within the site's (which also bridges short drops).
        for channel_seconds in result.seconds_by_channel.values():
            assert channel_seconds <= result.connected_seconds + 1e-6
        # A site's intervals never overlap and are in order.
        for before, after in zip(timeline.intervals, timeline.intervals[1:], strict=False):
            assert before.end < after.start


@settings(max_examples=200, deadline=None)
@given(raw=st.lists(observation, max_size=40))
def test_a_leave_never_ends_before_its_start(raw: list[tuple[str, float, str, str, str]]) -> None:
    timelines = build_timelines(make(raw), close_at=END, closed=True, reconnect_grace=GRACE)
    for site in timelines.sites.values():
        for member in site.participants:
            for interval in member.intervals:
                assert interval.start <= interval.end


# -- behaviour, case by case --------------------------------------------------------------------


def test_joined_on_time_and_stayed_is_present() -> None:
    result = outcome([obs("j", "join", -2), obs("l", "leave", 121)])
    assert result.status == "present"
    assert result.connected_seconds == 7200
    assert result.first_join == at(-2)
    assert result.last_leave == at(121)
    assert result.share == 1.0
    assert result.took_part_via == "room_system"


def test_a_short_drop_is_one_stay_and_counts_as_connected() -> None:
    result = outcome(
        [
            obs("j1", "join", 0),
            obs("l1", "leave", 30),
            obs("j2", "join", 30.5),  # back within the 60 s grace
            obs("l2", "leave", 120),
        ]
    )
    assert len(result.intervals) == 1
    assert result.reconnects == 1
    assert result.connected_seconds == 7200
    assert result.status == "present"


def test_a_long_drop_in_the_middle_makes_it_partial() -> None:
    result = outcome(
        [
            obs("j1", "join", 0),
            obs("l1", "leave", 40),
            obs("j2", "join", 80),
            obs("l2", "leave", 120),
        ]
    )
    assert [(i.start, i.end) for i in result.intervals] == [(at(0), at(40)), (at(80), at(120))]
    assert result.connected_seconds == 80 * 60
    assert result.status == "partial"


def test_late_and_left_early_thresholds() -> None:
    assert outcome([obs("j", "join", 15), obs("l", "leave", 120)]).status == "late"
    assert outcome([obs("j", "join", 9), obs("l", "leave", 120)]).status == "present"
    assert outcome([obs("j", "join", 0), obs("l", "leave", 100)]).status == "left_early"
    assert outcome([obs("j", "join", 0), obs("l", "leave", 111)]).status == "present"
    assert outcome([obs("j", "join", 30), obs("l", "leave", 60)]).status == "partial"
    assert outcome([]).status == "absent"
    # Connected only before the start (a test call): absent from the meeting itself.
    assert outcome([obs("j", "join", -30), obs("l", "leave", -10)]).status == "absent"


def test_a_leave_without_a_join_opens_nothing_and_is_marked() -> None:
    result = outcome([obs("l", "leave", 50)])
    assert result.status == "absent"
    assert result.unmatched_leaves == 1
    assert "leave_without_join" in result.marks


def test_a_meeting_that_ended_with_the_site_in_closes_at_its_end() -> None:
    result = outcome([obs("j", "join", 1)])
    assert result.intervals[-1].end == END
    assert result.intervals[-1].end_mark == "meeting_ended"
    assert result.last_leave == END
    assert "closed_at_end" in result.marks
    assert result.status == "present"


def test_while_live_a_site_still_in_has_no_last_leave_and_is_provisional() -> None:
    result = outcome([obs("j", "join", 1)], closed=False, now=at(30))
    assert result.still_connected
    assert result.last_leave is None
    assert result.connected_seconds == 29 * 60
    assert result.status == "present"
    assert "provisional" in result.marks


def test_a_poll_fills_a_lost_join_and_a_pushed_one_arriving_later_wins() -> None:
    polled = obs("poll-j", "join", 5, source="polled")
    alone = outcome([polled, obs("l", "leave", 120)])
    assert alone.first_join == at(5)
    assert "gaps_filled_by_polling" in alone.marks
    both = outcome([polled, obs("l", "leave", 120), obs("j", "join", 1)])
    assert both.first_join == at(1)
    assert both.intervals[0].start_mark == "joined"


def test_a_poll_that_no_longer_lists_a_participant_closes_it() -> None:
    result = outcome([obs("j", "join", 0), obs("poll-l", "leave", 90, source="polled")])
    assert result.last_leave == at(90)
    assert result.intervals[-1].end_mark == "polled"
    # The pushed leave, delayed, has the true time and wins.
    later = outcome(
        [
            obs("j", "join", 0),
            obs("poll-l", "leave", 90, source="polled"),
            obs("l", "leave", 88),
        ]
    )
    assert later.last_leave == at(88)
    assert later.intervals[-1].end_mark == "left"


def test_room_system_and_fallback_browser_at_once_count_once() -> None:
    result = outcome(
        [
            obs("j1", "join", 0, participant="sip"),
            obs("l1", "leave", 60, participant="sip"),
            obs("j2", "join", 50, participant="web", channel="browser"),
            obs("l2", "leave", 120, participant="web", channel="browser"),
        ]
    )
    assert result.connected_seconds == 7200
    assert result.seconds_by_channel == {"room_system": 3600, "browser": 70 * 60}
    assert result.took_part_via == "browser"
    assert result.status == "present"


def test_a_second_join_while_in_keeps_the_first() -> None:
    result = outcome([obs("j1", "join", 0), obs("j2", "join", 20), obs("l", "leave", 120)])
    assert [(i.start, i.end) for i in result.intervals] == [(at(0), at(120))]


def test_unmatched_participants_are_kept_apart() -> None:
    timelines = build_timelines(
        [obs("j", "join", 0, participant="guest", site=None)],
        close_at=END,
        closed=True,
        reconnect_grace=GRACE,
        sites=[1],
    )
    assert timelines.sites[1].intervals == ()
    assert [p.participant for p in timelines.unmatched] == ["guest"]
