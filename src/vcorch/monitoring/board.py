"""What the board shows of meetings: each endpoint's next meeting within a day and, while it
runs, the site's state and channel in it.

The meetings come from the meeting side (:class:`~vcorch.monitoring.meetings.HotEndpointSource`);
scope follows the endpoints: a user sees the endpoints of their subtree, and a meeting with
a site there is one they may see (its live view included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from vcorch.monitoring.meetings import SiteInMeeting

BOARD_HORIZON = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class EndpointPlace:
    endpoint_id: int
    room_id: int


@dataclass(frozen=True, slots=True)
class EndpointMeeting:
    """An endpoint's next meeting (or the one it is in)."""

    endpoint_id: int
    site: SiteInMeeting


def _rank(site: SiteInMeeting) -> tuple[int, datetime, int]:
    # A running meeting first (whatever its booked times), then the earliest start.
    return (0 if site.running else 1, site.start, site.meeting_id)


def next_meetings(
    endpoints: Sequence[EndpointPlace], sites: Sequence[SiteInMeeting], now: datetime
) -> list[EndpointMeeting]:
    """For each endpoint with one, its running meeting or else the next one not yet over.

    A site naming an endpoint counts for that endpoint; a site without one for every endpoint
    of its room (whichever is dialled).
    """
    by_endpoint: dict[int, list[SiteInMeeting]] = {}
    by_room: dict[int, list[SiteInMeeting]] = {}
    for site in sites:
        if not site.running and site.end <= now:
            continue
        if site.endpoint_id is not None:
            by_endpoint.setdefault(site.endpoint_id, []).append(site)
        else:
            by_room.setdefault(site.room_id, []).append(site)
    found = []
    for place in endpoints:
        candidates = by_endpoint.get(place.endpoint_id, []) + by_room.get(place.room_id, [])
        if candidates:
            found.append(EndpointMeeting(place.endpoint_id, min(candidates, key=_rank)))
    return found
