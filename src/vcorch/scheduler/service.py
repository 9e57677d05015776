"""The scheduler: jobs derived from the database, rebuilt at start-up and after every change.

:func:`vcorch.scheduler.planning.plan_jobs` says which jobs an occurrence needs; this module
reads the occurrences in reach, runs what is due and hands the rest to APScheduler.  Jobs
are never the truth — the database is — so a lost job store costs nothing: the next sync
(at start-up, after a booking change, every ``sync_seconds``) plans them again.

Running a job twice must be harmless, whichever process runs it:

- launch, end and "mark missed" follow the run's state in the database (a run is unique
  per occurrence), so repeating them does nothing;
- pre-flight checks and end warnings tell people something: each is claimed once in
  ``executed_jobs`` before it runs, so a new leader does not send them again.

Reminder mails are queued by the mail outbox's own scan (idempotent per occurrence and
offset), so the scheduler leaves reminder jobs to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import SYSTEM_ACTOR
from vcorch.booking import ACCEPTED, Meeting, MeetingOccurrence, MeetingSite
from vcorch.errors import DomainError
from vcorch.mcu_adapter import BridgeHealthCoordinator
from vcorch.monitoring import ProbeResult
from vcorch.orchestration import (
    ACTIVE_RUN,
    MeetingRun,
    Orchestrator,
    RunIncident,
    queue_mail,
    site_operators,
    tell_secretariat,
)
from vcorch.rooms import Endpoint, Room, Unit
from vcorch.scheduler.models import ExecutedJob, SchedulerState
from vcorch.scheduler.planning import (
    Job,
    JobKind,
    OccurrenceState,
    OccurrenceStatus,
    SchedulePolicy,
    next_jobs,
)

log = logging.getLogger(__name__)

STATE_NAME = "main"
# How far back a restarted scheduler looks for starts it missed.
CATCH_UP_LIMIT = timedelta(days=2)
RUN_STATUS = {
    "launching": OccurrenceStatus.LIVE,
    "live": OccurrenceStatus.LIVE,
    "ended": OccurrenceStatus.ENDED,
    "failed": OccurrenceStatus.ENDED,
    "missed": OccurrenceStatus.MISSED,
}
CLAIMED_KINDS = (JobKind.PREFLIGHT, JobKind.END_WARNING)

ProbeEndpoints = Callable[[Sequence[int]], Awaitable[Mapping[int, ProbeResult]]]


class LagMetric(Protocol):
    def scheduler_lag(self, seconds: float) -> None: ...


class SchedulerService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        orchestrator: Orchestrator,
        health: BridgeHealthCoordinator,
        clock: Callable[[], datetime],
        policy: SchedulePolicy,
        *,
        identity: str,
        horizon: timedelta = timedelta(hours=2),
        sync_seconds: float = 15.0,
        supervise_seconds: float = 2.0,
        probe: ProbeEndpoints | None = None,
        metrics: LagMetric | None = None,
        roll_horizon: Callable[[datetime], Awaitable[int]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._orchestrator = orchestrator
        self._health = health
        self._clock = clock
        self.policy = policy
        self.identity = identity
        self._horizon = horizon
        self._sync_seconds = sync_seconds
        self._supervise_seconds = supervise_seconds
        self.probe = probe
        self._metrics = metrics
        self._changed = asyncio.Event()
        self._roll_horizon = roll_horizon
        self._rolled_on: date | None = None

    # -- what is planned ------------------------------------------------------------------

    def booking_changed(self) -> None:
        """Re-plan soon (called after a booking change in this process)."""
        self._changed.set()

    async def meeting_changed(
        self, session: AsyncSession, meeting: Meeting, sites: Sequence[MeetingSite], action: str
    ) -> None:
        """Booking listener hook: the change is not committed yet, so only ask for a sync."""
        self.booking_changed()

    def now(self) -> datetime:
        return self._clock()

    async def leader(self) -> tuple[str | None, datetime | None]:
        """The last leader recorded and when it was last alive."""
        async with self._sessions() as session:
            state = await session.get(SchedulerState, STATE_NAME)
            return (state.leader, state.last_alive) if state else (None, None)

    async def last_alive(self) -> datetime | None:
        async with self._sessions() as session:
            state = await session.get(SchedulerState, STATE_NAME)
            return state.last_alive if state else None

    async def _occurrences(self, now: datetime, since: datetime) -> list[OccurrenceState]:
        reach = now + self._horizon + self.policy.lead
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(MeetingOccurrence, MeetingRun.status, MeetingRun.end_at)
                    .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
                    .outerjoin(
                        MeetingRun,
                        (MeetingRun.meeting_id == MeetingOccurrence.meeting_id)
                        & (MeetingRun.occurrence_key == MeetingOccurrence.occurrence_key),
                    )
                    .where(
                        Meeting.status == "scheduled",
                        Meeting.mode != "in_person",
                        MeetingOccurrence.cancelled.is_(False),
                        MeetingOccurrence.end_at > since,
                        MeetingOccurrence.start_at <= reach,
                    )
                )
            ).all()
            live = (
                await session.execute(select(MeetingRun).where(MeetingRun.status.in_(ACTIVE_RUN)))
            ).scalars()
            states: dict[tuple[int, datetime], OccurrenceState] = {}
            for occurrence, run_status, run_end in rows:
                status = RUN_STATUS.get(run_status or "", OccurrenceStatus.SCHEDULED)
                states[(occurrence.meeting_id, occurrence.occurrence_key)] = OccurrenceState(
                    meeting_id=occurrence.meeting_id,
                    occurrence_key=occurrence.occurrence_key,
                    start=occurrence.start_at,
                    end=occurrence.end_at,
                    status=status,
                    extended_end=run_end if run_end and run_end != occurrence.end_at else None,
                )
            # A live run whose meeting or occurrence changed since still has to end.
            for run in live:
                states.setdefault(
                    (run.meeting_id, run.occurrence_key),
                    OccurrenceState(
                        meeting_id=run.meeting_id,
                        occurrence_key=run.occurrence_key,
                        start=run.start_at,
                        end=run.end_at,
                        status=OccurrenceStatus.LIVE,
                    ),
                )
        return sorted(states.values(), key=lambda occ: (occ.start, str(occ.meeting_id)))

    async def plan(self, now: datetime) -> list[Job]:
        """Every job due by ``now + horizon`` (catch-ups included), reminders left out."""
        last = await self.last_alive()
        since = max(last, now - CATCH_UP_LIMIT) if last else now
        occurrences = await self._occurrences(now, since - self.policy.launch_grace)
        jobs = next_jobs(occurrences, self.policy, now, self._horizon, last_alive=last)
        return [job for job in jobs if job.kind != JobKind.REMINDER]

    async def _roll(self, now: datetime) -> None:
        """Once a day: store further occurrences of open-ended series."""
        if self._roll_horizon is None or self._rolled_on == now.date():
            return
        extended = await self._roll_horizon(now)
        self._rolled_on = now.date()
        if extended:
            log.info("stored further occurrences of %s open-ended series", extended)

    async def _beat(self, now: datetime) -> None:
        async with self._sessions.begin() as session:
            state = await session.get(SchedulerState, STATE_NAME)
            if state is None:
                session.add(SchedulerState(name=STATE_NAME, leader=self.identity, last_alive=now))
            else:
                state.leader = self.identity
                state.last_alive = now

    # -- running --------------------------------------------------------------------------

    async def tick(self) -> list[str]:
        """Plan, run every job due now, remember that we were alive: one round, as tests
        and the loop drive it.  Returns the ids of the jobs that ran."""
        now = self._clock()
        await self._roll(now)
        ran = []
        for job in await self.plan(now):
            if job.run_at <= now and await self.execute(job):
                ran.append(job.job_id)
        await self._beat(now)
        return ran

    async def execute(self, job: Job) -> bool:
        """Run one job; False when it was not run (claimed elsewhere, nothing to do)."""
        now = self._clock()
        if job.kind in CLAIMED_KINDS and not await self._claim(job, now):
            return False
        if self._metrics is not None:
            self._metrics.scheduler_lag(max((now - job.run_at).total_seconds(), 0.0))
        meeting_id = int(job.meeting_id)
        try:
            if job.kind == JobKind.LAUNCH:
                await self._launch(meeting_id, job)
            elif job.kind == JobKind.END:
                await self._end(meeting_id, job.occurrence_key, now)
            elif job.kind == JobKind.MARK_MISSED:
                await self._mark_missed(meeting_id, job.occurrence_key, now)
            elif job.kind == JobKind.PREFLIGHT:
                outcome = await self.preflight(meeting_id, job.occurrence_key)
                await self._record_outcome(job.job_id, outcome)
            elif job.kind == JobKind.END_WARNING:
                await self._end_warning(meeting_id, job.occurrence_key, now)
            else:
                return False
        except DomainError as err:
            log.info("job %s: %s", job.job_id, err)
            return False
        return True

    async def _claim(self, job: Job, now: datetime) -> bool:
        try:
            async with self._sessions.begin() as session:
                session.add(
                    ExecutedJob(
                        job_id=job.job_id,
                        kind=job.kind.value,
                        meeting_id=int(job.meeting_id),
                        due_at=job.due_at,
                        ran_at=now,
                        ran_by=self.identity,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def _record_outcome(self, job_id: str, outcome: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(ExecutedJob, job_id)
            if row is not None:
                row.outcome = outcome[:500]

    async def _launch(self, meeting_id: int, job: Job) -> None:
        run_id, created = await self._orchestrator.claim(
            meeting_id, job.occurrence_key, SYSTEM_ACTOR, late=job.late
        )
        if created:
            log.info("launching meeting %s (run %s)%s", meeting_id, run_id, " late" * job.late)
        await self._orchestrator.step(run_id)

    async def _run_of(self, meeting_id: int, key: datetime) -> MeetingRun | None:
        async with self._sessions() as session:
            run: MeetingRun | None = await session.scalar(
                select(MeetingRun).where(
                    MeetingRun.meeting_id == meeting_id, MeetingRun.occurrence_key == key
                )
            )
            return run

    async def _end(self, meeting_id: int, key: datetime, now: datetime) -> None:
        run = await self._run_of(meeting_id, key)
        if run is None or run.status not in ACTIVE_RUN:
            return
        if run.end_at > now:
            return  # extended since this job was planned; the next sync moves the job
        await self._orchestrator.end(run.id, SYSTEM_ACTOR, reason="scheduled end")

    async def _mark_missed(self, meeting_id: int, key: datetime, now: datetime) -> None:
        try:
            async with self._sessions.begin() as session:
                occurrence = await session.scalar(
                    select(MeetingOccurrence).where(
                        MeetingOccurrence.meeting_id == meeting_id,
                        MeetingOccurrence.occurrence_key == key,
                    )
                )
                meeting = await session.get(Meeting, meeting_id)
                if occurrence is None or meeting is None:
                    return
                run = MeetingRun(
                    meeting_id=meeting_id,
                    occurrence_key=key,
                    start_at=occurrence.start_at,
                    end_at=occurrence.end_at,
                    status="missed",
                    last_error="vcorch was not running at the start time",
                    created_at=now,
                )
                session.add(run)
                await session.flush()
                session.add(
                    RunIncident(
                        run_id=run.id,
                        kind="missed",
                        at=now,
                        detail="the start passed while no scheduler was running",
                    )
                )
                await tell_secretariat(
                    session,
                    meeting,
                    dedupe_key=f"missed:{meeting_id}:{key.isoformat()}",
                    subject=f"Không khởi động được: {meeting.title}",
                    body=(
                        f"Cuộc họp {meeting.title} (bắt đầu {occurrence.start_at.isoformat()}) "
                        "không được khởi động đúng giờ vì hệ thống không hoạt động; "
                        "đã ghi nhận là bị lỡ."
                    ),
                    now=now,
                )
        except IntegrityError:
            return  # launched (or marked) by someone else meanwhile
        log.error("meeting %s: the occurrence at %s was missed", meeting_id, key.isoformat())

    async def _end_warning(self, meeting_id: int, key: datetime, now: datetime) -> None:
        run = await self._run_of(meeting_id, key)
        if run is None or run.status not in ACTIVE_RUN:
            return
        async with self._sessions.begin() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None:
                return
            minutes = max(int((run.end_at - now).total_seconds() // 60), 0)
            await tell_secretariat(
                session,
                meeting,
                dedupe_key=f"end-warning:{run.id}:{run.end_at.isoformat()}",
                subject=f"Sắp kết thúc: {meeting.title}",
                body=(
                    f"Cuộc họp {meeting.title} sẽ kết thúc sau khoảng {minutes} phút. "
                    f"Để kéo dài, dùng POST /api/meetings/{meeting_id}/extend."
                ),
                now=now,
            )

    async def preflight(self, meeting_id: int, key: datetime) -> str:
        """Probe every site's endpoint and the bridges; tell operators what fails."""
        now = self._clock()
        async with self._sessions() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None:
                return "meeting gone"
            sites = (
                await session.execute(
                    select(MeetingSite.endpoint_id, Room.name, Unit.path, Endpoint.address)
                    .join(Room, Room.id == MeetingSite.room_id)
                    .join(Unit, Unit.id == Room.unit_id)
                    .outerjoin(Endpoint, Endpoint.id == MeetingSite.endpoint_id)
                    .where(MeetingSite.meeting_id == meeting_id, MeetingSite.approval == ACCEPTED)
                )
            ).all()
        health = (await self._health.fresh()).health
        bridges_down = sorted(name for name, h in health.items() if not h.reachable)
        endpoint_ids = [endpoint for endpoint, *_ in sites if endpoint is not None]
        results: Mapping[int, ProbeResult] = {}
        if self.probe is not None and endpoint_ids:
            results = await self.probe(endpoint_ids)
        failing = [
            (name, path, address, results[endpoint])
            for endpoint, name, path, address in sites
            if endpoint is not None and endpoint in results and not results[endpoint].reachable
        ]
        async with self._sessions.begin() as session:
            for name, path, address, result in failing:
                await queue_mail(
                    session,
                    dedupe_key=f"preflight:{meeting_id}:{key.isoformat()}:{name}",
                    meeting_id=meeting_id,
                    recipients=await site_operators(session, path),
                    subject=f"Kiểm tra trước họp: {name} không phản hồi",
                    body=(
                        f"Thiết bị đầu cuối của phòng {name} ({address}) không phản hồi "
                        f"({result.detail}) khi kiểm tra trước cuộc họp {meeting.title} "
                        f"lúc {key.isoformat()}. Vui lòng kiểm tra trước giờ họp."
                    ),
                    now=now,
                )
            if bridges_down:
                await tell_secretariat(
                    session,
                    meeting,
                    dedupe_key=f"preflight-bridges:{meeting_id}:{key.isoformat()}",
                    subject=f"Kiểm tra trước họp: cầu {', '.join(bridges_down)} không phản hồi",
                    body=(
                        f"Cầu hội nghị {', '.join(bridges_down)} không phản hồi trước cuộc họp "
                        f"{meeting.title}; hệ thống sẽ dùng cầu khác hoặc WebRTC dự phòng."
                    ),
                    now=now,
                )
        summary = f"{len(endpoint_ids) - len(failing)}/{len(endpoint_ids)} endpoints answer" + (
            f"; bridges down: {', '.join(bridges_down)}" if bridges_down else ""
        )
        log.info("pre-flight of meeting %s: %s", meeting_id, summary)
        return summary

    # -- the leader's loops ---------------------------------------------------------------

    async def run_forever(self) -> None:
        """Keep APScheduler's jobs equal to the plan; run by the leader only."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.start()
        try:
            while True:
                await self._sync(scheduler)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self._sync_seconds)
                self._changed.clear()
        finally:
            scheduler.shutdown(wait=False)

    async def _sync(self, scheduler: AsyncIOScheduler) -> None:
        now = self._clock()
        try:
            await self._roll(now)
            jobs = await self.plan(now)
        except Exception:
            log.exception("planning the scheduler's jobs failed")
            return
        wanted = set()
        for job in jobs:
            wanted.add(job.job_id)
            scheduler.add_job(
                self.execute,
                trigger=DateTrigger(run_date=max(job.run_at, now)),
                args=[job],
                id=job.job_id,
                replace_existing=True,
                misfire_grace_time=None,
                coalesce=True,
            )
        for existing in scheduler.get_jobs():
            if existing.id not in wanted:
                existing.remove()
        await self._beat(now)

    async def supervise_forever(self) -> None:
        """Keep every live meeting's sites connected; run by the leader only.  Placement
        reads the bridges' health from the coordinator the leader also runs."""
        while True:
            try:
                await self._orchestrator.step_all()
            except Exception:
                log.exception("supervising the live meetings failed")
            await self._orchestrator.wait_for_work(self._supervise_seconds)
