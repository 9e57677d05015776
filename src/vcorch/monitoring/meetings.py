"""What monitoring needs to know about meetings, declared here and answered by the meeting
side (``vcorch.orchestration.hot_endpoints``), so that monitoring reads no meeting table.

An endpoint is *hot* (probed at the hot interval) while a meeting it takes part in starts
within the hot lead or is running; a state change *alerts* when its room takes part in a
meeting within the alert horizon; the board shows each endpoint's next meeting and, while it
runs, the site's state and channel in it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.monitoring.targets import Target


@dataclass(frozen=True, slots=True)
class SiteInMeeting:
    """A room (and the endpoint to dial there, if named) taking part in a meeting."""

    meeting_id: int
    title: str
    start: datetime
    end: datetime
    room_id: int
    endpoint_id: int | None
    running: bool  # from a run being launched or live, not only the booking
    # Of a running site: its state in the run (pending, dialling, connected, failed,
    # fallback, disconnected) and how it takes part (room_system, browser, gateway,
    # dial_in; None until known).
    state: str | None = None
    channel: str | None = None


class HotEndpointSource(Protocol):
    async def sites_between(
        self,
        session: AsyncSession,
        start: datetime,
        end: datetime,
        *,
        rooms: Collection[int] | None = None,
    ) -> list[SiteInMeeting]:
        """Sites of video meetings overlapping ``[start, end)`` plus those of running
        meetings, read in ``session`` (the caller's transaction); ``rooms`` narrows to
        those rooms."""
        ...


def hot_endpoint_ids(sites: Sequence[SiteInMeeting], targets: Sequence[Target]) -> set[int]:
    """Endpoints named by ``sites``; a site without an endpoint makes its room's all hot."""
    hot: set[int] = set()
    rooms: set[int] = set()
    for site in sites:
        if site.endpoint_id is not None:
            hot.add(site.endpoint_id)
        else:
            rooms.add(site.room_id)
    if rooms:
        hot.update(target.endpoint_id for target in targets if target.room_id in rooms)
    return hot
