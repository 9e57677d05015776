"""The meeting side's answer to monitoring: which rooms and endpoints take part in video
meetings in a window (:class:`vcorch.monitoring.meetings.HotEndpointSource`), and for a
running meeting each site's live state and channel (:class:`SiteInRun`, for the board).

An occurrence of a held meeting (scheduled or live) in mode online or hybrid counts;
in-person meetings dial nobody.  Runs being launched or live count whatever their booked
times say (a meeting may overrun).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.booking import ACCEPTED, Meeting, MeetingOccurrence, MeetingOverride, MeetingSite
from vcorch.monitoring import SiteInMeeting
from vcorch.orchestration.models import MeetingRun, RunSite
from vcorch.orchestration.policy import ACTIVE_RUN

HELD = ("scheduled", "live")
VIDEO_MODES = ("online", "hybrid")
# No occurrence lasts longer than this (the booking rules refuse it): the lower bound lets
# the window query use the start index.
MAX_OCCURRENCE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class SiteInRun(SiteInMeeting):
    """A site of a run being launched or live: which run; its ``state`` and ``channel``
    (None until it first connects; :data:`vcorch.orchestration.CHANNEL_LABELS` names it)
    are those of its ``RunSite``."""

    run_id: int = 0


class MeetingSites:
    """Sites of video meetings and running meetings, for monitoring's hot set and alerts."""

    async def sites_between(
        self,
        session: AsyncSession,
        start: datetime,
        end: datetime,
        *,
        rooms: Collection[int] | None = None,
    ) -> list[SiteInMeeting]:
        """Sites of video meetings overlapping ``[start, end)`` plus those of active runs.

        ``rooms`` narrows to those rooms.  Occurrences come from the stored occurrence table,
        which holds every series at least two years ahead, so the near future is always there.
        """
        wanted = set(rooms) if rooms is not None else None
        if wanted is not None and not wanted:
            return []
        found: list[SiteInMeeting] = []
        occurrences = (
            await session.execute(
                select(
                    MeetingOccurrence.meeting_id,
                    MeetingOccurrence.occurrence_key,
                    MeetingOccurrence.start_at,
                    MeetingOccurrence.end_at,
                    MeetingOccurrence.own_sites,
                    Meeting.title,
                )
                .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
                .where(
                    Meeting.status.in_(HELD),
                    Meeting.mode.in_(VIDEO_MODES),
                    MeetingOccurrence.cancelled.is_(False),
                    MeetingOccurrence.start_at < end,
                    MeetingOccurrence.start_at > start - MAX_OCCURRENCE,
                    MeetingOccurrence.end_at > start,
                )
                .order_by(MeetingOccurrence.start_at, MeetingOccurrence.meeting_id)
            )
        ).all()
        if occurrences:
            meeting_ids = sorted({row.meeting_id for row in occurrences})
            shared: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
            for chunk in _chunks(meeting_ids):
                query = select(MeetingSite.meeting_id, MeetingSite.room_id, MeetingSite.endpoint_id)
                query = query.where(
                    MeetingSite.meeting_id.in_(chunk), MeetingSite.approval == ACCEPTED
                )
                if wanted is not None:
                    query = query.where(MeetingSite.room_id.in_(sorted(wanted)))
                for meeting_id, room_id, endpoint_id in await session.execute(query):
                    shared[meeting_id].append((room_id, endpoint_id))
            own: dict[tuple[int, datetime], list[tuple[int, int | None]]] = {}
            with_own = sorted({row.meeting_id for row in occurrences if row.own_sites})
            for chunk in _chunks(with_own):
                overrides = await session.execute(
                    select(MeetingOverride).where(
                        MeetingOverride.meeting_id.in_(chunk), MeetingOverride.sites.is_not(None)
                    )
                )
                for override in overrides.scalars():
                    own[(override.meeting_id, override.occurrence_key)] = [
                        (int(site["room_id"]), site.get("endpoint_id"))
                        for site in override.sites or []
                    ]
            for row in occurrences:
                sites = (
                    own.get((row.meeting_id, row.occurrence_key), [])
                    if row.own_sites
                    else shared.get(row.meeting_id, [])
                )
                for room_id, endpoint_id in sites:
                    if wanted is None or room_id in wanted:
                        found.append(
                            SiteInMeeting(
                                row.meeting_id,
                                row.title,
                                row.start_at,
                                row.end_at,
                                room_id,
                                endpoint_id,
                                running=False,
                            )
                        )
        runs = (
            select(
                MeetingRun.meeting_id,
                MeetingRun.start_at,
                MeetingRun.end_at,
                Meeting.title,
                RunSite.room_id,
                RunSite.endpoint_id,
                RunSite.run_id,
                RunSite.state,
                RunSite.channel,
            )
            .join(Meeting, Meeting.id == MeetingRun.meeting_id)
            .join(RunSite, RunSite.run_id == MeetingRun.id)
            .where(MeetingRun.status.in_(ACTIVE_RUN))
            .order_by(MeetingRun.start_at, MeetingRun.id)
        )
        if wanted is not None:
            runs = runs.where(RunSite.room_id.in_(sorted(wanted)))
        for run in await session.execute(runs):
            found.append(
                SiteInRun(
                    run.meeting_id,
                    run.title,
                    run.start_at,
                    run.end_at,
                    run.room_id,
                    run.endpoint_id,
                    running=True,
                    run_id=run.run_id,
                    state=run.state,
                    channel=run.channel,
                )
            )
        return found


def _chunks(values: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [values[start : start + size] for start in range(0, len(values), size)]
