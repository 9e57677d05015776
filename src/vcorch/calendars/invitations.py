"""Invitations, updates, cancellations and reminders: built as iCalendar, queued in the outbox.

Messages are queued in the same transaction as the booking change that causes them; the
outbox worker (:mod:`vcorch.mail.outbox`) delivers them and retries, so an SMTP
outage delays mail but loses none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.booking import (
    ACCEPTED,
    BookingPolicy,
    Meeting,
    MeetingOverride,
    MeetingSite,
    between,
    occurrence_key_text,
    series_of,
)
from vcorch.calendars.ical import IcsAttendee, IcsEvent, build_calendar
from vcorch.mail import OutboxMail, named_address
from vcorch.mcu_adapter import DialIn
from vcorch.rooms import Room, Unit

# How invitations name the room the meeting is chaired from (Meeting.host_room_id).
HOST_SITE = "Điểm cầu chủ trì"
# A requested room is listed as asked for; its contacts are invited once it is accepted.
PENDING_SITE = "chờ đơn vị chủ quản phòng chấp thuận"
# The second path: a room system calling the meeting by itself.
DIAL_IN_HEADING = "Gọi vào hội nghị (khi điểm cầu không được gọi tới):"

KIND_NAMES = {
    "meeting": "Cuộc họp",
    "conference": "Hội nghị",
    "workshop": "Hội thảo",
    "training": "Tập huấn",
}
MODE_NAMES = {
    "in_person": "trực tiếp",
    "online": "trực tuyến",
    "hybrid": "trực tiếp kết hợp trực tuyến",
}


@dataclass(frozen=True)
class MailPolicy:
    sender: str
    public_url: str
    uid_domain: str
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))


def meeting_uid(meeting_id: int, domain: str) -> str:
    return f"meeting-{meeting_id}@{domain}"


async def meeting_events(
    session: AsyncSession, meeting: Meeting, sites: Sequence[MeetingSite], policy: MailPolicy
) -> list[IcsEvent]:
    """The meeting as VEVENTs: the series, plus one per moved or cancelled occurrence."""
    rooms = {
        room.id: (room, unit)
        for room, unit in await session.execute(
            select(Room, Unit)
            .join(Unit, Room.unit_id == Unit.id)
            .where(
                Room.id.in_(
                    [s.room_id for s in sites]
                    + ([meeting.host_room_id] if meeting.host_room_id else [])
                )
            )
        )
    }
    organizer = await session.get(Unit, meeting.organizer_unit_id)
    location = None
    if meeting.host_room_id in rooms:
        host, host_unit = rooms[meeting.host_room_id]
        location = f"{host.name}, {host_unit.name}"
    # The host room is a site (dialled first), listed first and named as host, also when
    # the booking did not list it among the sites.
    asked = {s.room_id for s in sites if s.approval == "pending"}
    site_rooms = [s.room_id for s in sites if s.room_id in rooms and s.approval != "declined"]
    if meeting.host_room_id in rooms:
        site_rooms = [meeting.host_room_id] + [r for r in site_rooms if r != meeting.host_room_id]
    site_lines = [
        f"- {rooms[room_id][0].name} ({rooms[room_id][1].name})"
        + (f" — {HOST_SITE}" if room_id == meeting.host_room_id else "")
        + (f" ({PENDING_SITE})" if room_id in asked else "")
        for room_id in site_rooms
    ]
    description = "\n".join(
        part
        for part in (
            " ".join(
                (
                    KIND_NAMES.get(meeting.kind, meeting.kind),
                    MODE_NAMES.get(meeting.mode, meeting.mode),
                )
            ),
            f"Đơn vị chủ trì: {organizer.name}" if organizer else None,
            f"Chủ trì: {meeting.chair}" if meeting.chair else None,
            f"Nội dung: {meeting.agenda}" if meeting.agenda else None,
            ("Các điểm cầu:\n" + "\n".join(site_lines)) if site_lines else None,
        )
        if part
    )
    _, sender_address = parseaddr(policy.sender)
    attendees = [IcsAttendee(email=email, name=name) for email, name in recipients(meeting, sites)]
    common = {
        "uid": meeting_uid(meeting.id, policy.uid_domain),
        "sequence": meeting.sequence,
        "summary": meeting.title,
        "zone": meeting.timezone,
        "last_modified": meeting.updated_at,
        "description": description,
        "location": location,
        "organizer_email": sender_address or None,
        "organizer_name": organizer.name if organizer else None,
        "attendees": attendees,
        "url": f"{policy.public_url.rstrip('/')}/api/meetings/{meeting.id}",
        "categories": (KIND_NAMES.get(meeting.kind, meeting.kind),),
    }
    status: Literal["CANCELLED", "CONFIRMED"] = (
        "CANCELLED" if meeting.status == "cancelled" else "CONFIRMED"
    )
    events = [
        IcsEvent(
            start=meeting.start_at,
            end=meeting.end_at,
            rrule=meeting.rrule,
            exdates=[datetime.fromisoformat(d) for d in meeting.exdates or []],
            status=status,
            **common,  # type: ignore[arg-type]
        )
    ]
    overrides = list(
        (
            await session.execute(
                select(MeetingOverride).where(MeetingOverride.meeting_id == meeting.id)
            )
        ).scalars()
    )
    for override in sorted(overrides, key=lambda o: o.occurrence_key):
        start = override.start_at or override.occurrence_key
        end = override.end_at or (start + (meeting.end_at - meeting.start_at))
        events.append(
            IcsEvent(
                start=start,
                end=end,
                recurrence_id=override.occurrence_key,
                status="CANCELLED" if override.cancelled or status == "CANCELLED" else "CONFIRMED",
                **common,  # type: ignore[arg-type]
            )
        )
    return events


def dial_in_lines(dial_in: DialIn) -> list[str]:
    """How a room system calls the meeting itself, in Vietnamese, one fact a line."""
    lines = [f"- Số hội nghị: {dial_in.number}"]
    if dial_in.pin:
        lines.append(f"- Mã PIN: {dial_in.pin}")
    if dial_in.uri:
        lines.append(f"- Địa chỉ SIP: {dial_in.uri}")
    return lines


def with_dial_in(event: IcsEvent, dial_in: DialIn) -> IcsEvent:
    """The event with the dial-in in its DESCRIPTION (a paragraph of its own) and in its
    LOCATION (one line, after the host room), so that a calendar shows it where people look."""
    where = f"Số hội nghị {dial_in.number}" + (f", PIN {dial_in.pin}" if dial_in.pin else "")
    description = "\n".join(
        part for part in (event.description, DIAL_IN_HEADING, *dial_in_lines(dial_in)) if part
    )
    return dataclasses.replace(
        event,
        description=description,
        location=f"{event.location}; {where}" if event.location else where,
    )


async def queue_dial_in_notice(
    session: AsyncSession,
    meeting: Meeting,
    occurrence_key: datetime,
    dial_in: DialIn,
    policy: MailPolicy,
    now: datetime,
) -> int:
    """Tell the meeting's people how to dial in, once its conference exists (the launch):
    an invitation update (iTIP REQUEST, same UID and SEQUENCE, a later DTSTAMP: nothing
    about the time changed) whose DESCRIPTION and LOCATION carry the numbers.  A series
    gets the numbers on the occurrence only (its RECURRENCE-ID): each run has its own
    conference.  Returns how many mails were queued; the dedupe key makes repeats harmless."""
    sites = list(
        (
            await session.execute(select(MeetingSite).where(MeetingSite.meeting_id == meeting.id))
        ).scalars()
    )
    people = recipients(meeting, sites)
    if not people or meeting.mode == "in_person":
        return 0
    events = await meeting_events(session, meeting, sites, policy)
    if meeting.rrule is None:
        chosen = events[0]
    else:
        own = [e for e in events if e.recurrence_id == occurrence_key]
        chosen = (
            own[0]
            if own
            else dataclasses.replace(
                events[0],
                start=occurrence_key,
                end=occurrence_key + (meeting.end_at - meeting.start_at),
                rrule=None,
                exdates=[],
                recurrence_id=occurrence_key,
            )
        )
    calendar = build_calendar([with_dial_in(chosen, dial_in)], method="REQUEST")
    when = f"{_local(chosen.start, meeting.timezone)} ({meeting.timezone})"
    body = "\n".join(
        (
            f"{meeting.title} ({when}) đã sẵn sàng trên cầu truyền hình.",
            "Nếu điểm cầu của bạn không được gọi tới, thiết bị phòng họp có thể tự gọi vào:",
            *dial_in_lines(dial_in),
        )
    )
    key = f"dial-in:{meeting.id}:{occurrence_key_text(occurrence_key)}:{dial_in.number}"
    queued = 0
    for email, name in people:
        dedupe = f"{key}:{email.casefold()}"
        exists = (
            await session.execute(select(OutboxMail.id).where(OutboxMail.dedupe_key == dedupe))
        ).first()
        if exists:
            continue
        session.add(
            OutboxMail(
                dedupe_key=dedupe,
                meeting_id=meeting.id,
                recipients=[named_address(name, email)],
                subject=f"Số gọi vào: {meeting.title}",
                body=body + f"\n\n{policy.public_url.rstrip('/')}/api/meetings/{meeting.id}",
                calendar=calendar.decode("utf-8"),
                method="REQUEST",
                status="pending",
                next_attempt_at=now,
            )
        )
        queued += 1
    return queued


class DialInMail:
    """The orchestrator's dial-in notices (``orchestration.DialInNotices``) as mail."""

    def __init__(self, policy: MailPolicy) -> None:
        self._policy = policy

    async def dial_in_ready(
        self,
        session: AsyncSession,
        meeting_id: int,
        occurrence_key: datetime,
        dial_in: DialIn,
        now: datetime,
    ) -> None:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            return
        await queue_dial_in_notice(session, meeting, occurrence_key, dial_in, self._policy, now)


