"""Check-ins by an operator at a site, matched to the roster; one per person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Actor, Principal, audit
from vcorch.attendance import schemas
from vcorch.attendance.base import (
    AttendanceBase,
    not_cancelled,
)
from vcorch.attendance.loader import OccurrenceRef
from vcorch.attendance.models import CheckIn, RosterEntry
from vcorch.attendance.views import checkin_view, parse_key, person_key
from vcorch.booking import Meeting
from vcorch.errors import FieldProblem, InvalidInput, NotFound, PermissionDenied


class CheckInsPart(AttendanceBase):
    # -- check-ins -------------------------------------------------------------------------

    async def check_in(
        self, actor: Actor, meeting_id: int, data: schemas.CheckInCreate
    ) -> tuple[CheckIn, bool]:
        """An operator checks a person in at a site; returns the check-in and whether it
        is new (a person checked in already keeps the first check-in)."""
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            ref = await self._occurrence(
                session, meeting, parse_key(data.occurrence), prefer_run=False
            )
            not_cancelled(ref)
            place = await self._site(session, actor, meeting, ref, data.room_id)
            full_name, unit_name, position = data.full_name, data.unit_name, data.position
            roster_row = None
            if data.roster_id is not None:
                roster_row = await session.get(RosterEntry, data.roster_id)
                if roster_row is None or roster_row.meeting_id != meeting.id:
                    raise InvalidInput(
                        "no such person on this meeting's roster",
                        problems=[FieldProblem("roster_id", "not on this meeting's roster")],
                    )
                full_name = full_name or roster_row.full_name
                unit_name = unit_name or roster_row.unit_name
                position = position or roster_row.position
            if not full_name:
                raise InvalidInput(
                    "whom to check in?",
                    problems=[FieldProblem("full_name", "required unless roster_id is given")],
                )
            return await self._insert_checkin(
                session,
                actor,
                meeting,
                ref,
                place.room_id,
                place.unit_path,
                full_name=full_name,
                unit_name=unit_name,
                position=position,
                method="operator",
                roster_row=roster_row,
            )

    async def _insert_checkin(
        self,
        session: AsyncSession,
        actor: Actor,
        meeting: Meeting,
        ref: OccurrenceRef,
        room_id: int | None,
        unit_path: str,
        *,
        full_name: str,
        unit_name: str | None,
        position: str | None,
        method: str,
        roster_row: RosterEntry | None = None,
    ) -> tuple[CheckIn, bool]:
        key = person_key(full_name, unit_name)
        existing = await self._existing_checkin(session, meeting.id, ref.key, key)
        if existing is not None:
            return existing, False
        if roster_row is None:
            roster_row = await self._roster_match(session, meeting.id, full_name, key)
        row = CheckIn(
            meeting_id=meeting.id,
            occurrence_key=ref.key,
            room_id=room_id,
            roster_id=roster_row.id if roster_row is not None else None,
            full_name=full_name,
            unit_name=unit_name,
            position=position,
            person_key=key,
            method=method,
            checked_in_at=self._clock(),
            recorded_by=actor.principal.label[:128],
        )
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            # The same person checked in at the same moment elsewhere: theirs stands.
            existing = await self._existing_checkin(session, meeting.id, ref.key, key)
            if existing is None:
                raise
            return existing, False
        audit.record(
            session,
            actor,
            at=self._clock(),
            action="create",
            entity="checkin",
            entity_id=row.id,
            unit_path=unit_path,
            after=checkin_view(row),
        )
        return row, True

    @staticmethod
    async def _existing_checkin(
        session: AsyncSession, meeting_id: int, key: datetime, person: str
    ) -> CheckIn | None:
        return (
            await session.execute(
                select(CheckIn).where(
                    CheckIn.meeting_id == meeting_id,
                    CheckIn.occurrence_key == key,
                    CheckIn.person_key == person,
                )
            )
        ).scalar_one_or_none()

    async def _roster_match(
        self, session: AsyncSession, meeting_id: int, full_name: str, key: str
    ) -> RosterEntry | None:
        """The roster entry of this person: same name and unit, else the only one with the
        same name (people often leave the unit out)."""
        roster = await self._roster(session, meeting_id)
        exact = [row for row in roster if row.person_key == key]
        if exact:
            return exact[0]
        name = key.split("|", 1)[0]
        same_name = [row for row in roster if row.person_key.split("|", 1)[0] == name]
        return same_name[0] if len(same_name) == 1 else None

    async def list_checkins(
        self, who: Principal, meeting_id: int, occurrence: str | None
    ) -> list[CheckIn]:
        async with self._sessions() as session:
            meeting = await self._meeting(session, who, meeting_id)
            ref = await self._occurrence(session, meeting, parse_key(occurrence), prefer_run=True)
            return list(
                (
                    await session.execute(
                        select(CheckIn)
                        .where(CheckIn.meeting_id == meeting.id, CheckIn.occurrence_key == ref.key)
                        .order_by(CheckIn.checked_in_at, CheckIn.id)
                    )
                ).scalars()
            )

    async def remove_checkin(self, actor: Actor, meeting_id: int, checkin_id: int) -> None:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            row = await session.get(CheckIn, checkin_id)
            if row is None or row.meeting_id != meeting.id:
                raise NotFound("no such check-in")
            ref = await self._occurrence(session, meeting, row.occurrence_key, prefer_run=False)
            if row.room_id is not None:
                path = (await self._site(session, actor, meeting, ref, row.room_id)).unit_path
            elif await self._organises(session, actor.principal, meeting):
                path = await self._organizer_path(session, meeting)
            else:
                raise PermissionDenied("only the organising unit may remove this check-in")
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="delete",
                entity="checkin",
                entity_id=row.id,
                unit_path=path,
                before=checkin_view(row),
            )
            await session.delete(row)
