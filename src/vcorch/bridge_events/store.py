"""Storing what bridges report (joins and leaves), once each, before they are acknowledged.

Every call of :meth:`EventStore.store` returns only once its events are committed, so a hook
answers 200 only for what is stored.  Calls that arrive while a write is under way are written
together in the next transaction (group commit): one ``INSERT … ON CONFLICT DO NOTHING
RETURNING`` and one commit for all of them, instead of a look-up, an insert and a commit per
request.  Under load the batches grow by themselves; alone, a call is written at once.
``RETURNING`` says which reports were new, so replays are still counted as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vcorch.bridge_events.models import BridgeEventRecord
from vcorch.db import UtcDateTime, database_unavailable
from vcorch.mcu_adapter import BridgeEvent

log = logging.getLogger(__name__)

# Rows per INSERT statement; a batch larger than this is written as several statements in
# the same transaction.
MAX_ROWS_PER_STATEMENT = 1000
# Rows taken into one transaction; later calls wait for the next one.
MAX_ROWS_PER_BATCH = 5000


def _text(value: str | None, limit: int) -> str | None:
    # PostgreSQL text cannot hold NUL; a bridge's odd byte must not sink the batch.
    return value.replace("\x00", "")[:limit] if value else None


def _row(bridge: str, event: BridgeEvent, received_at: datetime) -> dict[str, Any]:
    if event.at.tzinfo is None or received_at.tzinfo is None:
        raise ValueError("naive datetime in a bridge event")
    return {
        "bridge": bridge,
        "event_id": event.event_id.replace("\x00", "")[:255],
        "kind": event.kind,
        "conference_id": event.conference_id.replace("\x00", "")[:255],
        "participant_id": event.participant_id.replace("\x00", "")[:255],
        "at": event.at,
        "site_id": _text(event.site_id, 64),
        "display_name": _text(event.display_name, 255),
        "address": _text(event.address, 500),
        "reason": _text(event.reason, 255),
        "received_at": received_at,
    }


def _future() -> asyncio.Future[int]:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    # Read the outcome even when the caller went away, so that no error goes unretrieved.
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
    return future


@dataclass
class _Call:
    bridge: str
    events: Sequence[BridgeEvent]
    done: asyncio.Future[int] = field(default_factory=_future)


class EventStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._waiting: list[_Call] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, bridge: str, events: Sequence[BridgeEvent]) -> int:
        """Store the events; returns how many were new (replays are ignored).  Returns once
        they are committed (with other callers' events, in one transaction)."""
        if not events:
            return 0
        call = _Call(bridge, events)
        self._waiting.append(call)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="bridge-event-writer")
        # Shielded: a caller that goes away (client disconnected) does not cancel the write
        # other callers share.
        return await asyncio.shield(call.done)

    async def emit(self, bridge: str, events: Sequence[BridgeEvent]) -> None:
        """The in-process sink a bridge (the simulated one, the built-in WebRTC one) pushes to."""
        await self.store(bridge, events)

    async def close(self) -> None:
        """Wait for the writes under way (at shutdown, before the engine goes)."""
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write_all(self) -> None:
        while self._waiting:
            batch: list[_Call] = []
            rows = 0
            while self._waiting and (
                not batch or rows + len(self._waiting[0].events) <= MAX_ROWS_PER_BATCH
            ):
                call = self._waiting.pop(0)
                batch.append(call)
                rows += len(call.events)
            try:
                counts = await self._write(batch)
            except Exception as err:
                if len(batch) == 1 or database_unavailable(err):
                    # Nothing was written; each caller answers 503 and its bridge sends again.
                    for call in batch:
                        _fail(call, err)
                    continue
                # One caller's rows broke the batch: write each alone, so only it fails.
                log.warning("a batch of bridge events failed (%s); writing them one by one", err)
                for call in batch:
                    try:
                        [count] = await self._write([call])
                    except Exception as single:
                        _fail(call, single)
                    else:
                        _succeed(call, count)
                continue
            for call, count in zip(batch, counts, strict=True):
                _succeed(call, count)

    async def _write(self, batch: list[_Call]) -> list[int]:
        """One transaction for the batch; how many of each call's events were new."""
        now = self._clock()
        owner: dict[tuple[str, str], int] = {}
        rows: list[dict[str, Any]] = []
        for index, call in enumerate(batch):
            for event in call.events:
                row = _row(call.bridge, event, now)
                key = (row["bridge"], row["event_id"])
                if key not in owner:
                    # A report twice in the batch (in one call or two): the first one owns it.
                    owner[key] = index
                    rows.append(row)
        engine = self._sessions.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("EventStore needs a sessionmaker bound to an engine")
        new: list[tuple[str, str]] = []
        async with engine.begin() as connection:
            postgres = connection.dialect.name == "postgresql"
            for start in range(0, len(rows), MAX_ROWS_PER_STATEMENT):
                part = rows[start : start + MAX_ROWS_PER_STATEMENT]
                if postgres:
                    # One array per column: the statement text (and its prepared plan) is the
                    # same whatever the batch size, and no per-row bind parameters are built.
                    result = await connection.execute(
                        _UNNEST_INSERT, {name: [row[name] for row in part] for name in _COLUMNS}
                    )
                else:
                    result = await connection.execute(_insert(), part)
                new.extend((bridge, event_id) for bridge, event_id in result.all())
        counts = [0] * len(batch)
        for key in new:
            counts[owner[key]] += 1
        return counts


def _insert() -> Insert:
    # Another process may store the same report at the same moment: let it win quietly.
    return (
        sqlite.insert(BridgeEventRecord)
        .on_conflict_do_nothing(index_elements=["bridge", "event_id"])
        .returning(BridgeEventRecord.bridge, BridgeEventRecord.event_id)
    )


def _array_type(column: ColumnElement[Any]) -> str:
    return "TIMESTAMPTZ[]" if isinstance(column.type, UtcDateTime) else "VARCHAR[]"


_TABLE_COLUMNS = [c for c in BridgeEventRecord.__table__.columns if c.name != "id"]
_COLUMNS = [c.name for c in _TABLE_COLUMNS]
# PostgreSQL: the same ON CONFLICT DO NOTHING, rows given as one array per column.  The
# names come from the model; every value is bound.
_UNNEST_INSERT = text(
    "INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608
    " ON CONFLICT (bridge, event_id) DO NOTHING RETURNING bridge, event_id".format(
        table=BridgeEventRecord.__tablename__,
        columns=", ".join(_COLUMNS),
        arrays=", ".join(f"CAST(:{c.name} AS {_array_type(c)})" for c in _TABLE_COLUMNS),
    )
)


def _succeed(call: _Call, count: int) -> None:
    if not call.done.done():
        call.done.set_result(count)


def _fail(call: _Call, err: BaseException) -> None:
    if not call.done.done():
        call.done.set_exception(err)
