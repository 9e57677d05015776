"""Sites in another unit's rooms: a request that the room's own unit accepts or declines.

A room outside the organiser's subtree is asked for, not taken.  Until the room's unit (its
secretariat or admin, or anyone whose scope includes it) accepts, the room is not held, not
dialled and not expected; the room's unit may decline at any time, also after accepting.
Mail goes to the room unit's secretariat on a request and to the organiser's on a decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from vcorch.access import Principal
from vcorch.auth import User
from vcorch.booking.models import Meeting, MeetingSite
from vcorch.booking.policy import ACCEPTED, CLOSED, PENDING
from vcorch.booking.views import iso
from vcorch.mail import OutboxMail
from vcorch.rooms import Room, Unit


def foreign(room_path: str, organizer_path: str) -> bool:
    return not room_path.startswith(organizer_path)


async def room_units(
    session: AsyncSession, room_ids: Iterable[int]
) -> dict[int, tuple[Room, Unit]]:
    wanted = sorted(set(room_ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(Room, Unit).join(Unit, Unit.id == Room.unit_id).where(Room.id.in_(wanted))
    )
    return {room.id: (room, unit) for room, unit in rows.all()}


def initial_state(room_path: str, organizer_path: str) -> str:
    return PENDING if foreign(room_path, organizer_path) else ACCEPTED


def held(sites: Sequence[MeetingSite]) -> list[MeetingSite]:
    return [s for s in sites if s.approval == ACCEPTED]


def site_view(site: MeetingSite) -> dict[str, Any]:
    return {
        "site_id": site.id,
        "meeting_id": site.meeting_id,
        "room_id": site.room_id,
        "approval": site.approval,
        "decided_by": site.decided_by,
        "decided_at": iso(site.decided_at) if site.decided_at else None,
        "decision_note": site.decision_note,
    }


def _ancestors(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:n]) + "/" for n in range(len(parts), 0, -1)]


async def secretariat_of(session: AsyncSession, unit_path: str) -> list[str]:
    """The enabled secretariat of a unit with a mail address, or of the nearest unit above
    it that has one (a commune without its own secretariat is served by its province)."""
    paths = _ancestors(unit_path)
    rows = (
        await session.execute(
            select(User.email, User.full_name, Unit.path)
            .join(Unit, Unit.id == User.unit_id)
            .where(
                User.role == "secretariat",
                User.disabled.is_(False),
                User.email.is_not(None),
                Unit.path.in_(paths),
            )
        )
    ).all()
    for path in paths:
        found = [f"{name} <{mail}>" if name else str(mail) for mail, name, p in rows if p == path]
        if found:
            return sorted(found)
    return []


async def queue(
    session: AsyncSession,
    *,
    key: str,
    meeting_id: int,
    recipients: Sequence[str],
    subject: str,
    body: str,
    now: datetime,
) -> None:
    if not recipients:
        return
    key = key[:255]
    if await session.scalar(select(OutboxMail.id).where(OutboxMail.dedupe_key == key)):
        return
    session.add(
        OutboxMail(
            dedupe_key=key,
            meeting_id=meeting_id,
            recipients=list(recipients),
            subject=subject[:500],
            body=body,
            status="pending",
            next_attempt_at=now,
        )
    )


def _when(meeting: Meeting) -> str:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(meeting.timezone)
    start = meeting.start_at.astimezone(zone).strftime("%H:%M ngày %d/%m/%Y")
    end = meeting.end_at.astimezone(zone).strftime("%H:%M")
    repeat = f", lặp lại theo quy tắc {meeting.rrule}" if meeting.rrule else ""
    return f"{start} đến {end} ({meeting.timezone}){repeat}"


async def tell_room_units(
    session: AsyncSession,
    meeting: Meeting,
    organizer: Unit,
    sites: Sequence[MeetingSite],
    *,
    public_url: str,
    now: datetime,
) -> None:
    """A request mail to the secretariat of each pending site's room unit."""
    pending = [s for s in sites if s.approval == PENDING]
    rooms = await room_units(session, [s.room_id for s in pending])
    for site in pending:
        if site.room_id not in rooms:
            continue
        room, unit = rooms[site.room_id]
        await queue(
            session,
            key=f"site-request:{site.id}:{meeting.version}",
            meeting_id=meeting.id,
            recipients=await secretariat_of(session, unit.path),
            subject=f"Đề nghị sử dụng phòng {room.name}: {meeting.title}",
            body=(
                f"{organizer.name} đề nghị sử dụng phòng {room.name} ({unit.name}) làm điểm "
                f"cầu của {meeting.title}, {_when(meeting)}.\n"
                "Phòng chưa được giữ cho đến khi đơn vị chấp thuận. Xem và quyết định tại "
                f"{public_url.rstrip('/')}/api/site-requests?status=pending"
            ),
            now=now,
        )