def recipients(meeting: Meeting, sites: Sequence[MeetingSite]) -> list[tuple[str, str | None]]:
    """Invited people and each accepted site's contacts, once each (case-insensitive
    address): a room its unit has not accepted is not yet taking part."""
    found: dict[str, tuple[str, str | None]] = {}
    for invitee in meeting.invited or []:
        found.setdefault(invitee["email"].casefold(), (invitee["email"], invitee.get("name")))
    for site in sites:
        if site.approval != ACCEPTED:
            continue
        for contact in site.contacts or []:
            found.setdefault(contact.casefold(), (contact, None))
    return list(found.values())


def _local(moment: datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).strftime("%H:%M ngày %d/%m/%Y")


class InvitationListener:
    """Queues an invitation, update or cancellation for every change attendees must see."""

    def __init__(self, policy: MailPolicy, clock: Callable[[], datetime]) -> None:
        self._policy = policy
        self._clock = clock

    async def meeting_changed(
        self, session: AsyncSession, meeting: Meeting, sites: Sequence[MeetingSite], action: str
    ) -> None:
        if meeting.status not in ("scheduled", "cancelled"):
            return
        if action == "site-declined":
            await self._cancel_for_declined(session, meeting, sites)
        people = recipients(meeting, sites)
        if not people:
            return
        method: Literal["CANCEL", "REQUEST"] = (
            "CANCEL" if meeting.status == "cancelled" else "REQUEST"
        )
        calendar = build_calendar(
            await meeting_events(session, meeting, sites, self._policy), method=method
        )
        when = f"{_local(meeting.start_at, meeting.timezone)} ({meeting.timezone})"
        if method == "CANCEL":
            subject = f"Hủy: {meeting.title}"
            body = f"{meeting.title}, dự kiến lúc {when}, đã bị hủy."
        elif action == "create":
            subject = f"Mời họp: {meeting.title}"
            body = f"Kính mời tham dự {meeting.title} lúc {when}. Lịch họp kèm theo thư này."
        else:
            subject = f"Cập nhật: {meeting.title}"
            body = (
                f"{meeting.title} đã được cập nhật; thời gian: {when}. Lịch mới kèm theo thư này."
            )
        for email, name in people:
            session.add(
                OutboxMail(
                    dedupe_key=f"{method.lower()}:{meeting.id}:{meeting.version}:{email.casefold()}",
                    meeting_id=meeting.id,
                    recipients=[named_address(name, email)],
                    subject=subject,
                    body=body
                    + f"\n\n{self._policy.public_url.rstrip('/')}/api/meetings/{meeting.id}",
                    calendar=calendar.decode("utf-8"),
                    method=method,
                    status="pending",
                    next_attempt_at=self._clock(),
                )
            )

    async def _cancel_for_declined(
        self, session: AsyncSession, meeting: Meeting, sites: Sequence[MeetingSite]
    ) -> None:
        """A room taken out of the meeting: its contacts (invited once it was accepted)
        get an iTIP CANCEL naming them, unless they still take part another way."""
        staying = {email.casefold() for email, _ in recipients(meeting, sites)}
        leaving: dict[str, str] = {}
        for site in sites:
            if site.approval == "declined":
                for contact in site.contacts or []:
                    if contact.casefold() not in staying:
                        leaving.setdefault(contact.casefold(), contact)
        if not leaving:
            return
        events = [
            dataclasses.replace(
                event,
                status="CANCELLED",
                attendees=[IcsAttendee(email=email) for email in leaving.values()],
            )
            for event in await meeting_events(session, meeting, sites, self._policy)
            if event.recurrence_id is None
        ]
        calendar = build_calendar(events, method="CANCEL")
        when = f"{_local(meeting.start_at, meeting.timezone)} ({meeting.timezone})"
        for email in leaving.values():
            session.add(
                OutboxMail(
                    dedupe_key=f"cancel:{meeting.id}:{meeting.version}:{email.casefold()}",
                    meeting_id=meeting.id,
                    recipients=[named_address(None, email)],
                    subject=f"Hủy điểm cầu: {meeting.title}",
                    body=(
                        f"Phòng họp của đơn vị bạn không còn là điểm cầu của {meeting.title}"
                        f" ({when}): đơn vị chủ quản phòng đã rút phòng khỏi cuộc họp."
                    ),
                    calendar=calendar.decode("utf-8"),
                    method="CANCEL",
                    status="pending",
                    next_attempt_at=self._clock(),
                )
            )


