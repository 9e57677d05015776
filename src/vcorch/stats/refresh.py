"""The leader's work for the statistics: keep ``stats_occurrences`` judged and the monthly
summary current.  One round (:meth:`StatsRefresher.refresh`):

1. build everything from the register if there is no state yet (first start after the
   upgrade) or the programme's zone changed; rewrite the rows of open-ended series whose
   further occurrences the scheduler stored meanwhile (no booking write tells of those);
2. flag occurrences whose run was marked missed;
3. look at the bridge records, polled observations and manual entries stored since the
   last round and flag their occurrences for judging again (late CDRs change verdicts);
4. judge every ended occurrence that waits for it (:mod:`.verify`), for at most
   ``judge_budget`` per round, those without any record in one statement;
5. recompute the summary of every dirty month and of every month in which an occurrence
   ended since the last round, and note the time: the summary is then exact as of it.

Every step is idempotent and commits on its own; a crash loses at most a round.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.attendance import AttendancePolicy, ManualEntry, PolledObservation, chunks
from vcorch.booking import ACCEPTED, Meeting, MeetingOccurrence, MeetingSite
from vcorch.bridge_events import BridgeEventRecord
from vcorch.orchestration import MeetingRun, RunConference
from vcorch.stats import rules
from vcorch.stats.facts import insert_facts, mark_dirty, rewrite_meeting
from vcorch.stats.models import (
    ConferenceLink,
    StatsDirtyMonth,
    StatsMonthly,
    StatsOccurrence,
    StatsState,
)
from vcorch.stats.verify import Connection, OccurrenceId, measure_occurrences

log = logging.getLogger("vcorch.stats")

S = StatsOccurrence
STATE_NAME = "online_share"
# Any fixed number: the rebuild and the summary queue on it on PostgreSQL.
STATS_LOCK_KEY = 7_410_008


@dataclass(frozen=True)
class RefreshPolicy:
    zone: ZoneInfo
    attendance: AttendancePolicy = field(default_factory=AttendancePolicy)
    builtin_bridges: frozenset[str] = frozenset()
    judge_batch: int = 200
    judge_budget: timedelta = timedelta(seconds=20)


@dataclass
class RoundResult:
    rebuilt: bool = False
    series: int = 0
    missed: int = 0
    ended: int = 0
    rejudge: int = 0
    judged: int = 0
    months: list[int] = field(default_factory=list)
    refreshed_at: datetime | None = None


async def _lock(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(func.pg_advisory_xact_lock(STATS_LOCK_KEY).select())


class StatsRefresher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policy: RefreshPolicy,
        clock: Callable[[], datetime],
        *,
        after_round: Callable[[RoundResult], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._clock = clock
        self._after_round = after_round

    # -- the round --------------------------------------------------------------------------

    async def refresh(self) -> RoundResult:
        result = RoundResult()
        result.rebuilt = await self._ensure_state()
        result.series = await self._reconcile_open_series()
        result.missed = await self._sync_missed()
        result.ended = await self._sync_real_ends()
        result.rejudge = await self._collect_evidence()
        result.judged = await self._judge_due()
        result.months, result.refreshed_at = await self._summarise()
        if self._after_round is not None:
            await self._after_round(result)
        return result

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Derived data: the next round tries again; the reports stay exact meanwhile
                # (dirty months are counted from the occurrences).
                log.exception("statistics refresh failed")
            await asyncio.sleep(interval)

    # -- 1. state and rebuild ---------------------------------------------------------------

    async def _ensure_state(self) -> bool:
        zone = self._policy.zone.key
        async with self._sessions.begin() as session:
            await _lock(session)
            state = await session.get(StatsState, STATE_NAME)
            if state is not None and state.zone == zone:
                return False
            await self.rebuild(session)
            return True

    async def rebuild(self, session: AsyncSession) -> None:
        """Everything from the register, in the caller's transaction."""
        started = time.perf_counter()
        await session.execute(delete(StatsDirtyMonth))
        await session.execute(delete(StatsMonthly))
        await session.execute(delete(S))
        count = await insert_facts(session, self._policy.zone)
        months = set((await session.execute(select(S.month).distinct())).scalars())
        await mark_dirty(session, months)
        cursors = await self._cursor_tops(session)
        state = await session.get(StatsState, STATE_NAME)
        if state is None:
            state = StatsState(name=STATE_NAME)
            session.add(state)
        state.zone = self._policy.zone.key
        state.refreshed_at = None
        state.event_cursor, state.observation_cursor, state.entry_cursor = cursors
        log.info(
            "statistics rebuilt from the register: %d occurrences in %.1f s",
            count,
            time.perf_counter() - started,
        )

    @staticmethod
    async def _cursor_tops(session: AsyncSession) -> tuple[int, int, int]:
        tops = []
        for column in (BridgeEventRecord.id, PolledObservation.id, ManualEntry.id):
            tops.append(int(await session.scalar(select(func.coalesce(func.max(column), 0))) or 0))
        return tops[0], tops[1], tops[2]

    # -- 1b. open-ended series ------------------------------------------------------------

    async def _reconcile_open_series(self) -> int:
        """Rewrite the rows of open-ended series whose stored occurrences changed without a
        booking write (the scheduler stores further ones as time passes: ``roll_horizon``).
        Such series are few; their occurrences are compared by count and last key."""
        open_ended = Meeting.materialized_until.is_not(None)
        stored = (
            select(
                MeetingOccurrence.meeting_id.label("meeting_id"),
                func.count().label("n"),
                func.max(MeetingOccurrence.occurrence_key).label("last"),
            )
            .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .where(open_ended)
        )
        counted = (
            select(
                S.meeting_id.label("meeting_id"),
                func.count().label("n"),
                func.max(S.occurrence_key).label("last"),
            )
            .join(Meeting, Meeting.id == S.meeting_id)
            .where(open_ended)
        )
        async with self._sessions() as session:
            register = {
                row.meeting_id: (row.n, row.last)
                for row in await session.execute(stored.group_by(MeetingOccurrence.meeting_id))
            }
            mine = {
                row.meeting_id: (row.n, row.last)
                for row in await session.execute(counted.group_by(S.meeting_id))
            }
        stale = sorted(m for m, shape in register.items() if mine.get(m) != shape)
        for meeting_id in stale:
            async with self._sessions.begin() as session:
                await rewrite_meeting(session, meeting_id, self._policy.zone)
        return len(stale)

    # -- 2. missed starts -------------------------------------------------------------------

    async def _sync_missed(self) -> int:
        async with self._sessions.begin() as session:
            found = (
                await session.execute(
                    select(S.id, S.month)
                    .join(
                        MeetingRun,
                        and_(
                            MeetingRun.meeting_id == S.meeting_id,
                            MeetingRun.occurrence_key == S.occurrence_key,
                        ),
                    )
                    .where(MeetingRun.status == "missed", S.missed.is_(False))
                )
            ).all()
            if not found:
                return 0
            ids = [row.id for row in found]
            for part in chunks(ids):
                await session.execute(update(S).where(S.id.in_(part)).values(missed=True))
            await mark_dirty(session, {row.month for row in found})
            return len(ids)

    async def _sync_real_ends(self) -> int:
        """Occurrences whose run ended at another time than their row says (ended early,
        or after an extension): held from the real end (:func:`rules.real_end_expr`)."""
        async with self._sessions.begin() as session:
            found = (
                await session.execute(
                    select(S.id, S.month, MeetingRun.ended_at)
                    .join(
                        MeetingRun,
                        and_(
                            MeetingRun.meeting_id == S.meeting_id,
                            MeetingRun.occurrence_key == S.occurrence_key,
                        ),
                    )
                    .where(
                        MeetingRun.status == "ended",
                        MeetingRun.ended_at.is_not(None),
                        S.end_at != MeetingRun.ended_at,
                    )
                )
            ).all()
            for row in found:
                await session.execute(update(S).where(S.id == row.id).values(end_at=row.ended_at))
            await mark_dirty(session, {row.month for row in found})
            return len(found)

    # -- 3. new evidence ----------------------------------------------------------------------

    async def _collect_evidence(self) -> int:
        async with self._sessions.begin() as session:
            state = await session.get(StatsState, STATE_NAME, with_for_update=True)
            if state is None:
                return 0
            event_top, observation_top, entry_top = await self._cursor_tops(session)
            wanted: set[OccurrenceId] = set()
            pairs = (
                await session.execute(
                    select(BridgeEventRecord.bridge, BridgeEventRecord.conference_id)
                    .where(
                        BridgeEventRecord.id > state.event_cursor,
                        BridgeEventRecord.id <= event_top,
                        BridgeEventRecord.conference_id != "",
                    )
                    .distinct()
                )
            ).all()
            wanted |= await self._occurrences_of_conferences(
                session, [(row.bridge, row.conference_id) for row in pairs]
            )
            run_ids = (
                await session.execute(
                    select(PolledObservation.run_id)
                    .where(
                        PolledObservation.id > state.observation_cursor,
                        PolledObservation.id <= observation_top,
                    )
                    .distinct()
                )
            ).scalars()
            wanted |= await self._occurrences_of_runs(session, list(run_ids))
            entries = await session.execute(
                select(ManualEntry.meeting_id, ManualEntry.occurrence_key)
                .where(ManualEntry.id > state.entry_cursor, ManualEntry.id <= entry_top)
                .distinct()
            )
            wanted |= {(row.meeting_id, row.occurrence_key) for row in entries}
            await flag_for_judging(session, wanted)
            state.event_cursor, state.observation_cursor, state.entry_cursor = (
                event_top,
                observation_top,
                entry_top,
            )
            return len(wanted)

    @staticmethod
    async def _occurrences_of_conferences(
        session: AsyncSession, pairs: Sequence[tuple[str, str]]
    ) -> set[OccurrenceId]:
        found: set[OccurrenceId] = set()
        for part in chunks(list(pairs), 200):
            by_run = or_(
                *(
                    and_(RunConference.bridge == bridge, RunConference.conference_id == ident)
                    for bridge, ident in part
                )
            )
            rows = await session.execute(
                select(MeetingRun.meeting_id, MeetingRun.occurrence_key)
                .join(RunConference, RunConference.run_id == MeetingRun.id)
                .where(by_run)
            )
            found |= {(row.meeting_id, row.occurrence_key) for row in rows}
            by_link = or_(
                *(
                    and_(ConferenceLink.bridge == bridge, ConferenceLink.conference_id == ident)
                    for bridge, ident in part
                )
            )
            rows = await session.execute(
                select(ConferenceLink.meeting_id, ConferenceLink.occurrence_key).where(by_link)
            )
            found |= {(row.meeting_id, row.occurrence_key) for row in rows}
        return found

    @staticmethod
    async def _occurrences_of_runs(
        session: AsyncSession, run_ids: Sequence[int]
    ) -> set[OccurrenceId]:
        found: set[OccurrenceId] = set()
        for part in chunks(sorted(set(run_ids))):
            rows = await session.execute(
                select(MeetingRun.meeting_id, MeetingRun.occurrence_key).where(
                    MeetingRun.id.in_(part)
                )
            )
            found |= {(row.meeting_id, row.occurrence_key) for row in rows}
        return found

    # -- 4. judging -----------------------------------------------------------------------------

    async def _judge_due(self) -> int:
        now = self._clock()
        deadline = time.monotonic() + self._policy.judge_budget.total_seconds()
        judged = await self._judge_without_records(now)
        while time.monotonic() < deadline:
            async with self._sessions.begin() as session:
                due = (
                    await session.execute(
                        select(S.id, S.meeting_id, S.occurrence_key, S.month)
                        .where(S.needs_judging.is_(True), S.end_at <= now)
                        .order_by(S.end_at, S.id)
                        .limit(self._policy.judge_batch)
                    )
                ).all()
                if not due:
                    break
                measured = await measure_occurrences(
                    session,
                    [(row.meeting_id, row.occurrence_key) for row in due],
                    now=now,
                    policy=self._policy.attendance,
                    builtin_bridges=self._policy.builtin_bridges,
                )
                await self._store_verdicts(session, due, measured, now)
                judged += len(due)
        return judged

    async def _judge_without_records(self, now: datetime) -> int:
        """Ended occurrences that no bridge, link or operator ever said anything about: not
        verified, every booked site absent.  One statement, however many (the backlog after
        an upgrade); the rest goes through :mod:`.verify`."""
        no_run = ~exists().where(
            and_(
                MeetingRun.meeting_id == S.meeting_id, MeetingRun.occurrence_key == S.occurrence_key
            )
        )
        no_link = ~exists().where(
            and_(
                ConferenceLink.meeting_id == S.meeting_id,
                ConferenceLink.occurrence_key == S.occurrence_key,
            )
        )
        no_entry = ~exists().where(
            and_(
                ManualEntry.meeting_id == S.meeting_id,
                ManualEntry.occurrence_key == S.occurrence_key,
                ManualEntry.retracted_at.is_(None),
            )
        )
        # Occurrences with sites of their own are left to the full path.
        meeting_sites = ~exists().where(
            and_(
                MeetingOccurrence.meeting_id == S.meeting_id,
                MeetingOccurrence.occurrence_key == S.occurrence_key,
                MeetingOccurrence.own_sites.is_(True),
            )
        )
        invited = (
            select(func.count(MeetingSite.id))
            .where(MeetingSite.meeting_id == S.meeting_id, MeetingSite.approval == ACCEPTED)
            .scalar_subquery()
        )
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(S)
                .where(
                    S.needs_judging.is_(True),
                    S.end_at <= now,
                    no_run,
                    no_link,
                    no_entry,
                    meeting_sites,
                )
                .values(
                    needs_judging=False,
                    judged_at=now,
                    verified=False,
                    basis="none",
                    sites_invited=invited,
                    sites_connected=0,
                    peak_sites=0,
                    sites_attended=0,
                )
                .returning(S.month)
                .execution_options(synchronize_session=False)
            )
            months = list(result.scalars())
            await mark_dirty(session, set(months))
            return len(months)

    @staticmethod
    async def _store_verdicts(
        session: AsyncSession,
        due: Sequence[Any],
        measured: dict[OccurrenceId, Connection],
        now: datetime,
    ) -> None:
        months: set[int] = set()
        for row in due:
            connection = measured.get((row.meeting_id, row.occurrence_key))
            values: dict[str, Any] = {"needs_judging": False, "judged_at": now}
            if connection is not None:
                values.update(
                    # Only declared-online rows are ever flagged for judging.
                    verified=rules.is_verified(online=True, peak_sites=connection.peak_sites),
                    basis=connection.basis,
                    sites_invited=connection.sites_invited,
                    sites_connected=connection.sites_connected,
                    peak_sites=connection.peak_sites,
                    sites_attended=connection.sites_attended,
                )
            await session.execute(update(S).where(S.id == row.id).values(**values))
            months.add(int(row.month))
        await mark_dirty(session, months)

    # -- 5. the monthly summary -------------------------------------------------------------------

    async def _summarise(self) -> tuple[list[int], datetime]:
        now = self._clock()
        async with self._sessions.begin() as session:
            await _lock(session)
            state = await session.get(StatsState, STATE_NAME, with_for_update=True)
            if state is None:
                return [], now
            marks = (await session.execute(select(StatsDirtyMonth.id, StatsDirtyMonth.month))).all()
            months = {int(row.month) for row in marks}
            if state.refreshed_at is not None:
                ended = await session.execute(
                    select(S.month).where(S.end_at > state.refreshed_at, S.end_at <= now).distinct()
                )
                months |= {int(month) for month in ended.scalars()}
            ordered = sorted(months)
            for part in chunks(ordered, 100):
                await session.execute(delete(StatsMonthly).where(StatsMonthly.month.in_(part)))
                source = (
                    select(S.month, S.unit_id, S.kind, *rules.figures_columns(now))
                    .where(S.month.in_(part), rules.in_register())
                    .group_by(S.month, S.unit_id, S.kind)
                )
                await session.execute(
                    insert(StatsMonthly).from_select(
                        ["month", "unit_id", "kind", *rules.FIGURES], source
                    )
                )
            # Only the marks read here: one written meanwhile stays for the next round.
            for ids in chunks([row.id for row in marks]):
                await session.execute(delete(StatsDirtyMonth).where(StatsDirtyMonth.id.in_(ids)))
            state.refreshed_at = now
            return ordered, now


async def flag_for_judging(session: AsyncSession, wanted: set[OccurrenceId]) -> None:
    """Judge these occurrences again (once ended): new records about them came in."""
    pairs = sorted(wanted)
    for part in chunks(pairs, 200):
        condition: ColumnElement[bool] = or_(
            *(and_(S.meeting_id == meeting_id, S.occurrence_key == key) for meeting_id, key in part)
        )
        await session.execute(
            update(S)
            .where(condition, S.online.is_(True), S.counted.is_(True))
            .values(needs_judging=True)
        )
