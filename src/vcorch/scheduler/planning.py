"""Which jobs an occurrence needs, and when: pure, with ``now`` always a parameter.

Per occurrence the scheduler runs reminders, a pre-flight check, the launch, an end
warning and the end.  :func:`plan_jobs` answers "what must be scheduled (or run right
away) for this occurrence, now?"; call it whenever a meeting changes and, for every
occurrence in reach, at start-up.  Job ids are stable, so re-planning replaces jobs.
All times may come in any zone; offsets are applied in UTC (real hours, also across DST)
and the jobs' times are UTC.

Decisions for time that passed while the service was down (each one is tested):

- *Launch and end follow the database state*, not the clock of the last run.  A
  ``scheduled`` occurrence whose launch time has passed is launched at once while
  ``now < start + launch_grace`` and ``now < end``; later it is marked ``missed`` (a job of
  kind ``mark_missed``, so that it is recorded and reported).  A ``live`` occurrence whose
  end has passed is ended at once: a conference left running holds bridge ports.
- *Notifications are sent at most once*: only the ones due in ``(last_alive, now]`` are
  candidates (before ``last_alive`` they were sent, or the caller passes ``None`` and
  nothing is caught up).  Of the missed reminders only the latest is sent, and only if it
  is at most ``reminder_late_tolerance`` late and the meeting has not started: a stale
  "starts in 24 h" is worse than none, and the next reminder is coming anyway.  A missed
  pre-flight runs only while the launch is still ahead (after that the launch itself
  checks the sites).  A missed end warning is sent only while the live meeting has not
  reached its end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from vcorch.booking import occurrence_key_text

__all__ = [
    "Job",
    "JobKind",
    "OccurrenceState",
    "OccurrenceStatus",
    "SchedulePolicy",
    "StartDecision",
    "decide_missed_start",
    "job_id",
    "next_jobs",
    "plan_jobs",
]


class JobKind(StrEnum):
    """What a job does."""

    REMINDER = "reminder"
    PREFLIGHT = "preflight"
    LAUNCH = "launch"
    END_WARNING = "end_warning"
    END = "end"
    MARK_MISSED = "mark_missed"


class OccurrenceStatus(StrEnum):
    """Where an occurrence stands, as the database says."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"
    MISSED = "missed"


class StartDecision(StrEnum):
    """What to do about an occurrence's start, found at (re)start time."""

    NOTHING = "nothing"
    LAUNCH_LATE = "launch_late"
    MARK_MISSED = "mark_missed"


@dataclass(frozen=True)
class SchedulePolicy:
    """When each job runs, relative to the occurrence; all spans are non-negative."""

    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
    preflight_before: timedelta = timedelta(minutes=30)
    launch_before: timedelta = timedelta(minutes=5)
    end_warning_before: timedelta = timedelta(minutes=5)
    launch_grace: timedelta = timedelta(minutes=15)
    """How long after the start a launch that did not happen may still happen."""
    reminder_late_tolerance: timedelta = timedelta(minutes=15)
    """How late a reminder missed while the service was down may still be sent."""

    def __post_init__(self) -> None:
        spans = {
            "preflight_before": self.preflight_before,
            "launch_before": self.launch_before,
            "end_warning_before": self.end_warning_before,
            "launch_grace": self.launch_grace,
            "reminder_late_tolerance": self.reminder_late_tolerance,
        }
        for name, span in spans.items():
            if span < timedelta(0):
                raise ValueError(f"{name} cannot be negative")
        if any(offset <= timedelta(0) for offset in self.reminder_offsets):
            raise ValueError("reminder offsets are positive spans before the start")
        if len(set(self.reminder_offsets)) != len(self.reminder_offsets):
            raise ValueError("reminder offsets must differ")

    @property
    def lead(self) -> timedelta:
        """How long before its start an occurrence's first job may run."""
        return max((*self.reminder_offsets, self.preflight_before, self.launch_before))


