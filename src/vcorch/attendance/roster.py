"""The roster: the people a meeting expects, kept by the organising unit."""

from __future__ import annotations

from sqlalchemy import select

from vcorch.access import Actor, Principal, audit
from vcorch.attendance import schemas
from vcorch.attendance.base import AttendanceBase
from vcorch.attendance.models import RosterEntry
from vcorch.attendance.views import person_key, roster_view
from vcorch.booking import MeetingSite
from vcorch.errors import FieldProblem, InvalidInput, NotFound, PermissionDenied


class RosterPart(AttendanceBase):
    # -- roster ----------------------------------------------------------------------------

    async def roster(self, who: Principal, meeting_id: int) -> list[RosterEntry]:
        async with self._sessions() as session:
            meeting = await self._meeting(session, who, meeting_id)
            return await self._roster(session, meeting.id)

    async def add_to_roster(
        self, actor: Actor, meeting_id: int, data: schemas.RosterCreate
    ) -> list[RosterEntry]:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            if not await self._organises(session, actor.principal, meeting):
                raise PermissionDenied("only the organising unit's subtree keeps the roster")
            site_rooms = set(
                (
                    await session.execute(
                        select(MeetingSite.room_id).where(MeetingSite.meeting_id == meeting.id)
                    )
                ).scalars()
            )
            problems = [
                FieldProblem(f"people.{index}.room_id", "not a site of this meeting")
                for index, person in enumerate(data.people)
                if person.room_id is not None and person.room_id not in site_rooms
            ]
            if problems:
                raise InvalidInput("some rooms are not sites of this meeting", problems=problems)
            known = {row.person_key for row in await self._roster(session, meeting.id)}
            path = await self._organizer_path(session, meeting)
            for person in data.people:
                key = person_key(person.full_name, person.unit_name)
                if key in known:
                    continue  # the same person twice: kept once
                known.add(key)
                row = RosterEntry(
                    meeting_id=meeting.id,
                    full_name=person.full_name,
                    unit_name=person.unit_name,
                    position=person.position,
                    room_id=person.room_id,
                    person_key=key,
                    created_by=actor.principal.label,
                    created_at=self._clock(),
                )
                session.add(row)
                await session.flush()
                audit.record(
                    session,
                    actor,
                    at=self._clock(),
                    action="create",
                    entity="roster_entry",
                    entity_id=row.id,
                    unit_path=path,
                    after=roster_view(row),
                )
            return await self._roster(session, meeting.id)

    async def remove_from_roster(self, actor: Actor, meeting_id: int, person_id: int) -> None:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            if not await self._organises(session, actor.principal, meeting):
                raise PermissionDenied("only the organising unit's subtree keeps the roster")
            row = await session.get(RosterEntry, person_id)
            if row is None or row.meeting_id != meeting.id:
                raise NotFound("no such person on this roster")
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="delete",
                entity="roster_entry",
                entity_id=row.id,
                unit_path=await self._organizer_path(session, meeting),
                before=roster_view(row),
            )
            await session.delete(row)
