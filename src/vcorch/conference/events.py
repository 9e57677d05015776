"""Storing what bridges report (joins and leaves), once each, before they are acknowledged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.conference.models import BridgeEventRecord
from vcorch.mcu_adapter.base import BridgeEvent


def _row(bridge: str, event: BridgeEvent, received_at: datetime) -> dict[str, Any]:
    return {
        "bridge": bridge,
        "event_id": event.event_id[:255],
        "kind": event.kind,
        "conference_id": event.conference_id[:255],
        "participant_id": event.participant_id[:255],
        "at": event.at,
        "site_id": event.site_id[:64] if event.site_id else None,
        "display_name": event.display_name[:255] if event.display_name else None,
        "address": event.address[:500] if event.address else None,
        "reason": event.reason[:255] if event.reason else None,
        "received_at": received_at,
    }


class EventStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def store(self, bridge: str, events: Sequence[BridgeEvent]) -> int:
        """Store the events in one transaction; returns how many were new (replays are ignored)."""
        if not events:
            return 0
        now = self._clock()
        rows = list({(e.event_id): _row(bridge, e, now) for e in events}.values())
        async with self._sessions.begin() as session:
            known = set(
                (
                    await session.execute(
                        select(BridgeEventRecord.event_id).where(
                            BridgeEventRecord.bridge == bridge,
                            BridgeEventRecord.event_id.in_([row["event_id"] for row in rows]),
                        )
                    )
                ).scalars()
            )
            new = [row for row in rows if row["event_id"] not in known]
            if not new:
                return 0
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            # Another process may store the same report at the same moment: let it win quietly.
            statement = insert(BridgeEventRecord).on_conflict_do_nothing(
                index_elements=["bridge", "event_id"]
            )
            await session.execute(statement, new)
            return len(new)

    async def emit(self, bridge: str, events: Sequence[BridgeEvent]) -> None:
        """The in-process sink a bridge (the simulated one) pushes to."""
        await self.store(bridge, events)