async def queue_reminders(
    sessions: async_sessionmaker[AsyncSession],
    policy: MailPolicy,
    booking: BookingPolicy,
    now: datetime,
) -> int:
    """Queue each reminder that is due and not yet queued; returns how many were added.

    A reminder ``offset`` before an occurrence is due once ``now`` is within ``offset`` of its
    start, and only for meetings booked before that moment (a meeting booked two hours
    ahead gets no "tomorrow" reminder).  The dedupe key makes repeats harmless.
    """
    if not policy.reminder_offsets:
        return 0
    horizon = now + max(policy.reminder_offsets)
    added = 0
    async with sessions.begin() as session:
        meetings = list(
            (
                await session.execute(
                    select(Meeting).where(
                        Meeting.status == "scheduled",
                        Meeting.series_start < horizon,
                        or_(Meeting.series_end.is_(None), Meeting.series_end > now),
                    )
                )
            ).scalars()
        )
        for meeting in meetings:
            sites = list(
                (
                    await session.execute(
                        select(MeetingSite).where(MeetingSite.meeting_id == meeting.id)
                    )
                ).scalars()
            )
            people = recipients(meeting, sites)
            if not people:
                continue
            overrides = list(
                (
                    await session.execute(
                        select(MeetingOverride).where(MeetingOverride.meeting_id == meeting.id)
                    )
                ).scalars()
            )
            for occ in between(series_of(meeting, overrides, booking), now, horizon):
                if occ.start <= now:
                    continue
                for offset in policy.reminder_offsets:
                    if not (occ.start - offset <= now and meeting.created_at <= occ.start - offset):
                        continue
                    seconds = int(offset.total_seconds())
                    key = f"reminder:{meeting.id}:{occurrence_key_text(occ.key)}:{seconds}"
                    exists = (
                        await session.execute(
                            select(OutboxMail.id).where(OutboxMail.dedupe_key.startswith(key))
                        )
                    ).first()
                    if exists:
                        continue
                    for email, name in people:
                        session.add(
                            OutboxMail(
                                dedupe_key=f"{key}:{email.casefold()}",
                                meeting_id=meeting.id,
                                recipients=[named_address(name, email)],
                                subject=f"Nhắc lịch: {meeting.title}",
                                body=(
                                    f"Nhắc lịch: {meeting.title} bắt đầu lúc "
                                    f"{_local(occ.start, meeting.timezone)} ({meeting.timezone})."
                                ),
                                calendar=None,
                                method=None,
                                status="pending",
                                next_attempt_at=now,
                            )
                        )
                        added += 1
    return added
