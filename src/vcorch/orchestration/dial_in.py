"""Dial-in numbers: each conference of a run that can take room systems calling in gets its
numeric ID and PIN (``Bridge.dial_in``) stored with it, once, and the meeting's people are
told (:class:`DialInNotices`).

A site that dials in is recognised by the supervisor (``reconcile.presence`` and
``reconcile.reconcile``: an untagged call from the address of the site's endpoint) and
counted with channel ``dial_in``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.mcu_adapter import BridgeError, BridgeRegistry, ConferenceRef, DialIn, NotSupported
from vcorch.orchestration.models import MeetingRun, RunConference

log = logging.getLogger(__name__)

# Looks at one conference's dial-in before giving up on it (each supervisor step tries
# once): a bridge that keeps failing the look must not cost a request every step.
DIAL_IN_LOOKS = 3


class DialInNotices(Protocol):
    """Tells a meeting's people how to dial in (an invitation update), in the transaction
    that stores the numbers."""

    async def dial_in_ready(
        self,
        session: AsyncSession,
        meeting_id: int,
        occurrence_key: datetime,
        dial_in: DialIn,
        now: datetime,
    ) -> None: ...


class DialInNumbers:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: BridgeRegistry,
        clock: Callable[[], datetime],
        notices: DialInNotices | None = None,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._clock = clock
        self._notices = notices
        self._looks: dict[int, int] = {}

    async def record(self, run_id: int) -> int:
        """Read and store the dial-in of the run's conferences that lack one; how many got
        one now.  Bridges without ``dial_in_id`` are never asked."""
        capable = [b.name for b in self._registry if b.capabilities.dial_in_id]
        if not capable:
            return 0
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        RunConference.id,
                        RunConference.bridge,
                        RunConference.conference_id,
                        RunConference.extra,
                        RunConference.role,
                    ).where(
                        RunConference.run_id == run_id,
                        RunConference.active.is_(True),
                        RunConference.dial_in_number.is_(None),
                        RunConference.bridge.in_(capable),
                    )
                )
            ).all()
        stored = 0
        for row_id, bridge_name, conference_id, extra, role in rows:
            if self._looks.get(row_id, 0) >= DIAL_IN_LOOKS:
                continue
            bridge = self._registry.get(bridge_name)
            if bridge is None:
                continue
            self._looks[row_id] = self._looks.get(row_id, 0) + 1
            ref = ConferenceRef(bridge_name, conference_id, dict(extra or {}))
            try:
                dial_in = await bridge.dial_in(ref)
            except NotSupported as err:
                self._looks[row_id] = DIAL_IN_LOOKS
                log.info("run %s: %s has no dial-in: %s", run_id, bridge_name, err.reason)
                continue
            except BridgeError as err:
                log.warning("run %s: dial-in of %s: %s", run_id, bridge_name, err.reason)
                continue
            now = self._clock()
            async with self._sessions.begin() as session:
                done = cast(
                    CursorResult[Any],
                    await session.execute(
                        update(RunConference)
                        .where(RunConference.id == row_id, RunConference.dial_in_number.is_(None))
                        .values(
                            dial_in_number=dial_in.number[:32],
                            dial_in_pin=dial_in.pin[:32] if dial_in.pin else None,
                            dial_in_uri=dial_in.uri[:255] if dial_in.uri else None,
                        )
                    ),
                )
                # Another process may have stored it first: only the one that did tells.
                if done.rowcount == 1 and role == "host" and self._notices is not None:
                    run = await session.get(MeetingRun, run_id)
                    if run is not None:
                        await self._notices.dial_in_ready(
                            session, run.meeting_id, run.occurrence_key, dial_in, now
                        )
            self._looks.pop(row_id, None)
            stored += 1
        return stored
