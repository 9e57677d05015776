"""Folding probe results into the stored health of endpoints, in one transaction.

The stored row is the state every process shares, so results are folded against it,
not against a copy in memory: the leader's sweeps and an operator's "probe now" on any
process see and change the same state.  Writers are serialised by one advisory
lock on PostgreSQL (``BEGIN IMMEDIATE`` does it on SQLite), so a fold reads and writes
rows nobody else is changing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.monitoring.alerts import AlertPolicy, Change, queue_alerts
from vcorch.monitoring.hysteresis import EndpointHealth, Health, HysteresisPolicy, observe
from vcorch.monitoring.meetings import HotEndpointSource
from vcorch.monitoring.models import EndpointHealthRecord, EndpointHealthTransition
from vcorch.monitoring.probes.result import ProbeResult
from vcorch.rooms import Endpoint, Room, Unit

_CHUNK = 500
HEALTH_TABLE = cast(Table, EndpointHealthRecord.__table__)
TRANSITION_TABLE = cast(Table, EndpointHealthTransition.__table__)
# UPDATE ... SET <the keys given> WHERE endpoint_id = :key, sent as one executemany
# (the ORM's bulk update by primary key costs half as much again).
_UPDATE_ROW = update(HEALTH_TABLE).where(HEALTH_TABLE.c.endpoint_id == bindparam("key"))
_WHOLE_RANGE = 2000
# pg_advisory_xact_lock key of health writes; every advisory lock has a key of its own.
HEALTH_LOCK_KEY = 7_410_010


@dataclass(frozen=True, slots=True)
class Observation:
    endpoint_id: int
    probe_kind: str
    result: ProbeResult


@dataclass(frozen=True, slots=True)
class StoredChange:
    transition_id: int
    endpoint_id: int
    previous: Health
    current: Health
    at: datetime
    result: ProbeResult
    alerted: bool


def _row_values(
    endpoint_id: int, health: EndpointHealth, observation: Observation, now: datetime
) -> dict[str, object]:
    result = observation.result
    return {
        "endpoint_id": endpoint_id,
        "state": health.state.value,
        "since": health.since,
        "failures": health.failures,
        "successes": health.successes,
        "last_checked_at": now,
        "last_ok": result.ok,
        "last_reachable": result.reachable,
        "latency_ms": result.latency_ms,
        "status_code": result.status_code,
        "detail": result.detail[:500],
        "probe_kind": observation.probe_kind,
        "measurements": dict(result.metrics),
    }


async def lock_health(session: AsyncSession) -> None:
    """Serialise writers of endpoint health across processes, for this transaction.

    One advisory lock instead of a row lock per endpoint: a sweep writes thousands of rows,
    and locking each of them first costs as much again as the update.  On SQLite every
    transaction already begins with ``BEGIN IMMEDIATE`` (the database's write lock).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": HEALTH_LOCK_KEY})


async def fold_results(
    session: AsyncSession,
    observations: Sequence[Observation],
    now: datetime,
    *,
    policy_for: Callable[[str], HysteresisPolicy],
    cause: str,
    alerts: AlertPolicy | None,
    meetings: HotEndpointSource | None = None,
) -> list[StoredChange]:
    """Fold each observation (one per endpoint) taken at ``now`` into its stored state.

    Stores the row, a transition for each change, and queues the alerts the changes call
    for (``meetings`` says which rooms have meetings; without it nothing alerts).  A
    result older than the stored last check is ignored (a slower, earlier probe must not
    undo a later one).
    """
    by_id = {observation.endpoint_id: observation for observation in observations}
    ids = sorted(by_id)
    if not ids:
        return []
    await lock_health(session)
    stored: dict[int, EndpointHealth] = {}
    columns = select(
        EndpointHealthRecord.endpoint_id,
        EndpointHealthRecord.state,
        EndpointHealthRecord.since,
        EndpointHealthRecord.failures,
        EndpointHealthRecord.successes,
        EndpointHealthRecord.last_checked_at,
    )
    if len(ids) > _WHOLE_RANGE:
        # A big sweep (start-up): one range scan beats many IN lists of 500.
        queries = [columns.where(EndpointHealthRecord.endpoint_id.between(ids[0], ids[-1]))]
    else:
        queries = [
            columns.where(EndpointHealthRecord.endpoint_id.in_(ids[start : start + _CHUNK]))
            for start in range(0, len(ids), _CHUNK)
        ]
    for query in queries:
        for found in await session.execute(query):
            if found.endpoint_id not in by_id:
                continue
            stored[found.endpoint_id] = EndpointHealth(
                Health(found.state),
                found.since,
                found.failures,
                found.successes,
                found.last_checked_at,
            )
    # An endpoint deleted while it was being probed has nothing to store any more.
    fresh = [endpoint_id for endpoint_id in ids if endpoint_id not in stored]
    existing: set[int] = set()
    if len(fresh) > _WHOLE_RANGE:
        existing.update(
            await session.scalars(
                select(Endpoint.id).where(Endpoint.id.between(fresh[0], fresh[-1]))
            )
        )
    else:
        for start in range(0, len(fresh), _CHUNK):
            existing.update(
                await session.scalars(
                    select(Endpoint.id).where(Endpoint.id.in_(fresh[start : start + _CHUNK]))
                )
            )
    ids = [endpoint_id for endpoint_id in ids if endpoint_id in stored or endpoint_id in existing]
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    transitions: list[dict[str, object]] = []
    tipped_by: list[Observation] = []
    for endpoint_id in ids:
        observation = by_id[endpoint_id]
        before = stored.get(endpoint_id)
        health = before if before is not None else EndpointHealth()
        after, transition = observe(
            health, observation.result.ok, now, policy_for(observation.probe_kind)
        )
        if after is health:
            continue  # older than what is stored
        values = _row_values(endpoint_id, after, observation, now)
        (inserts if before is None else updates).append(values)
        if transition is not None:
            result = observation.result
            transitions.append(
                {
                    "endpoint_id": endpoint_id,
                    "at": now,
                    "previous": transition.previous.value,
                    "current": transition.current.value,
                    "detail": result.detail[:500],
                    "latency_ms": result.latency_ms,
                    "status_code": result.status_code,
                    "cause": cause,
                    "alerted": False,
                }
            )
            tipped_by.append(observation)
    # Inserts go through the tables, not the ORM entities: the ORM's bulk insert sends one
    # statement per row here, the table's executemany one batch.
    if inserts:
        await session.execute(insert(HEALTH_TABLE), inserts)
    if updates:
        await session.execute(
            _UPDATE_ROW,
            [
                {"key": row["endpoint_id"], **{k: v for k, v in row.items() if k != "endpoint_id"}}
                for row in updates
            ],
        )
    if not transitions:
        return []
    # Multi-row INSERT ... RETURNING in batches.  Asking for the rows' order would make
    # SQLAlchemy send one statement per row on SQLite; each fold holds one row per
    # endpoint, so the endpoint id tells which id is whose.
    returned = await session.execute(
        insert(TRANSITION_TABLE).returning(TRANSITION_TABLE.c.id, TRANSITION_TABLE.c.endpoint_id),
        transitions,
    )
    id_of = {endpoint_id: transition_id for transition_id, endpoint_id in returned}
    transition_ids = [id_of[int(str(row["endpoint_id"]))] for row in transitions]
    alerted: set[int] = set()
    if alerts is not None and meetings is not None:
        alerted = await queue_alerts(
            session,
            [
                Change(
                    transition_id,
                    int(str(row["endpoint_id"])),
                    str(row["previous"]),
                    str(row["current"]),
                    now,
                    str(row["detail"]),
                    observation.result.latency_ms,
                )
                for transition_id, row, observation in zip(
                    transition_ids, transitions, tipped_by, strict=True
                )
            ],
            now,
            alerts,
            meetings,
        )
        if alerted:
            await session.execute(
                update(EndpointHealthTransition),
                [{"id": transition_id, "alerted": True} for transition_id in sorted(alerted)],
            )
    return [
        StoredChange(
            transition_id,
            observation.endpoint_id,
            Health(str(row["previous"])),
            Health(str(row["current"])),
            now,
            observation.result,
            transition_id in alerted,
        )
        for transition_id, row, observation in zip(
            transition_ids, transitions, tipped_by, strict=True
        )
    ]


async def forget_disabled(session: AsyncSession, now: datetime) -> list[int]:
    """Endpoints whose probing was switched off go back to ``unknown`` (with a transition),
    so the board and uptime do not show a state nobody checks any more."""
    await lock_health(session)
    rows = (
        await session.execute(
            select(EndpointHealthRecord.endpoint_id, EndpointHealthRecord.state)
            .join(Endpoint, Endpoint.id == EndpointHealthRecord.endpoint_id)
            .where(Endpoint.probe_enabled.is_(False), EndpointHealthRecord.state != "unknown")
            .order_by(EndpointHealthRecord.endpoint_id)
        )
    ).all()
    for endpoint_id, state in rows:
        session.add(
            EndpointHealthTransition(
                endpoint_id=endpoint_id,
                at=now,
                previous=state,
                current="unknown",
                detail="probing switched off",
                cause="disabled",
                alerted=False,
            )
        )
    if rows:
        await session.execute(
            update(EndpointHealthRecord),
            [
                {
                    "endpoint_id": endpoint_id,
                    "state": "unknown",
                    "since": now,
                    "failures": 0,
                    "successes": 0,
                }
                for endpoint_id, _state in rows
            ],
        )
    return [endpoint_id for endpoint_id, _state in rows]


def province_of(path: str) -> int:
    """The id of the second-level unit on a materialised path ("/1/5/42/" -> 5)."""
    parts = [part for part in path.split("/") if part]
    return int(parts[1] if len(parts) > 1 else parts[0])


async def endpoint_counts(session: AsyncSession) -> dict[tuple[str, str, str], int]:
    """Monitored endpoints counted by (province code, endpoint kind, state)."""
    state = func.coalesce(EndpointHealthRecord.state, "unknown")
    rows = (
        await session.execute(
            select(Unit.path, Endpoint.kind, state, func.count())
            .select_from(Endpoint)
            .join(Room, Room.id == Endpoint.room_id)
            .join(Unit, Unit.id == Room.unit_id)
            .outerjoin(EndpointHealthRecord, EndpointHealthRecord.endpoint_id == Endpoint.id)
            .where(Endpoint.probe_enabled.is_(True))
            .group_by(Unit.path, Endpoint.kind, state)
        )
    ).all()
    provinces = {province_of(path) for path, _kind, _state, _count in rows}
    codes: dict[int, str] = {}
    ordered = sorted(provinces)
    for start in range(0, len(ordered), _CHUNK):
        for unit_id, code in await session.execute(
            select(Unit.id, Unit.code).where(Unit.id.in_(ordered[start : start + _CHUNK]))
        ):
            codes[unit_id] = code
    counts: Counter[tuple[str, str, str]] = Counter()
    for path, kind, endpoint_state, count in rows:
        province = codes.get(province_of(path), "?")
        counts[(province, kind, endpoint_state)] += int(count)
    return dict(counts)
