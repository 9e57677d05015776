"""What people on site record by hand: manual attendance entries and headcounts."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select

from vcorch.access import Actor, Principal, audit
from vcorch.attendance import schemas
from vcorch.attendance.base import (
    MAX_ENTRY,
    AttendanceBase,
    not_cancelled,
)
from vcorch.attendance.models import Headcount, ManualEntry
from vcorch.attendance.views import entry_view, parse_key
from vcorch.booking import occurrence_key_text
from vcorch.errors import FieldProblem, InvalidInput, NotFound


class RecordsPart(AttendanceBase):
    # -- manual entries --------------------------------------------------------------------

    async def add_entry(
        self, actor: Actor, meeting_id: int, data: schemas.EntryCreate
    ) -> ManualEntry:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            ref = await self._occurrence(
                session, meeting, parse_key(data.occurrence), prefer_run=False
            )
            not_cancelled(ref)
            place = await self._site(session, actor, meeting, ref, data.room_id)
            run = await self._run(session, meeting.id, ref.key)
            start = data.start or (run.start_at if run else ref.start)
            end = data.end or ((run.ended_at or run.end_at) if run else ref.end)
            problems = []
            if end <= start:
                problems.append(FieldProblem("end", "must be after start"))
            elif end - start > MAX_ENTRY:
                problems.append(FieldProblem("end", "an entry covers at most 24 hours"))
            if problems:
                raise InvalidInput("the entry's times are refused", problems=problems)
            row = ManualEntry(
                meeting_id=meeting.id,
                occurrence_key=ref.key,
                room_id=place.room_id,
                channel=data.channel,
                start_at=start.astimezone(UTC),
                end_at=end.astimezone(UTC),
                note=data.note,
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
                entity="attendance_entry",
                entity_id=row.id,
                unit_path=place.unit_path,
                after=entry_view(row),
            )
            return row

    async def list_entries(
        self, who: Principal, meeting_id: int, occurrence: str | None
    ) -> list[ManualEntry]:
        async with self._sessions() as session:
            meeting = await self._meeting(session, who, meeting_id)
            ref = await self._occurrence(session, meeting, parse_key(occurrence), prefer_run=True)
            return list(
                (
                    await session.execute(
                        select(ManualEntry)
                        .where(
                            ManualEntry.meeting_id == meeting.id,
                            ManualEntry.occurrence_key == ref.key,
                        )
                        .order_by(ManualEntry.id)
                    )
                ).scalars()
            )

    async def retract_entry(self, actor: Actor, meeting_id: int, entry_id: int) -> ManualEntry:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            row = await session.get(ManualEntry, entry_id)
            if row is None or row.meeting_id != meeting.id:
                raise NotFound("no such attendance entry")
            ref = await self._occurrence(session, meeting, row.occurrence_key, prefer_run=False)
            place = await self._site(session, actor, meeting, ref, row.room_id)
            if row.retracted_at is not None:
                return row
            before = entry_view(row)
            row.retracted_at = self._clock()
            row.retracted_by = actor.principal.label
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="retract",
                entity="attendance_entry",
                entity_id=row.id,
                unit_path=place.unit_path,
                before=before,
                after=entry_view(row),
            )
            return row

    # -- headcounts ------------------------------------------------------------------------

    async def set_headcount(
        self, actor: Actor, meeting_id: int, data: schemas.HeadcountSet
    ) -> Headcount:
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            ref = await self._occurrence(
                session, meeting, parse_key(data.occurrence), prefer_run=False
            )
            not_cancelled(ref)
            place = await self._site(session, actor, meeting, ref, data.room_id)
            row = (
                await session.execute(
                    select(Headcount).where(
                        Headcount.meeting_id == meeting.id,
                        Headcount.occurrence_key == ref.key,
                        Headcount.room_id == place.room_id,
                    )
                )
            ).scalar_one_or_none()
            before = None
            if row is None:
                row = Headcount(
                    meeting_id=meeting.id, occurrence_key=ref.key, room_id=place.room_id
                )
                session.add(row)
            else:
                before = {"count": row.count, "reported_by": row.reported_by}
            row.count = data.count
            row.reported_by = actor.principal.label
            row.reported_at = self._clock()
            await session.flush()
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="update" if before else "create",
                entity="headcount",
                entity_id=row.id,
                unit_path=place.unit_path,
                before=before,
                after={
                    "meeting_id": meeting.id,
                    "occurrence": occurrence_key_text(ref.key),
                    "room_id": place.room_id,
                    "count": row.count,
                },
            )
            return row
