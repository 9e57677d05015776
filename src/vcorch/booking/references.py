"""What meetings still use a unit, room or endpoint: the rooms service asks before deleting."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.booking.models import Meeting, MeetingSite
from vcorch.errors import Reference


async def references(session: AsyncSession, kind: str, ident: int) -> list[Reference]:
    """What meetings still use a room or endpoint (for refusing its deletion)."""
    if kind == "room":
        condition = or_(MeetingSite.room_id == ident)
        hosted = select(Meeting.id, Meeting.title).where(Meeting.host_room_id == ident).limit(20)
        found = [Reference("meeting", i, t) for i, t in (await session.execute(hosted))]
    elif kind == "endpoint":
        condition = MeetingSite.endpoint_id == ident
        found = []
    elif kind == "unit":
        rows = await session.execute(
            select(Meeting.id, Meeting.title).where(Meeting.organizer_unit_id == ident).limit(20)
        )
        return [Reference("meeting", i, t) for i, t in rows]
    else:
        return []
    rows = await session.execute(
        select(Meeting.id, Meeting.title)
        .join(MeetingSite, MeetingSite.meeting_id == Meeting.id)
        .where(condition)
        .distinct()
        .limit(20)
    )
    found += [Reference("meeting", i, t) for i, t in rows]
    return found
