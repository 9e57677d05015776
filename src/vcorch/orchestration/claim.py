"""Claiming an occurrence: its run (unique per occurrence) and its sites, in one transaction.

Two launchers of the same occurrence end up with one run: the loser's insert hits the
unique key and its second round finds the winner's run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, audit
from vcorch.booking import (
    ACCEPTED,
    Meeting,
    MeetingOccurrence,
    MeetingOverride,
    MeetingSite,
    occurrence_key_text,
)
from vcorch.errors import Conflict, NotFound
from vcorch.orchestration.models import MeetingRun, RunSite
from vcorch.orchestration.policy import ACTIVE_RUN
from vcorch.rooms import Endpoint, Room, Unit

# How far before its start an occurrence may be started by hand.
EARLY_START = timedelta(hours=1)


class Claims:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def claim(
        self,
        meeting_id: int,
        occurrence_key: datetime | None,
        actor: Actor,
        *,
        late: bool = False,
    ) -> tuple[int, bool]:
        """The run of this occurrence, created if needed; (run id, created now).

        ``occurrence_key`` ``None`` picks the occurrence under way, or the next one starting
        within the hour.  Raises :class:`Conflict` for an occurrence already over.
        """
        now = self._clock()
        for _ in range(2):
            try:
                async with self._sessions.begin() as session:
                    return await self._claim(session, meeting_id, occurrence_key, actor, now, late)
            except IntegrityError:
                # Another process claimed it at the same moment: the second round finds it.
                continue
        raise Conflict("the occurrence is being launched by another process")

    async def _claim(
        self,
        session: AsyncSession,
        meeting_id: int,
        occurrence_key: datetime | None,
        actor: Actor,
        now: datetime,
        late: bool,
    ) -> tuple[int, bool]:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            raise NotFound("no such meeting")
        occurrence = await self._occurrence(session, meeting, occurrence_key, now)
        existing = await session.scalar(
            select(MeetingRun).where(
                MeetingRun.meeting_id == meeting.id,
                MeetingRun.occurrence_key == occurrence.occurrence_key,
            )
        )
        if existing is not None:
            if existing.status in ACTIVE_RUN:
                return existing.id, False
            raise Conflict(f"this occurrence is already {existing.status}")
        if meeting.status not in ("scheduled",):
            raise Conflict(f"a meeting that is {meeting.status} cannot be started")
        if occurrence.end_at <= now:
            raise Conflict("this occurrence is already over")
        run = MeetingRun(
            meeting_id=meeting.id,
            occurrence_key=occurrence.occurrence_key,
            start_at=occurrence.start_at,
            end_at=occurrence.end_at,
            status="launching",
            launched_at=now,
            launched_by=actor.principal.label,
            created_at=now,
        )
        session.add(run)
        await session.flush()
        sites = await self._with_host(
            session, meeting, await self._sites_of(session, meeting, occurrence)
        )
        unit_of = dict(
            (
                await session.execute(
                    select(Room.id, Room.unit_id).where(Room.id.in_([s[0] for s in sites]))
                )
            ).all()
        )
        session.add_all(
            RunSite(
                run_id=run.id,
                meeting_site_id=meeting_site_id,
                room_id=room_id,
                endpoint_id=endpoint_id,
                unit_id=unit_of[room_id],
                state="pending",
                since=now,
                attempts=0,
            )
            for room_id, endpoint_id, meeting_site_id in sites
            if room_id in unit_of
        )
        organizer = await session.get(Unit, meeting.organizer_unit_id)
        audit.record(
            session,
            actor,
            at=now,
            action="meeting.launch_late" if late else "meeting.launch",
            entity="meeting",
            entity_id=meeting.id,
            unit_path=organizer.path if organizer else "/",
            after={"run_id": run.id, "occurrence": occurrence_key_text(run.occurrence_key)},
        )
        return run.id, True

    async def _occurrence(
        self,
        session: AsyncSession,
        meeting: Meeting,
        key: datetime | None,
        now: datetime,
    ) -> MeetingOccurrence:
        query = select(MeetingOccurrence).where(
            MeetingOccurrence.meeting_id == meeting.id,
            MeetingOccurrence.cancelled.is_(False),
        )
        if key is not None:
            found = await session.scalar(query.where(MeetingOccurrence.occurrence_key == key))
            if found is None:
                raise NotFound("no such occurrence of this meeting")
            return found
        found = await session.scalar(
            query.where(
                MeetingOccurrence.end_at > now,
                MeetingOccurrence.start_at <= now + EARLY_START,
            ).order_by(MeetingOccurrence.start_at)
        )
        if found is None:
            raise Conflict(
                "no occurrence of this meeting is under way or starts within the hour",
            )
        return found

    @staticmethod
    async def _with_host(
        session: AsyncSession, meeting: Meeting, sites: list[tuple[int, int | None, int | None]]
    ) -> list[tuple[int, int | None, int | None]]:
        """The sites with the host room first; added when the booking did not list it (the
        meeting is chaired from there, so it takes part), with its room's first endpoint."""
        host = meeting.host_room_id
        if host is None or meeting.mode == "in_person":
            return sites
        listed = [site for site in sites if site[0] == host]
        if not listed:
            endpoint = await session.scalar(
                select(Endpoint.id).where(Endpoint.room_id == host).order_by(Endpoint.id).limit(1)
            )
            listed = [(host, endpoint, None)]
        return listed + [site for site in sites if site[0] != host]

    @staticmethod
    async def _sites_of(
        session: AsyncSession, meeting: Meeting, occurrence: MeetingOccurrence
    ) -> list[tuple[int, int | None, int | None]]:
        """(room, endpoint, meeting site) of every site of this occurrence."""
        sites = list(
            (
                await session.execute(
                    select(MeetingSite).where(MeetingSite.meeting_id == meeting.id)
                )
            ).scalars()
        )
        # A site its room's unit has not accepted is not dialled, not even by an override.
        unheld = {site.room_id for site in sites if site.approval != ACCEPTED}
        sites = [site for site in sites if site.approval == ACCEPTED]
        by_room = {site.room_id: site.id for site in sites}
        if occurrence.own_sites:
            override = await session.scalar(
                select(MeetingOverride).where(
                    MeetingOverride.meeting_id == meeting.id,
                    MeetingOverride.occurrence_key == occurrence.occurrence_key,
                )
            )
            if override is not None and override.sites is not None:
                return [
                    (int(s["room_id"]), s.get("endpoint_id"), by_room.get(int(s["room_id"])))
                    for s in override.sites
                    if int(s["room_id"]) not in unheld
                ]
        return [(site.room_id, site.endpoint_id, site.id) for site in sites]
