"""The statistics service: reports scoped to the caller, open data, the dashboard's figures,
links of after-the-fact meetings to bridge conferences, and the leader's refresh."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, Principal, audit
from vcorch.attendance import AttendancePolicy
from vcorch.booking import Meeting, MeetingOccurrence
from vcorch.config import Settings
from vcorch.errors import Conflict, FieldProblem, InvalidInput, NotFound
from vcorch.orchestration import MeetingRun, RunConference
from vcorch.rooms import Unit
from vcorch.stats import report, schemas
from vcorch.stats.facts import StatsListener
from vcorch.stats.models import ConferenceLink, StatsMonthly, StatsOccurrence
from vcorch.stats.periods import (
    Period,
    PeriodKind,
    month_first_day,
    month_key,
    months_between,
    next_month,
)
from vcorch.stats.refresh import (
    RefreshPolicy,
    RoundResult,
    StatsRefresher,
    flag_for_judging,
)

log = logging.getLogger("vcorch.stats")


CONFERENCE_TAKEN = "this conference is already counted for a meeting"


class ShareGauge(Protocol):
    def set_online_share(
        self, period: str, share: float, share_declared: float, target: float
    ) -> None: ...


@dataclass(frozen=True)
class StatsPolicy:
    zone: ZoneInfo
    target: Fraction
    period: PeriodKind
    province_level: str = "province"
    refresh_seconds: float = 60.0
    open_data_max_age: int = 900
    attendance: AttendancePolicy = field(default_factory=AttendancePolicy)
    builtin_bridges: frozenset[str] = frozenset()


def stats_policy(
    settings: Settings, attendance: AttendancePolicy, builtin_bridges: frozenset[str]
) -> StatsPolicy:
    return StatsPolicy(
        zone=settings.zone,
        # Exact arithmetic: 0.3 x 10 must be 3 when counting what is missing.
        target=Fraction(str(settings.online_share_target)),
        period=settings.online_share_period,
        province_level=settings.stats_province_level,
        refresh_seconds=settings.stats_refresh_seconds,
        open_data_max_age=settings.open_data_max_age_seconds,
        attendance=attendance,
        builtin_bridges=builtin_bridges,
    )


@dataclass(frozen=True)
class OpenDataRow:
    month: str
    province_code: str | None
    province_name: str
    figures: schemas.Figures
    provisional: bool


@dataclass(frozen=True)
class OpenData:
    rows: list[OpenDataRow]
    summarised_at: datetime | None
    target: float


@dataclass(frozen=True)
class Dashboard:
    year: int
    unit: schemas.UnitRef
    total: schemas.Figures
    months: list[schemas.Group]
    places: list[schemas.Group]
    places_are_provinces: bool
    current: schemas.CurrentPeriod | None
    as_of: datetime
    summarised_at: datetime | None
    zone: ZoneInfo
    # The first and last year with a counted meeting in scope (held or booked), if any: the
    # page's year selector offers these as well as this year and the next.
    years_with_data: tuple[int, int] | None = None


class StatsService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policy: StatsPolicy,
        clock: Callable[[], datetime],
        *,
        gauge: ShareGauge | None = None,
    ) -> None:
        self._sessions = sessions
        self.policy = policy
        self.open_data_max_age = policy.open_data_max_age
        self._clock = clock
        self._gauge = gauge
        self.listener = StatsListener(policy.zone)
        self.refresher = StatsRefresher(
            sessions,
            RefreshPolicy(
                zone=policy.zone,
                attendance=policy.attendance,
                builtin_bridges=policy.builtin_bridges,
            ),
            clock,
            after_round=self._after_round,
        )
        self._open_data: dict[tuple[int | None, datetime | None, date], OpenData] = {}

    async def run_forever(self) -> None:
        """Leader work: a refresh round every ``refresh_seconds``."""
        await self.refresher.run_forever(self.policy.refresh_seconds)

    # -- scope -------------------------------------------------------------------------------

    @staticmethod
    async def _root(session: AsyncSession, who: Principal, unit_id: int | None) -> Unit:
        unit = await session.get(Unit, unit_id if unit_id is not None else who.unit_id)
        if unit is None or not who.sees(unit.path):
            # Outside the caller's subtree reads as absent (not told apart on purpose).
            raise NotFound("no such unit", problems=[FieldProblem("unit", "no such unit")])
        return unit

    @staticmethod
    async def _top(session: AsyncSession) -> Unit:
        top = (
            await session.execute(
                select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1)
            )
        ).scalar_one_or_none()
        if top is None:
            raise NotFound("the unit tree is empty")
        return top

    def _period_now(self) -> Period:
        return report.current_period_of(self._clock(), self.policy.zone, self.policy.period)

    # -- the report ------------------------------------------------------------------------------

    async def online_share(
        self, who: Principal, query: schemas.OnlineShareQuery
    ) -> schemas.OnlineShareOut:
        now = self._clock()
        current = self._period_now()
        first = query.from_ or current.first
        last = query.to or current.last
        if first > last:
            raise InvalidInput(
                "the period ends before it begins",
                problems=[FieldProblem("from", "must not be after to")],
            )
        months = months_between(first, last)
        if len(months) > schemas.MAX_MONTHS:
            raise InvalidInput(
                f"at most {schemas.MAX_MONTHS} months at once",
                problems=[FieldProblem("to", f"at most {schemas.MAX_MONTHS} months after from")],
            )
        target = self.policy.target
        async with self._sessions() as session:
            root = await self._root(session, who, query.unit)
            scope = await report.load_scope(session, root)
            cells = await report.read_cells(
                session,
                zone=self.policy.zone,
                first=first,
                last=last,
                scope=scope,
                now=now,
                dimensions=report.dimensions_for(query.group_by),
            )
            channels = await report.read_channels(
                session, zone=self.policy.zone, first=first, last=last, scope=scope, now=now
            )
            if (first, last) == (current.first, current.last):
                current_cells = cells
            else:
                current_cells = await report.read_cells(
                    session,
                    zone=self.policy.zone,
                    first=current.first,
                    last=current.last,
                    scope=scope,
                    now=now,
                    dimensions=(),
                )
        return schemas.OnlineShareOut(
            target=float(target),
            period=self.policy.period,
            from_=first,
            to=last,
            group_by=query.group_by,
            unit=schemas.UnitRef(id=root.id, code=root.code, name=root.name),
            as_of=now,
            summarised_at=cells.summarised_at,
            total=report.figures(cells.total(), target),
            groups=report.groups_of(
                cells, query.group_by, months, scope, self.policy.province_level, target
            ),
            current_period=report.projection(current, current_cells.total(), target),
            channels=channels,
        )

    # -- the leadership dashboard --------------------------------------------------------------

    async def dashboard(self, who: Principal, year: int | None, unit_id: int | None) -> Dashboard:
        now = self._clock()
        current = self._period_now()
        today = now.astimezone(self.policy.zone).date()
        shown = year or today.year
        first, last = date(shown, 1, 1), date(shown, 12, 31)
        target = self.policy.target
        async with self._sessions() as session:
            root = await self._root(session, who, unit_id)
            scope = await report.load_scope(session, root)
            cells = await report.read_cells(
                session,
                zone=self.policy.zone,
                first=first,
                last=last,
                scope=scope,
                now=now,
                dimensions=("month", "unit_id"),
            )
            current_cells = await report.read_cells(
                session,
                zone=self.policy.zone,
                first=current.first,
                last=current.last,
                scope=scope,
                now=now,
                dimensions=(),
            )
            years = await self._years_with_data(session, scope)
        months = months_between(first, last)
        provinces = scope.province_of(root.id, self.policy.province_level) is None
        places = report.groups_of(
            cells,
            "province" if provinces else "unit",
            months,
            scope,
            self.policy.province_level,
            target,
        )
        return Dashboard(
            year=shown,
            unit=schemas.UnitRef(id=root.id, code=root.code, name=root.name),
            total=report.figures(cells.total(), target),
            months=report.groups_of(
                cells, "month", months, scope, self.policy.province_level, target
            ),
            places=places,
            places_are_provinces=provinces,
            current=report.projection(current, current_cells.total(), target)
            if current.first.year <= shown <= current.last.year
            else None,
            as_of=now,
            summarised_at=cells.summarised_at,
            zone=self.policy.zone,
            years_with_data=years,
        )

    async def _years_with_data(
        self, session: AsyncSession, scope: report.Scope
    ) -> tuple[int, int] | None:
        """The first and last year (yyyymm // 100) of the counted occurrences in scope."""
        stmt = select(func.min(StatsOccurrence.month), func.max(StatsOccurrence.month)).where(
            StatsOccurrence.counted.is_(True)
        )
        if not scope.everything:
            stmt = stmt.where(StatsOccurrence.unit_id.in_(list(scope.units)))
        low, high = (await session.execute(stmt)).one()
        if low is None or high is None:
            return None
        return int(low) // 100, int(high) // 100

    # -- open data -------------------------------------------------------------------------------

    async def open_data(self, year: int | None) -> OpenData:
        """Per month and province, from the summary alone (as of its refresh); cached until
        the next refresh."""
        now = self._clock()
        today = now.astimezone(self.policy.zone).date()
        target = self.policy.target
        async with self._sessions() as session:
            top = await self._top(session)
            scope = await report.load_scope(session, top)
            earliest = await session.scalar(select(func.min(StatsMonthly.month)))
            state_at = await report.summarised_at(session)
            cache_key = (year, state_at, today)
            cached = self._open_data.get(cache_key)
            if cached is not None:
                return cached
            this_month = month_key(today)
            # From the register's first month (nothing was kept before) to this one.
            first_month, last_month = earliest or this_month, this_month
            if year is not None:
                first_month = max(first_month, year * 100 + 1)
                last_month = min(last_month, year * 100 + 12)
            if first_month > last_month or earliest is None:
                table = OpenData([], state_at, float(target))
                self._open_data = {cache_key: table}
                return table
            last_day = month_first_day(next_month(last_month)) - timedelta(days=1)
            cells = await report.read_cells(
                session,
                zone=self.policy.zone,
                first=month_first_day(first_month),
                last=last_day,
                scope=scope,
                now=now,
                dimensions=("month", "unit_id"),
                summary_only=True,
            )
        months = months_between(month_first_day(first_month), last_day)
        specs, province_key = report.group_specs(
            "province", months, scope, self.policy.province_level
        )
        folded = cells.fold(
            lambda month, unit_id, kind: f"{month}|{province_key(month, unit_id, kind) or ''}"
        )
        rows = []
        for month in months:
            for spec in specs:
                counts = folded.get(f"{month}|{spec.key or ''}", report.Counts())
                rows.append(
                    OpenDataRow(
                        month=f"{month // 100:04d}-{month % 100:02d}",
                        province_code=spec.key,
                        province_name=spec.label if spec.key is not None else "Trung ương",
                        figures=report.figures(counts, target),
                        provisional=month >= this_month,
                    )
                )
        table = OpenData(rows, state_at, float(target))
        # One entry: a new refresh makes the old tables useless.
        self._open_data = {cache_key: table}
        return table

    # -- the Prometheus gauge ---------------------------------------------------------------------

    async def _after_round(self, result: RoundResult) -> None:
        if self._gauge is None:
            return
        current = self._period_now()
        async with self._sessions() as session:
            top = await self._top(session)
            scope = await report.load_scope(session, top)
            cells = await report.read_cells(
                session,
                zone=self.policy.zone,
                first=current.first,
                last=current.last,
                scope=scope,
                now=self._clock(),
                dimensions=(),
            )
        shown = report.figures(cells.total(), self.policy.target)
        self._gauge.set_online_share(
            current.key, shown.share, shown.share_declared, float(self.policy.target)
        )

    # -- links of meetings recorded after the fact -------------------------------------------------

    async def _meeting(self, session: AsyncSession, who: Principal, meeting_id: int) -> Meeting:
        meeting = await session.get(Meeting, meeting_id)
        organizer = await session.get(Unit, meeting.organizer_unit_id) if meeting else None
        if meeting is None or organizer is None or not who.sees(organizer.path):
            raise NotFound("no such meeting")
        return meeting

    async def links(self, who: Principal, meeting_id: int) -> list[ConferenceLink]:
        async with self._sessions() as session:
            await self._meeting(session, who, meeting_id)
            found = await session.execute(
                select(ConferenceLink)
                .where(ConferenceLink.meeting_id == meeting_id)
                .order_by(ConferenceLink.id)
            )
            return list(found.scalars())

    async def add_link(
        self, actor: Actor, meeting_id: int, data: schemas.LinkCreate
    ) -> ConferenceLink:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            organizer = await session.get(Unit, meeting.organizer_unit_id)
            assert organizer is not None
            key = await self._occurrence_key(session, meeting, data.occurrence)
            run = await session.scalar(
                select(MeetingRun.id).where(
                    MeetingRun.meeting_id == meeting.id, MeetingRun.occurrence_key == key
                )
            )
            if run is not None:
                raise Conflict(
                    "vcorch ran this occurrence: the records of its own conferences already count"
                )
            taken = await session.scalar(
                select(RunConference.id).where(
                    RunConference.bridge == data.bridge,
                    RunConference.conference_id == data.conference_id,
                )
            )
            if taken is not None:
                # One answer whether vcorch ran it or another meeting linked it: neither
                # says whose meeting (another unit's, maybe) the conference is counted for.
                raise Conflict(CONFERENCE_TAKEN)
            link = ConferenceLink(
                meeting_id=meeting.id,
                occurrence_key=key,
                bridge=data.bridge,
                conference_id=data.conference_id,
                created_by=actor.principal.label,
                created_at=self._clock(),
            )
            session.add(link)
            try:
                await session.flush()
            except IntegrityError as err:
                raise Conflict(CONFERENCE_TAKEN) from err
            await flag_for_judging(session, {(meeting.id, key)})
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="link-conference",
                entity="meeting",
                entity_id=meeting.id,
                unit_path=organizer.path,
                after={
                    "link_id": link.id,
                    "occurrence": key.isoformat(),
                    "bridge": link.bridge,
                    "conference_id": link.conference_id,
                },
            )
            return link

    async def remove_link(self, actor: Actor, meeting_id: int, link_id: int) -> None:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            organizer = await session.get(Unit, meeting.organizer_unit_id)
            assert organizer is not None
            link = await session.get(ConferenceLink, link_id)
            if link is None or link.meeting_id != meeting.id:
                raise NotFound("no such link")
            before = {
                "link_id": link.id,
                "occurrence": link.occurrence_key.isoformat(),
                "bridge": link.bridge,
                "conference_id": link.conference_id,
            }
            await session.delete(link)
            await flag_for_judging(session, {(meeting.id, link.occurrence_key)})
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="unlink-conference",
                entity="meeting",
                entity_id=meeting.id,
                unit_path=organizer.path,
                before=before,
            )

    @staticmethod
    async def _occurrence_key(
        session: AsyncSession, meeting: Meeting, wanted: datetime | None
    ) -> datetime:
        rows = list(
            (
                await session.execute(
                    select(MeetingOccurrence.occurrence_key)
                    .where(MeetingOccurrence.meeting_id == meeting.id)
                    .order_by(MeetingOccurrence.occurrence_key)
                    .limit(2 if wanted is None else None)
                )
            ).scalars()
        )
        if wanted is None:
            if len(rows) != 1:
                raise InvalidInput(
                    "the meeting has several occurrences: say which",
                    problems=[FieldProblem("occurrence", "required for a series")],
                )
            return rows[0]
        for key in rows:
            if key == wanted:
                return key
        raise InvalidInput(
            "not an occurrence of this meeting",
            problems=[FieldProblem("occurrence", "not an occurrence of this meeting")],
        )
