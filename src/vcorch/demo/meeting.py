"""The demo meeting: five sites on the simulated MCU, a few minutes ahead, one of whose
room systems does not answer.

``vcorch demo`` books it; run again, it keeps a demo meeting that is still far enough ahead
to be launched by a service started now, and otherwise cancels what is left of the old one
(its rooms would clash) and books the next.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor
from vcorch.booking import BookingService, Meeting, schemas
from vcorch.rooms import SILENT_UNIT, Endpoint, Room, Unit

log = logging.getLogger("vcorch.demo")

# Marks the demo's meetings (``external_ref``): their fallback links are logged.
DEMO_REF = "vcorch-demo"
TITLE = "Giao ban trực tuyến Chương trình (trình diễn)"
# The start, after `vcorch demo` (the next whole minute after this): the launch comes five
# minutes before it, so two to three minutes after a `make run`, when monitoring's first
# sweep has long found the silent room down.
LEAD = timedelta(minutes=7)
# A demo meeting starting later than this is kept: a service started now still launches
# it after monitoring's first sweep.
KEEP_IF_AHEAD = timedelta(minutes=6)
LENGTH = timedelta(minutes=30)
# The host first, then the provinces and communes, the silent one last.
SITE_UNITS = ("central", "lao-cai", "lao-cai.bac-ha", "tuyen-quang.dong-van", SILENT_UNIT)


async def _sites(session: AsyncSession) -> list[tuple[str, int, int]]:
    """(unit code, room id, endpoint id) of the demo meeting's sites, in SITE_UNITS order."""
    rows = (
        await session.execute(
            select(Unit.code, Room.id, Endpoint.id)
            .join(Room, Room.unit_id == Unit.id)
            .join(Endpoint, Endpoint.room_id == Room.id)
            .where(Unit.code.in_(SITE_UNITS))
            .order_by(Room.id, Endpoint.id)
        )
    ).all()
    first: dict[str, tuple[str, int, int]] = {}
    for code, room_id, endpoint_id in rows:
        first.setdefault(code, (code, room_id, endpoint_id))
    missing = [code for code in SITE_UNITS if code not in first]
    if missing:
        raise LookupError(f"the demo organisation lacks {missing}: load it first")
    return [first[code] for code in SITE_UNITS]


async def book_demo_meeting(
    booking: BookingService,
    sessions: async_sessionmaker[AsyncSession],
    actor: Actor,
    now: datetime,
) -> int:
    """The id of the demo meeting ahead: kept when far enough ahead, else booked anew."""
    async with sessions() as session:
        found = list(
            (
                await session.execute(
                    select(Meeting)
                    .where(
                        Meeting.external_ref == DEMO_REF,
                        Meeting.status.in_(("scheduled", "live")),
                        Meeting.end_at > now,
                    )
                    .order_by(Meeting.start_at)
                )
            ).scalars()
        )
        sites = await _sites(session)
        central = await session.scalar(select(Unit.id).where(Unit.code == "central"))
    for meeting in found:
        if meeting.status == "scheduled" and meeting.start_at >= now + KEEP_IF_AHEAD:
            log.info("demo meeting %s is already booked for %s", meeting.id, meeting.start_at)
            return meeting.id
    for meeting in found:
        await booking.cancel(actor, meeting.id, meeting.version)
        log.info("demo meeting %s was too close to be launched: cancelled", meeting.id)
    start = (now + LEAD).replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert central is not None
    record = await booking.create(
        actor,
        schemas.MeetingCreate(
            title=TITLE,
            kind="meeting",
            mode="online",
            organizer_unit_id=central,
            start=start,
            end=start + LENGTH,
            host_room_id=sites[0][1],
            sites=[
                schemas.SiteIn(room_id=room_id, endpoint_id=endpoint_id)
                for _code, room_id, endpoint_id in sites
            ],
            external_ref=DEMO_REF,
            agenda=(
                "Cuộc họp trình diễn trên MCU mô phỏng: thiết bị phòng họp của "
                "Xã Mường Nhé không trả lời nên điểm cầu này chuyển sang tham gia bằng trình duyệt."
            ),
        ),
    )
    log.info(
        "demo meeting %s booked: %s, starting %s with %s sites",
        record.meeting.id,
        TITLE,
        start.isoformat(),
        len(sites),
    )
    return record.meeting.id