@dataclass(frozen=True)
class OccurrenceState:
    """An occurrence as the planner needs it; times are aware datetimes."""

    meeting_id: int | str
    occurrence_key: datetime
    start: datetime
    end: datetime
    status: OccurrenceStatus = OccurrenceStatus.SCHEDULED
    extended_end: datetime | None = None

    @property
    def effective_end(self) -> datetime:
        """The end, after any extension."""
        return self.extended_end if self.extended_end is not None else self.end


@dataclass(frozen=True)
class Job:
    """A job to schedule at ``run_at``; ``due_at`` is when it was meant to run.

    ``late`` jobs are catch-ups whose ``run_at`` is ``now``.  ``offset`` is the reminder's
    lead time (``None`` for other kinds).
    """

    kind: JobKind
    run_at: datetime
    job_id: str
    meeting_id: int | str
    occurrence_key: datetime
    due_at: datetime
    late: bool = False
    offset: timedelta | None = None


def job_id(
    kind: JobKind, meeting_id: int | str, occurrence_key: datetime, offset: timedelta | None = None
) -> str:
    """The stable id of a job: ``kind:meeting:YYYYMMDDTHHMMSSZ``, plus ``:<seconds>s`` for a
    reminder (one per offset).  An extension keeps the end's id, so re-planning replaces it.
    """
    base = f"{kind.value}:{meeting_id}:{occurrence_key_text(occurrence_key)}"
    return base if offset is None else f"{base}:{int(offset.total_seconds())}s"


def decide_missed_start(
    occ: OccurrenceState, policy: SchedulePolicy, now: datetime
) -> StartDecision:
    """Launch late, mark missed, or leave alone (the launch is still ahead, or not ours)."""
    _check_aware(now=now, start=occ.start, end=occ.end)
    occ, now = _in_utc(occ), now.astimezone(UTC)
    if occ.status != OccurrenceStatus.SCHEDULED:
        return StartDecision.NOTHING
    if now < occ.start - policy.launch_before:
        return StartDecision.NOTHING
    if now < occ.start + policy.launch_grace and now < occ.effective_end:
        return StartDecision.LAUNCH_LATE
    return StartDecision.MARK_MISSED


def plan_jobs(
    occ: OccurrenceState,
    policy: SchedulePolicy,
    now: datetime,
    *,
    last_alive: datetime | None = None,
) -> list[Job]:
    """The jobs this occurrence still needs, sorted by ``run_at`` then id.

    Jobs due after ``now`` are returned as planned.  Jobs already due are returned with
    ``run_at=now`` and ``late=True`` when the module's catch-up rules say so.  Pass
    ``last_alive`` (the last instant the scheduler is known to have run its jobs) after a
    restart; leave it ``None`` when (re)planning while running, so nothing is sent twice.
    """
    _check_aware(now=now, occurrence_key=occ.occurrence_key, start=occ.start, end=occ.end)
    if last_alive is not None:
        _check_aware(last_alive=last_alive)
    occ, now = _in_utc(occ), now.astimezone(UTC)
    if last_alive is not None:
        last_alive = last_alive.astimezone(UTC)
    if occ.status in (OccurrenceStatus.CANCELLED, OccurrenceStatus.ENDED, OccurrenceStatus.MISSED):
        return []

    def missed_while_down(due: datetime) -> bool:
        return last_alive is not None and last_alive < due <= now

    jobs: list[Job] = []
    end = occ.effective_end
    end_warning_at = end - policy.end_warning_before
    if occ.status == OccurrenceStatus.SCHEDULED:
        decision = decide_missed_start(occ, policy, now)
        if decision is StartDecision.MARK_MISSED:
            return [_job(occ, JobKind.MARK_MISSED, occ.start, now, late=True)]
        launch_at = occ.start - policy.launch_before
        missed_reminders: list[tuple[datetime, timedelta]] = []
        for offset in policy.reminder_offsets:
            due = occ.start - offset
            if due > now:
                jobs.append(_job(occ, JobKind.REMINDER, due, now, offset=offset))
            elif missed_while_down(due):
                missed_reminders.append((due, offset))
        if missed_reminders and now < occ.start:
            due, offset = max(missed_reminders)
            if now - due <= policy.reminder_late_tolerance:
                jobs.append(_job(occ, JobKind.REMINDER, due, now, late=True, offset=offset))
        preflight_at = occ.start - policy.preflight_before
        if preflight_at > now:
            jobs.append(_job(occ, JobKind.PREFLIGHT, preflight_at, now))
        elif missed_while_down(preflight_at) and now < launch_at:
            jobs.append(_job(occ, JobKind.PREFLIGHT, preflight_at, now, late=True))
        late_launch = decision is StartDecision.LAUNCH_LATE
        jobs.append(_job(occ, JobKind.LAUNCH, launch_at, now, late=late_launch))

    # Scheduled or live from here on.
    if end_warning_at > now:
        jobs.append(_job(occ, JobKind.END_WARNING, end_warning_at, now))
    elif occ.status == OccurrenceStatus.LIVE and missed_while_down(end_warning_at) and now < end:
        jobs.append(_job(occ, JobKind.END_WARNING, end_warning_at, now, late=True))
    jobs.append(_job(occ, JobKind.END, end, now, late=end <= now))
    jobs.sort(key=lambda job: (job.run_at, job.job_id))
    return jobs


