"""Keeping the hook bodies a bridge's adapter could not read, so that none is lost."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.bridge_events.models import RejectedHookBody

log = logging.getLogger(__name__)

# Enough for any CDR batch or event seen in practice; what is beyond is counted, not kept.
MAX_REJECTED_BODY_BYTES = 256 * 1024


class RejectedBodies:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def keep(self, bridge: str, reason: str, content_type: str, body: bytes) -> int:
        """Store the body (its first MAX_REJECTED_BODY_BYTES); returns the record's id once
        it is committed."""
        reason = reason.replace("\x00", "")[:500]
        record = RejectedHookBody(
            bridge=bridge,
            received_at=self._clock(),
            reason=reason,
            content_type=content_type.replace("\x00", "")[:255],
            body=body[:MAX_REJECTED_BODY_BYTES],
            body_size=len(body),
        )
        async with self._sessions() as session:
            session.add(record)
            await session.commit()
            kept = record.id
        # Never the body: it may hold names and addresses, and it is in the table.
        log.warning(
            "bridge %s pushed a body its adapter cannot read (%r); kept as rejected #%d",
            bridge,
            reason[:200],
            kept,
        )
        return kept
