"""Job planning: which jobs an occurrence needs at any ``now``, and catching up after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcorch.booking.recurrence import iter_occurrences, parse_series
from vcorch.scheduler.planning import (
    Job,
    JobKind,
    OccurrenceState,
    OccurrenceStatus,
    SchedulePolicy,
    StartDecision,
    decide_missed_start,
    job_id,
    next_jobs,
    plan_jobs,
)

START = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội
END = START + timedelta(hours=2)
POLICY = SchedulePolicy()

S, L, E, C, M = (
    OccurrenceStatus.SCHEDULED,
    OccurrenceStatus.LIVE,
    OccurrenceStatus.ENDED,
    OccurrenceStatus.CANCELLED,
    OccurrenceStatus.MISSED,
)


def rel(minutes: float, base: datetime = START) -> datetime:
    return base + timedelta(minutes=minutes)


def occurrence(
    status: OccurrenceStatus = S, *, end: datetime = END, extended_end: datetime | None = None
) -> OccurrenceState:
    return OccurrenceState(
        meeting_id=42,
        occurrence_key=START,
        start=START,
        end=end,
        status=status,
        extended_end=extended_end,
    )


def summary(jobs: list[Job], now: datetime) -> list[tuple[str, float, bool]]:
    """(kind[+reminder hours], minutes from START to run_at, late) for each job."""
    out = []
    for job in jobs:
        name = job.kind.value
        if job.offset is not None:
            name += f"-{job.offset.total_seconds() / 3600:g}h"
        assert job.late == (job.run_at == now and job.due_at <= now)
        out.append((name, (job.run_at - START).total_seconds() / 60, job.late))
    return out


ALL_AHEAD = [
    ("reminder-24h", -1440.0, False),
    ("reminder-1h", -60.0, False),
    ("preflight", -30.0, False),
    ("launch", -5.0, False),
    ("end_warning", 115.0, False),
    ("end", 120.0, False),
]

# (status, now in minutes from START, last_alive in minutes or None, expected jobs)
PLANS = [
    pytest.param(S, -3 * 1440, None, ALL_AHEAD, id="days-ahead-everything"),
    pytest.param(S, -1440, None, ALL_AHEAD[1:], id="at-the-24h-reminder-it-is-no-longer-ahead"),
    pytest.param(S, -1441, None, ALL_AHEAD, id="a-minute-before-the-24h-reminder"),
    pytest.param(S, -120, None, ALL_AHEAD[1:], id="two-hours-ahead"),
    pytest.param(S, -45, None, ALL_AHEAD[2:], id="between-reminder-and-preflight"),
    pytest.param(S, -10, None, ALL_AHEAD[3:], id="after-preflight"),
    pytest.param(
        S, -5, None, [("launch", -5.0, True), *ALL_AHEAD[4:]], id="at-launch-time-launch-now"
    ),
    pytest.param(
        S, 10, None, [("launch", 10.0, True), *ALL_AHEAD[4:]], id="inside-grace-launch-late"
    ),
    pytest.param(S, 14.99, None, [("launch", 14.99, True), *ALL_AHEAD[4:]], id="just-inside-grace"),
    pytest.param(S, 15, None, [("mark_missed", 15.0, True)], id="grace-over-mark-missed"),
    pytest.param(S, 200, None, [("mark_missed", 200.0, True)], id="long-after-mark-missed"),
    pytest.param(L, 10, None, ALL_AHEAD[4:], id="live-end-warning-and-end"),
    pytest.param(L, 117, None, [("end", 120.0, False)], id="live-after-end-warning"),
    pytest.param(
        L,
        117,
        110,
        [("end_warning", 117.0, True), ("end", 120.0, False)],
        id="restart-live-missed-end-warning-sent-late",
    ),
    pytest.param(L, 125, 110, [("end", 125.0, True)], id="restart-live-past-end-ends-now"),
    pytest.param(L, 120, None, [("end", 120.0, True)], id="live-at-end-ends-now"),
    pytest.param(E, 10, None, [], id="ended"),
    pytest.param(C, -3 * 1440, None, [], id="cancelled"),
    pytest.param(M, 30, None, [], id="already-missed"),
    pytest.param(
        S,
        -50,
        -120,
        [("reminder-1h", -50.0, True), *ALL_AHEAD[2:]],
        id="restart-reminder-10-min-late-is-sent",
    ),
    pytest.param(
        S,
        -50,
        -26 * 60,
        [("reminder-1h", -50.0, True), *ALL_AHEAD[2:]],
        id="restart-both-reminders-missed-only-the-latest-is-sent",
    ),
    pytest.param(
        S,
        -1380,
        -26 * 60,
        ALL_AHEAD[1:],
        id="restart-24h-reminder-an-hour-late-is-skipped",
    ),
    pytest.param(
        S,
        -30,
        -120,
        [("preflight", -30.0, True), *ALL_AHEAD[3:]],
        id="restart-reminder-30-min-late-skipped-preflight-due-now-runs",
    ),
    pytest.param(
        S,
        -50,
        None,
        ALL_AHEAD[2:],
        id="replanning-while-up-never-resends-a-past-reminder",
    ),
    pytest.param(
        S,
        -50,
        -55,
        ALL_AHEAD[2:],
        id="restart-reminder-sent-before-going-down-is-not-resent",
    ),
    pytest.param(
        S,
        -3,
        -40,
        [("launch", -3.0, True), *ALL_AHEAD[4:]],
        id="restart-after-launch-time-skips-preflight-launches",
    ),
    pytest.param(
        S,
        5,
        -40,
        [("launch", 5.0, True), *ALL_AHEAD[4:]],
        id="restart-after-start-no-reminder-launch-late",
    ),
]


@pytest.mark.parametrize(("status", "now_min", "alive_min", "expected"), PLANS)
def test_plan_jobs(
    status: OccurrenceStatus,
    now_min: float,
    alive_min: float | None,
    expected: list[tuple[str, float, bool]],
) -> None:
    now = rel(now_min)
    last_alive = rel(alive_min) if alive_min is not None else None

    jobs = plan_jobs(occurrence(status), POLICY, now, last_alive=last_alive)

    assert summary(jobs, now) == expected
    assert all(job.run_at >= now for job in jobs)


def test_extension_moves_end_warning_and_end_but_keeps_their_ids() -> None:
    before = plan_jobs(occurrence(L), POLICY, rel(60))
    extended = plan_jobs(occurrence(L, extended_end=rel(150)), POLICY, rel(60))

    assert summary(extended, rel(60)) == [("end_warning", 145.0, False), ("end", 150.0, False)]
    assert [j.job_id for j in extended] == [j.job_id for j in before]


def test_short_meeting_that_ended_inside_the_grace_window_is_missed() -> None:
    short = occurrence(S, end=rel(10))

    assert decide_missed_start(short, POLICY, rel(12)) is StartDecision.MARK_MISSED
    assert summary(plan_jobs(short, POLICY, rel(12)), rel(12)) == [("mark_missed", 12.0, True)]


@pytest.mark.parametrize(
    ("status", "now_min", "grace", "expected"),
    [
        (S, -6, 15, StartDecision.NOTHING),
        (S, -5, 15, StartDecision.LAUNCH_LATE),
        (S, 0, 15, StartDecision.LAUNCH_LATE),
        (S, 14, 15, StartDecision.LAUNCH_LATE),
        (S, 15, 15, StartDecision.MARK_MISSED),
        (S, 1, 0, StartDecision.MARK_MISSED),
        (S, 40, 60, StartDecision.LAUNCH_LATE),
        (S, 130, 180, StartDecision.MARK_MISSED),  # the meeting is over
        (L, 20, 15, StartDecision.NOTHING),
        (E, 20, 15, StartDecision.NOTHING),
        (C, 20, 15, StartDecision.NOTHING),
        (M, 20, 15, StartDecision.NOTHING),
    ],
)
def test_decide_missed_start(
    status: OccurrenceStatus, now_min: int, grace: int, expected: StartDecision
) -> None:
    policy = SchedulePolicy(launch_grace=timedelta(minutes=grace))

    assert decide_missed_start(occurrence(status), policy, rel(now_min)) is expected


def test_status_given_as_plain_text_is_understood() -> None:
    plain = OccurrenceState(42, START, START, END, status="live")  # type: ignore[arg-type]

    assert [j.kind for j in plan_jobs(plain, POLICY, rel(10))] == [
        JobKind.END_WARNING,
        JobKind.END,
    ]


def test_custom_policy_changes_every_offset() -> None:
    policy = SchedulePolicy(
        reminder_offsets=(timedelta(days=2),),
        preflight_before=timedelta(minutes=60),
        launch_before=timedelta(minutes=10),
        end_warning_before=timedelta(minutes=15),
    )

    jobs = plan_jobs(occurrence(), policy, rel(-5000))

    assert summary(jobs, rel(-5000)) == [
        ("reminder-48h", -2880.0, False),
        ("preflight", -60.0, False),
        ("launch", -10.0, False),
        ("end_warning", 105.0, False),
        ("end", 120.0, False),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"launch_before": timedelta(minutes=-1)},
        {"launch_grace": timedelta(seconds=-1)},
        {"reminder_offsets": (timedelta(0),)},
        {"reminder_offsets": (timedelta(hours=1), timedelta(hours=1))},
    ],
)
def test_nonsense_policy_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"negative|positive|differ"):
        SchedulePolicy(**changes)  # type: ignore[arg-type]


def test_job_ids_are_stable_and_distinct() -> None:
    jobs = plan_jobs(occurrence(), POLICY, rel(-5000))

    assert [j.job_id for j in jobs] == [
        "reminder:42:20250602T010000Z:86400s",
        "reminder:42:20250602T010000Z:3600s",
        "preflight:42:20250602T010000Z",
        "launch:42:20250602T010000Z",
        "end_warning:42:20250602T010000Z",
        "end:42:20250602T010000Z",
    ]
    assert job_id(JobKind.LAUNCH, 42, START.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))) == (
        "launch:42:20250602T010000Z"
    )


def test_offsets_are_real_hours_for_a_zoned_occurrence_across_dst() -> None:
    new_york = ZoneInfo("America/New_York")
    start = datetime(2025, 3, 9, 12, 0, tzinfo=new_york)  # EDT, the day the clocks sprang
    occ = OccurrenceState(5, start, start, start + timedelta(hours=1))

    jobs = plan_jobs(occ, POLICY, datetime(2025, 3, 1, tzinfo=new_york))

    reminder = next(j for j in jobs if j.offset == timedelta(hours=24))
    assert reminder.run_at == datetime(2025, 3, 8, 16, 0, tzinfo=UTC)  # 11:00 EST
    assert reminder.job_id == "reminder:5:20250309T160000Z:86400s"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_jobs(occurrence(), POLICY, datetime(2025, 6, 1))


# --- next_jobs over an endless series -----------------------------------------------------


def states(meeting_id: int, rule: str, after: datetime | None = None) -> Iterator[OccurrenceState]:
    first = datetime(2025, 6, 2, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    series = parse_series(
        start=first, end=first + timedelta(hours=2), timezone="Asia/Ho_Chi_Minh", rrule=rule
    )
    for occ in iter_occurrences(series, after=after):
        yield OccurrenceState(meeting_id, occ.key, occ.start, occ.end)


def test_next_jobs_plans_only_the_horizon_of_an_endless_series() -> None:
    consumed = 0
    now = datetime(2025, 6, 10, 0, 0, tzinfo=UTC)  # 07:00 in Hà Nội on the 10th

    def counted() -> Iterator[OccurrenceState]:
        nonlocal consumed
        for state in states(7, "FREQ=DAILY", after=now):
            consumed += 1
            yield state

    jobs = next_jobs(counted(), POLICY, now, timedelta(hours=48))

    assert all(now < j.run_at <= now + timedelta(hours=48) for j in jobs)
    starts_planned = sorted({j.occurrence_key for j in jobs})
    # Jobs of the 10th, 11th and 12th at 08:00 local; the 12th only by its 24 h reminder.
    assert [f"{k:%d %H:%M}" for k in starts_planned] == ["10 01:00", "11 01:00", "12 01:00"]
    assert {j.kind for j in jobs if j.occurrence_key == starts_planned[-1]} == {JobKind.REMINDER}
    assert consumed == 4, "the endless series is read up to the first one out of reach"
    assert [j.run_at for j in jobs] == sorted(j.run_at for j in jobs)


def test_next_jobs_refuses_unsorted_occurrences() -> None:
    first, second = islice(states(1, "FREQ=WEEKLY"), 2)

    with pytest.raises(ValueError, match="order"):
        next_jobs(iter([second, first]), POLICY, rel(-3 * 1440), timedelta(days=30))


# --- properties ---------------------------------------------------------------------------

NOTIFICATIONS = {JobKind.REMINDER, JobKind.PREFLIGHT, JobKind.END_WARNING}


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from(list(OccurrenceStatus)),
    now_min=st.integers(-2000, 400),
    down_for=st.none() | st.integers(0, 3000),
    extension=st.none() | st.integers(1, 120),
)
def test_planning_invariants(
    status: OccurrenceStatus, now_min: int, down_for: int | None, extension: int | None
) -> None:
    now = rel(now_min)
    last_alive = None if down_for is None else now - timedelta(minutes=down_for)
    occ = occurrence(status, extended_end=rel(120 + extension) if extension else None)

    jobs = plan_jobs(occ, POLICY, now, last_alive=last_alive)

    ids = [j.job_id for j in jobs]
    assert len(ids) == len(set(ids))
    assert all(j.run_at >= now for j in jobs)
    assert all(j.late == (j.run_at == now and j.due_at <= now) for j in jobs)
    late_notes = [j for j in jobs if j.late and j.kind in NOTIFICATIONS]
    # A notification is caught up only if it fell due while the service was down.
    assert all(last_alive is not None and last_alive < j.due_at <= now for j in late_notes)
    assert sum(1 for j in late_notes if j.kind is JobKind.REMINDER) <= 1
    if status in (E, C, M):
        assert jobs == []
    kinds = {j.kind for j in jobs}
    assert not ({JobKind.MARK_MISSED} & kinds and kinds - {JobKind.MARK_MISSED})
