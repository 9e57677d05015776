"""How a site takes part in a meeting, and how a browser's arrival and departure change it.

A site is dialled as a room system.  When it falls back, its people come by browser: to
the hosting bridge itself (``browser``), through a WebRTC-to-SIP gateway into the hosting
MCU's conference (``gateway``), or to the built-in bridge's conference.  ``dial_in`` is a
room system that called the meeting itself.  A site whose people are present by any of
these is ``connected``; its ``channel`` says how.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.orchestration.models import RunSite

Channel = Literal["room_system", "browser", "gateway", "dial_in"]
CHANNELS: tuple[Channel, ...] = ("room_system", "browser", "gateway", "dial_in")
BROWSER_CHANNELS: frozenset[str] = frozenset({"browser", "gateway"})

# Vietnamese labels (attendance exports, the board, the join page).
CHANNEL_LABELS: dict[str, str] = {
    "room_system": "Thiết bị phòng họp",
    "browser": "Trình duyệt (WebRTC)",
    "gateway": "Trình duyệt qua cổng SIP",
    "dial_in": "Gọi vào (thiết bị tự quay số)",
}


def browser_arrived(
    site: RunSite, channel: Channel, participant_id: str | None, now: datetime
) -> bool:
    """A browser of the site is in the meeting: the site is connected via ``channel``.

    Returns whether anything changed.  A room system that is connected stays the site's
    channel (the browser is a second way in, not a replacement)."""
    if site.state == "connected" and site.channel == "room_system":
        return False
    if site.state == "connected" and site.channel == channel:
        return False
    site.state = "connected"
    site.channel = channel
    site.since = now
    site.dial_deadline = None
    if participant_id is not None and channel == "gateway":
        site.participant_id = participant_id
    return True


def browser_left(site: RunSite, now: datetime, reason: str = "the browser left") -> bool:
    """The site's browser left: the site is back to waiting for its people (``fallback``)."""
    if site.state != "connected" or site.channel not in BROWSER_CHANNELS:
        return False
    site.state = "fallback"
    site.since = now
    site.last_error = reason[:500]
    return True


async def mark_browser(
    session: AsyncSession,
    run_site_id: int,
    channel: Channel,
    present: bool,
    now: datetime,
    *,
    participant_id: str | None = None,
) -> bool:
    """Write a browser's arrival or departure on one run site (in the caller's transaction)."""
    site = await session.get(RunSite, run_site_id)
    if site is None:
        return False
    if present:
        return browser_arrived(site, channel, participant_id, now)
    return browser_left(site, now)
