"""The demo in the running service: it books the demo meeting, and writes the browser link
of a demo meeting's site that falls back in the log, so that whoever runs the demo can open
it.

The link is a credential (whoever holds it joins the meeting as that site until the meeting
ends), so it is logged only for the demo's meetings (``external_ref`` ``vcorch-demo``),
never for a real one: those reach the site's operators by mail, and the live view shows them
to those who may see the meeting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor
from vcorch.booking import BookingService, Meeting
from vcorch.demo.meeting import DEMO_REF, book_demo_meeting

__all__ = ["Demo", "demo_meeting_ids"]

log = logging.getLogger("vcorch.demo")


class FallbackLinks(Protocol):
    def url_for(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str: ...

    def gateway_serves(self, bridge: str) -> bool: ...


class Demo:
    """Books the demo meeting; makes the fallback links, telling the log once per site of a
    demo meeting."""

    def __init__(
        self,
        links: FallbackLinks,
        demo_meetings: Iterable[int],
        *,
        booking: BookingService,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
    ) -> None:
        self._links = links
        self.demo_meetings = set(demo_meetings)
        self._told: set[int] = set()
        self._booking = booking
        self._sessions = sessions
        self._clock = clock

    async def book_next(self, actor: Actor) -> int:
        """The demo meeting ahead (booked when there is none far enough ahead)."""
        meeting_id = await book_demo_meeting(self._booking, self._sessions, actor, self._clock())
        self.demo_meetings.add(meeting_id)
        return meeting_id

    def url_for(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str:
        url = self._links.url_for(run_site_id, meeting_id, expires_at)
        if meeting_id in self.demo_meetings and run_site_id not in self._told:
            self._told.add(run_site_id)
            log.warning(
                "demo meeting %s: site %s falls back; open its browser link (valid until %s): %s",
                meeting_id,
                run_site_id,
                expires_at.isoformat(),
                url,
            )
        return url

    def gateway_serves(self, bridge: str) -> bool:
        # The links it wraps know the gateways (orchestration's fallback asks them).
        return self._links.gateway_serves(bridge)


async def demo_meeting_ids(sessions: async_sessionmaker[AsyncSession]) -> set[int]:
    async with sessions() as session:
        return set(
            (
                await session.scalars(select(Meeting.id).where(Meeting.external_ref == DEMO_REF))
            ).all()
        )
