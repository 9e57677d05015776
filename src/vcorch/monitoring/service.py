"""The monitoring service: sweeps on each endpoint's interval, stored state, alerts, reads.

One object per process.  The leader process runs :meth:`MonitoringService.run_forever`
(sweeps every second over the endpoints that are due, housekeeping every few seconds);
every process answers the API and can :meth:`~MonitoringService.probe_now` (the
operator's button, the orchestrator's pre-flight check).  All of them fold results into
the same stored rows (:mod:`vcorch.monitoring.store`), so state and hysteresis are shared.

When is an endpoint due?  :mod:`vcorch.monitoring.schedule` gives each endpoint a fixed
phase inside its interval (the jitter that spreads probes over the interval), its own
interval or its probe kind's, and the hot interval (10 s) while one of its meetings starts
within the hour or is live.  An endpoint never checked, or not checked for two intervals
(a restart, a new endpoint), is due at once.

Time is a parameter: ``tick(now)``, ``sweep(..., now)``, ``probe_now(..., now)``; tests
drive one sweep at a time with a fake clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, Principal, audit
from vcorch.db import utcnow
from vcorch.errors import FieldProblem, InvalidInput, NotFound
from vcorch.mcu_adapter import BridgeHealthCoordinator, DialTarget
from vcorch.monitoring.board import BOARD_HORIZON, EndpointMeeting, EndpointPlace, next_meetings
from vcorch.monitoring.meetings import HotEndpointSource, hot_endpoint_ids
from vcorch.monitoring.metrics import Metrics
from vcorch.monitoring.models import EndpointHealthRecord
from vcorch.monitoring.policy import (
    KindPolicy,
    MonitoringPolicy,
    kind_policies,
    monitoring_policy,
)
from vcorch.monitoring.probes.base import Probe
from vcorch.monitoring.probes.result import ProbeResult
from vcorch.monitoring.probes.simulated import SimulatedNetwork
from vcorch.monitoring.probes.sip_mux import SipUdpProber
from vcorch.monitoring.probing import Prober, default_probes, plan_kind
from vcorch.monitoring.reads import HealthReads, HealthView, HistoryView
from vcorch.monitoring.schedule import Cadence, due_between
from vcorch.monitoring.store import (
    Observation,
    StoredChange,
    endpoint_counts,
    fold_results,
    forget_disabled,
)
from vcorch.monitoring.sweep import StateChange, log_change
from vcorch.monitoring.targets import Target, load_targets, load_targets_by_id
from vcorch.rooms import Endpoint, Room, Unit

__all__ = [
    "HealthView",
    "HistoryView",
    "KindPolicy",
    "MonitoringPolicy",
    "MonitoringService",
    "SweepOutcome",
    "default_probes",
    "kind_policies",
    "monitoring_policy",
]

log = logging.getLogger("vcorch.monitoring")

STORE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    at: datetime
    results: list[tuple[Target, ProbeResult]]
    changes: list[StoredChange]
    seconds: float


class MonitoringService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        policy: MonitoringPolicy,
        probes: Mapping[str, Probe],
        sip_udp: SipUdpProber | None = None,
        bridge_health: BridgeHealthCoordinator | None = None,
        meetings: HotEndpointSource | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        network: SimulatedNetwork | None = None,
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._bridge_health = bridge_health
        self._meetings = meetings
        self._metrics = metrics
        self._clock = clock
        self._prober = Prober(policy, probes, sip_udp, metrics, network)
        self._reads = HealthReads(sessions, policy, clock)
        self._cadence = Cadence(
            interval=policy.kind("sip").interval,
            hot_interval=policy.hot_interval,
            hot_lead=policy.hot_lead,
            seed=policy.seed,
        )
        # Serialises this process' writes of health rows (other processes: row locks).
        self._write_lock = asyncio.Lock()
        self._targets: list[Target] = []
        self._hot: set[int] = set()
        self._loaded_at: datetime | None = None
        self._last_checked: dict[int, datetime] = {}
        self._last_tick: datetime | None = None
        self._in_flight: set[int] = set()

    @property
    def policy(self) -> MonitoringPolicy:
        return self._policy

    def now(self) -> datetime:
        return self._clock()

    @property
    def hot(self) -> frozenset[int]:
        """Endpoints probed at the hot interval, as of the last refresh."""
        return frozenset(self._hot)

    def interval_of(self, target: Target) -> timedelta:
        """The interval that applies to ``target`` now (hot or not)."""
        base = self._base_interval(target)
        if target.endpoint_id in self._hot:
            return min(base, self._policy.hot_interval)
        return base

    def _base_interval(self, target: Target) -> timedelta:
        if target.own_interval is not None:
            return target.own_interval
        kind = target.plan.kind if target.plan else "sip"
        return self._policy.kind(kind).interval

    # -- sweeping ----------------------------------------------------------------------------

    async def refresh_targets(self, now: datetime | None = None, *, force: bool = False) -> None:
        """Read the endpoints to probe and the hot set again when they are old (or forced)."""
        now = now or self._clock()
        loaded = self._loaded_at
        if not force and loaded is not None and abs(now - loaded) < self._policy.targets_max_age:
            return
        async with self._sessions() as session:
            targets = await load_targets(session)
            sites = (
                await self._meetings.sites_between(session, now, now + self._policy.hot_lead)
                if self._meetings is not None
                else []
            )
        self._targets = targets
        self._hot = hot_endpoint_ids(sites, targets)
        self._loaded_at = now
        for target in targets:
            checked = target.last_checked_at
            if checked is not None:
                known = self._last_checked.get(target.endpoint_id)
                if known is None or checked > known:
                    self._last_checked[target.endpoint_id] = checked

    def _take_due(self, now: datetime) -> list[Target]:
        """The endpoints due in (last tick, now], plus overdue ones; marks them in flight."""
        since = self._last_tick
        if since is None:
            since = now - timedelta(seconds=self._policy.tick_seconds)
        if now <= since:
            return []
        self._last_tick = now
        probeable = [
            target
            for target in self._targets
            if target.plan is not None and target.endpoint_id not in self._in_flight
        ]
        by_id = {target.endpoint_id: target for target in probeable}
        due_ids = set(
            due_between(
                [(target.endpoint_id, self._base_interval(target)) for target in probeable],
                since,
                now,
                self._cadence,
                hot=self._hot,
            )
        )
        for target in probeable:
            checked = self._last_checked.get(target.endpoint_id)
            if checked is None or now - checked >= 2 * self.interval_of(target):
                due_ids.add(target.endpoint_id)
        due = [by_id[endpoint_id] for endpoint_id in sorted(due_ids) if endpoint_id in by_id]
        self._in_flight.update(target.endpoint_id for target in due)
        return due

    async def tick(self, now: datetime | None = None) -> SweepOutcome | None:
        """Probe the endpoints due since the last tick (None when none was due)."""
        now = now or self._clock()
        await self.refresh_targets(now)
        due = self._take_due(now)
        if not due:
            return None
        try:
            return await self.sweep(due, now)
        finally:
            self._in_flight.difference_update(target.endpoint_id for target in due)

    async def sweep_all(self, now: datetime | None = None) -> SweepOutcome:
        """Probe every enabled endpoint once, whatever its schedule."""
        now = now or self._clock()
        await self.refresh_targets(now, force=True)
        return await self.sweep(self._targets, now)

    async def sweep(
        self, targets: Sequence[Target], now: datetime, *, cause: str = "sweep"
    ) -> SweepOutcome:
        """Probe ``targets`` (enabled ones with a probe) and store what they show."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        chosen = [target for target in targets if target.enabled and target.plan is not None]
        results = await self._prober.probe(chosen)
        changes = await self._store(
            [
                Observation(target.endpoint_id, plan_kind(target), result)
                for target, result in zip(chosen, results, strict=True)
            ],
            now,
            cause,
        )
        seconds = loop.time() - started
        if self._metrics is not None:
            self._metrics.sweep_duration_seconds.observe(seconds)
        return SweepOutcome(now, list(zip(chosen, results, strict=True)), changes, seconds)

    async def probe_now(
        self,
        endpoint_ids: Collection[int],
        now: datetime | None = None,
        *,
        actor: Actor | None = None,
    ) -> dict[int, ProbeResult]:
        """Probe these endpoints at once and fold the results into their stored state.

        For any process: the operator's "probe now", the orchestrator's pre-flight check.
        Endpoints that do not exist or have nothing to probe are left out of the answer;
        results of endpoints with probing switched off are returned but not stored.
        """
        now = now or self._clock()
        async with self._sessions() as session:
            targets = [
                target
                for target in await load_targets_by_id(session, endpoint_ids)
                if target.plan is not None
            ]
        results = await self._prober.probe(targets)
        stored = [
            Observation(target.endpoint_id, plan_kind(target), result)
            for target, result in zip(targets, results, strict=True)
            if target.enabled
        ]

        def audit_probes(session: AsyncSession) -> None:
            if actor is None:
                return
            for target, result in zip(targets, results, strict=True):
                audit.record(
                    session,
                    actor,
                    at=now,
                    action="probe",
                    entity="endpoint",
                    entity_id=target.endpoint_id,
                    unit_path=target.unit_path,
                    after={"ok": result.ok, "reachable": result.reachable, "detail": result.detail},
                )

        await self._store(stored, now, "probe-now", also=audit_probes)
        return {target.endpoint_id: result for target, result in zip(targets, results, strict=True)}

    async def _store(
        self,
        observations: Sequence[Observation],
        now: datetime,
        cause: str,
        *,
        also: Callable[[AsyncSession], None] | None = None,
    ) -> list[StoredChange]:
        if not observations and also is None:
            return []
        changes: list[StoredChange] = []
        async with self._write_lock:
            for attempt in range(1, STORE_RETRIES + 1):
                try:
                    async with self._sessions.begin() as session:
                        changes = await fold_results(
                            session,
                            observations,
                            now,
                            policy_for=lambda kind: self._policy.kind(kind).hysteresis,
                            cause=cause,
                            alerts=self._policy.alerts,
                            meetings=self._meetings,
                        )
                        if also is not None:
                            also(session)
                    break
                except IntegrityError:
                    # An endpoint was deleted between the check and the write; the next
                    # attempt leaves it out.
                    if attempt == STORE_RETRIES:
                        raise
        for observation in observations:
            known = self._last_checked.get(observation.endpoint_id)
            if known is None or now > known:
                self._last_checked[observation.endpoint_id] = now
        for change in changes:
            # Logged here, once, after the change is committed.
            log_change(
                StateChange(change.endpoint_id, change.previous, change.current, now, change.result)
            )
            if self._metrics is not None:
                self._metrics.health_transitions.labels(change.current.value).inc()
        return changes

    async def endpoint_answers(self, target: DialTarget) -> bool:
        """Whether a call to ``target`` would be answered, from stored health (the simulated
        MCU asks this, so that it behaves like the network monitoring sees).

        The endpoint is the one whose address the target dials (of several with one
        address, the one checked last): ``down`` does not answer; ``up``, ``unknown`` (never
        probed, nothing to probe, probing off) and an address no endpoint has do.
        """
        async with self._sessions() as session:
            state = await session.scalar(
                select(EndpointHealthRecord.state)
                .join(Endpoint, Endpoint.id == EndpointHealthRecord.endpoint_id)
                .where(Endpoint.address == target.address)
                .order_by(
                    EndpointHealthRecord.last_checked_at.desc().nulls_last(),
                    EndpointHealthRecord.endpoint_id,
                )
                .limit(1)
            )
        return state != "down"

    # -- housekeeping ------------------------------------------------------------------------

    async def housekeeping(self, now: datetime | None = None) -> None:
        """Reset endpoints whose probing was switched off; refresh the endpoint gauges."""
        now = now or self._clock()
        async with self._write_lock, self._sessions.begin() as session:
            reset = await forget_disabled(session, now)
        for endpoint_id in reset:
            self._last_checked.pop(endpoint_id, None)
        await self.refresh_gauges()

    async def refresh_gauges(self) -> None:
        if self._metrics is None:
            return
        async with self._sessions() as session:
            counts = await endpoint_counts(session)
        self._metrics.set_endpoint_counts(counts)

    async def refresh_bridges(self) -> None:
        """The bridges' gauges from the health coordinator's snapshot (polled again first
        when older than its max age)."""
        if self._bridge_health is None:
            return
        await self._bridge_health.fresh()
        if self._metrics is not None:
            self._metrics.set_bridges(self._bridge_health.statuses())

    async def run_forever(self) -> None:
        """The leader's loop: a tick every second, housekeeping and bridges in between."""
        side = asyncio.create_task(self._side_loop(), name="monitoring-housekeeping")
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    now = self._clock()
                    await self.refresh_targets(now)
                    due = self._take_due(now)
                    if due:
                        while len(running) >= self._policy.max_parallel_sweeps:
                            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                        task = asyncio.create_task(self._background_sweep(due, now))
                        running.add(task)
                        task.add_done_callback(running.discard)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The loop must outlive a database hiccup; the next tick tries again.
                    log.exception("probe tick failed")
                await asyncio.sleep(self._policy.tick_seconds)
        finally:
            side.cancel()
            for task in running:
                task.cancel()
            await asyncio.gather(side, *running, return_exceptions=True)

    async def _background_sweep(self, due: list[Target], now: datetime) -> None:
        try:
            await self.sweep(due, now)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweep of %s endpoints failed", len(due))
        finally:
            self._in_flight.difference_update(target.endpoint_id for target in due)

    async def _side_loop(self) -> None:
        loop = asyncio.get_running_loop()
        bridges_due = 0.0
        while True:
            try:
                await self.housekeeping()
                if loop.time() >= bridges_due:
                    bridges_due = loop.time() + self._policy.bridge_health_seconds
                    await self.refresh_bridges()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("monitoring housekeeping failed")
            await asyncio.sleep(self._policy.housekeeping_seconds)

    # -- reading -----------------------------------------------------------------------------

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
        return await self._reads.list_health(
            who, unit_id=unit_id, state=state, kind=kind, after=after, limit=limit
        )

    async def board_meetings(
        self,
        who: Principal,
        *,
        unit_id: int | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> tuple[list[EndpointMeeting], int | None]:
        """A page of endpoints in ``who``'s scope (by id, as :meth:`list_health` pages them)
        with their next meeting within 24 hours or the one they are in; returns those that
        have one, and the last id of the page when there is more."""
        now = self._clock()
        async with self._sessions() as session:
            query = (
                select(Endpoint.id, Endpoint.room_id)
                .join(Room, Room.id == Endpoint.room_id)
                .join(Unit, Unit.id == Room.unit_id)
                .where(Unit.path.startswith(who.unit_path))
            )
            if unit_id is not None:
                unit = await session.get(Unit, unit_id)
                if unit is None or not who.sees(unit.path):
                    raise NotFound(
                        "no such unit",
                        problems=[FieldProblem("unit", "no such unit in your scope")],
                    )
                query = query.where(Unit.path.startswith(unit.path))
            if after is not None:
                query = query.where(Endpoint.id > after)
            rows = (await session.execute(query.order_by(Endpoint.id).limit(limit + 1))).all()
            places = [EndpointPlace(row.id, row.room_id) for row in rows[:limit]]
            sites = (
                await self._meetings.sites_between(
                    session, now, now + BOARD_HORIZON, rooms={p.room_id for p in places}
                )
                if self._meetings is not None and places
                else []
            )
        more = len(rows) > limit
        last = places[-1].endpoint_id if more and places else None
        return next_meetings(places, sites, now), last

    async def endpoint_health(self, who: Principal, endpoint_id: int) -> HealthView:
        return await self._reads.endpoint_health(who, endpoint_id)

    async def history(
        self, who: Principal, endpoint_id: int, start: datetime, end: datetime
    ) -> HistoryView:
        """State changes of an endpoint in ``[start, end)`` and its uptime there."""
        return await self._reads.history(who, endpoint_id, start, end)

    async def probe_endpoint(
        self, actor: Actor, endpoint_id: int
    ) -> tuple[ProbeResult, datetime, HealthView]:
        """The operator's "probe now" for one endpoint in their scope."""
        now = self._clock()
        async with self._sessions() as session:
            view = await self._reads.visible(session, actor.principal, endpoint_id, now)
        if not view.probed:
            raise InvalidInput(
                "this endpoint has nothing that can be probed",
                problems=[
                    FieldProblem(
                        "endpoint",
                        "a WebRTC endpoint needs a gateway URL as address or a management_url;"
                        " sips/TLS endpoints are not probed",
                    )
                ],
            )
        results = await self.probe_now([endpoint_id], now, actor=actor)
        result = results[endpoint_id]
        async with self._sessions() as session:
            after = await self._reads.visible(session, actor.principal, endpoint_id, now)
        return result, now, after