async def tell_organizer(
    session: AsyncSession,
    meeting: Meeting,
    organizer: Unit,
    site: MeetingSite,
    room: Room,
    room_unit: Unit,
    *,
    public_url: str,
    now: datetime,
) -> None:
    verdict = {
        "accepted": "đã chấp thuận",
        "declined": "không chấp thuận (phòng không được giữ cho cuộc họp)",
    }.get(site.approval, site.approval)
    note = f"\nGhi chú: {site.decision_note}" if site.decision_note else ""
    await queue(
        session,
        key=f"site-decision:{site.id}:{site.approval}:{meeting.version}",
        meeting_id=meeting.id,
        recipients=await secretariat_of(session, organizer.path),
        subject=f"Phòng {room.name}: {verdict} — {meeting.title}",
        body=(
            f"{room_unit.name} {verdict} việc sử dụng phòng {room.name} làm điểm cầu của "
            f"{meeting.title}, {_when(meeting)}.{note}\n"
            f"{public_url.rstrip('/')}/api/meetings/{meeting.id}"
        ),
        now=now,
    )


def requests_in_scope(
    who: Principal, status: str, after: int | None, limit: int
) -> Select[MeetingSite, Room, Unit, Meeting, Unit]:
    """Sites in rooms of the caller's scope asked for by a unit whose subtree does not hold
    them, with only what deciding needs of the requesting meeting."""
    room_unit = aliased(Unit)
    organizer = aliased(Unit)
    stmt = (
        select(MeetingSite, Room, room_unit, Meeting, organizer)
        .join(Room, Room.id == MeetingSite.room_id)
        .join(room_unit, room_unit.id == Room.unit_id)
        .join(Meeting, Meeting.id == MeetingSite.meeting_id)
        .join(organizer, organizer.id == Meeting.organizer_unit_id)
        .where(
            room_unit.path.startswith(who.unit_path),
            ~room_unit.path.startswith(organizer.path),
            MeetingSite.approval == status,
        )
    )
    if status == PENDING:
        # Nothing is left to decide about a meeting that is over or cancelled.
        stmt = stmt.where(Meeting.status.not_in(CLOSED))
    if after is not None:
        stmt = stmt.where(MeetingSite.id > after)
    return stmt.order_by(MeetingSite.id).limit(limit + 1)


def request_view(
    site: MeetingSite, room: Room, room_unit: Unit, meeting: Meeting, organizer: Unit
) -> dict[str, Any]:
    return {
        **site_view(site),
        "room_name": room.name,
        "room_unit_id": room_unit.id,
        "room_unit_name": room_unit.name,
        "meeting_title": meeting.title,
        "meeting_status": meeting.status,
        "organizer_unit_id": organizer.id,
        "organizer_unit_name": organizer.name,
        "start": iso(meeting.start_at),
        "end": iso(meeting.end_at),
        "timezone": meeting.timezone,
        "rrule": meeting.rrule,
        "series_end": iso(meeting.series_end) if meeting.series_end else None,
    }
