"""Reading stored health: endpoints in a principal's scope with their state, one endpoint,
its history and uptime over a period."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Principal
from vcorch.errors import FieldProblem, NotFound
from vcorch.monitoring.models import EndpointHealthRecord, EndpointHealthTransition
from vcorch.monitoring.policy import MonitoringPolicy
from vcorch.monitoring.targets import probe_plan
from vcorch.monitoring.uptime import Uptime, uptime
from vcorch.rooms import Endpoint, Room, Unit

HISTORY_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class HealthView:
    """One endpoint with its place and stored health, as the API shows it."""

    endpoint_id: int
    name: str
    kind: str
    room_id: int
    room_name: str
    unit_id: int
    unit_code: str
    unit_name: str
    state: str
    since: datetime | None
    latency_ms: float | None
    last_checked_at: datetime | None
    detail: str | None
    status_code: int | None
    probe_kind: str | None
    probe_enabled: bool
    probed: bool  # False: nothing about this endpoint can be probed
    stale: bool  # not checked for three of its intervals
    failures: int
    successes: int
    measurements: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class HistoryView:
    current: HealthView
    start: datetime
    end: datetime
    uptime: Uptime
    transitions: list[EndpointHealthTransition]
    truncated: bool


class HealthReads:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policy: MonitoringPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._clock = clock

    def _view(self, row: Any, now: datetime) -> HealthView:
        plan = probe_plan(row.kind, row.address, row.management_url, row.probe_transport)
        checked = row.last_checked_at
        interval = (
            timedelta(seconds=row.probe_interval_seconds)
            if row.probe_interval_seconds
            else self._policy.kind(plan.kind if plan else "sip").interval
        )
        return HealthView(
            endpoint_id=row.id,
            name=row.name,
            kind=row.kind,
            room_id=row.room_id,
            room_name=row.room_name,
            unit_id=row.unit_id,
            unit_code=row.unit_code,
            unit_name=row.unit_name,
            state=row.state or "unknown",
            since=row.since,
            latency_ms=row.latency_ms,
            last_checked_at=checked,
            detail=row.detail,
            status_code=row.status_code,
            probe_kind=row.probe_kind,
            probe_enabled=bool(row.probe_enabled),
            probed=plan is not None,
            stale=checked is not None and now - checked > 3 * interval,
            failures=row.failures or 0,
            successes=row.successes or 0,
            measurements=row.measurements or {},
        )

    @staticmethod
    def _health_query() -> Any:
        return (
            select(
                Endpoint.id,
                Endpoint.name,
                Endpoint.kind,
                Endpoint.address,
                Endpoint.management_url,
                Endpoint.probe_transport,
                Endpoint.probe_interval_seconds,
                Endpoint.probe_enabled,
                Endpoint.room_id,
                Room.name.label("room_name"),
                Room.unit_id,
                Unit.code.label("unit_code"),
                Unit.name.label("unit_name"),
                Unit.path,
                EndpointHealthRecord.state,
                EndpointHealthRecord.since,
                EndpointHealthRecord.latency_ms,
                EndpointHealthRecord.last_checked_at,
                EndpointHealthRecord.detail,
                EndpointHealthRecord.status_code,
                EndpointHealthRecord.probe_kind,
                EndpointHealthRecord.failures,
                EndpointHealthRecord.successes,
                EndpointHealthRecord.measurements,
            )
            .join(Room, Room.id == Endpoint.room_id)
            .join(Unit, Unit.id == Room.unit_id)
            .outerjoin(EndpointHealthRecord, EndpointHealthRecord.endpoint_id == Endpoint.id)
        )

    async def list_health(
        self,
        who: Principal,
        *,
        unit_id: int | None = None,
        state: str | None = None,
        kind: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> tuple[list[HealthView], int | None]:
        """Endpoints in ``who``'s scope (narrowed to a unit's subtree) with their health,
        in id order; returns the page and the last id when there is more."""
        now = self._clock()
        async with self._sessions() as session:
            query = self._health_query().where(Unit.path.startswith(who.unit_path))
            if unit_id is not None:
                unit = await session.get(Unit, unit_id)
                if unit is None or not who.sees(unit.path):
                    raise NotFound(
                        "no such unit",
                        problems=[FieldProblem("unit", "no such unit in your scope")],
                    )
                query = query.where(Unit.path.startswith(unit.path))
            if state is not None:
                query = query.where(func.coalesce(EndpointHealthRecord.state, "unknown") == state)
            if kind is not None:
                query = query.where(Endpoint.kind == kind)
            if after is not None:
                query = query.where(Endpoint.id > after)
            rows = (await session.execute(query.order_by(Endpoint.id).limit(limit + 1))).all()
        views = [self._view(row, now) for row in rows[:limit]]
        more = len(rows) > limit
        return views, views[-1].endpoint_id if more and views else None

    async def endpoint_health(self, who: Principal, endpoint_id: int) -> HealthView:
        async with self._sessions() as session:
            return await self.visible(session, who, endpoint_id, self._clock())

    async def visible(
        self, session: AsyncSession, who: Principal, endpoint_id: int, now: datetime
    ) -> HealthView:
        row = (
            await session.execute(self._health_query().where(Endpoint.id == endpoint_id))
        ).first()
        if row is None or not who.sees(row.path):
            raise NotFound("no such endpoint")
        return self._view(row, now)

    async def history(
        self, who: Principal, endpoint_id: int, start: datetime, end: datetime
    ) -> HistoryView:
        """State changes of an endpoint in ``[start, end)`` and its uptime there.

        The period is cut at "now": there is no state in the future.
        """
        now = self._clock()
        async with self._sessions() as session:
            current = await self.visible(session, who, endpoint_id, now)
            before = (
                await session.execute(
                    select(EndpointHealthTransition.current)
                    .where(
                        EndpointHealthTransition.endpoint_id == endpoint_id,
                        EndpointHealthTransition.at <= start,
                    )
                    .order_by(
                        EndpointHealthTransition.at.desc(), EndpointHealthTransition.id.desc()
                    )
                    .limit(1)
                )
            ).scalar()
            inside = list(
                (
                    await session.execute(
                        select(EndpointHealthTransition)
                        .where(
                            EndpointHealthTransition.endpoint_id == endpoint_id,
                            EndpointHealthTransition.at > start,
                            EndpointHealthTransition.at < end,
                        )
                        .order_by(EndpointHealthTransition.at, EndpointHealthTransition.id)
                    )
                ).scalars()
            )
        measured = uptime(
            before or "unknown",
            [(row.at, row.current) for row in inside],
            start,
            min(end, max(now, start)),
        )
        truncated = len(inside) > HISTORY_LIMIT
        return HistoryView(current, start, end, measured, inside[-HISTORY_LIMIT:], truncated)