def _job(
    occ: OccurrenceState,
    kind: JobKind,
    due: datetime,
    now: datetime,
    *,
    late: bool = False,
    offset: timedelta | None = None,
) -> Job:
    return Job(
        kind=kind,
        run_at=now if late else due,
        job_id=job_id(kind, occ.meeting_id, occ.occurrence_key, offset),
        meeting_id=occ.meeting_id,
        occurrence_key=occ.occurrence_key,
        due_at=due,
        late=late,
        offset=offset,
    )


def next_jobs(
    occurrences: Iterable[OccurrenceState],
    policy: SchedulePolicy,
    now: datetime,
    horizon: timedelta,
    *,
    last_alive: datetime | None = None,
) -> list[Job]:
    """All jobs running within ``(now, now + horizon]`` (and catch-ups due now).

    ``occurrences`` must come in order of start (as
    :func:`vcorch.booking.recurrence.iter_occurrences` yields them); it is read lazily
    and only as far as ``now + horizon + policy.lead``, so an endless series is fine.
    Raises :class:`ValueError` when the order is broken.  At start-up, feed the
    occurrences that end after ``last_alive`` (a start missed while down must be seen to
    be launched late or marked missed), e.g. ``iter_occurrences(series, after=last_alive)``
    mapped to :class:`OccurrenceState` with each one's status from the database.
    """
    if horizon <= timedelta(0):
        raise ValueError("the horizon must be positive")
    _check_aware(now=now)
    now = now.astimezone(UTC)
    until = now + horizon
    reach = until + policy.lead
    jobs: list[Job] = []
    previous: datetime | None = None
    for occ in occurrences:
        start = occ.start.astimezone(UTC)
        if previous is not None and start < previous:
            raise ValueError("occurrences must come in order of start")
        previous = start
        if start > reach:
            break
        jobs.extend(
            job for job in plan_jobs(occ, policy, now, last_alive=last_alive) if job.run_at <= until
        )
    jobs.sort(key=lambda job: (job.run_at, job.job_id))
    return jobs


def _in_utc(occ: OccurrenceState) -> OccurrenceState:
    """The same occurrence in UTC: offsets like "24 h before" are then real hours."""
    extended = occ.extended_end
    return replace(
        occ,
        occurrence_key=occ.occurrence_key.astimezone(UTC),
        start=occ.start.astimezone(UTC),
        end=occ.end.astimezone(UTC),
        extended_end=extended.astimezone(UTC) if extended is not None else None,
    )


def _check_aware(**values: datetime) -> None:
    for name, value in values.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime")
