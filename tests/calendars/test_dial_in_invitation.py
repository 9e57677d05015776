"""The dial-in invitation update: the numbers in DESCRIPTION and LOCATION, a series' own
occurrence only, once, and none for a meeting held in person."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import icalendar
from sqlalchemy import select

from tests.api import Api
from tests.booking.test_booking_api import TOMORROW, at, meeting
from tests.world import World
from vcorch.booking import Meeting
from vcorch.calendars.invitations import queue_dial_in_notice
from vcorch.calendars.wiring import mail_policy
from vcorch.mail.models import OutboxMail
from vcorch.mcu_adapter import DialIn
from vcorch.web.keys import SESSIONS, SETTINGS

DIAL_IN = DialIn(number="7000012", pin="482913", uri="sip:sim-12@mcu.example.vn")


async def booked(api: Api, world: World, **extra: Any) -> int:
    body = meeting(
        world, invited=[{"email": "lanh.dao@example.org", "name": "Nguyễn Văn A"}], **extra
    )
    status, answer = await api.as_(world.tokens["central_sec"]).post("/api/meetings", body)
    assert status == 201, answer
    return int(answer["id"])


async def notify(app: Any, meeting_id: int, occurrence: datetime) -> int:
    async with app[SESSIONS].begin() as session:
        found = await session.get(Meeting, meeting_id)
        assert found is not None
        return await queue_dial_in_notice(
            session, found, occurrence, DIAL_IN, mail_policy(app[SETTINGS]), occurrence
        )


async def test_a_series_gets_the_numbers_on_its_occurrence_once(
    app_client: Any, api: Api, world: World
) -> None:
    app = app_client.server.app
    series = await booked(api, world, rrule="FREQ=WEEKLY;COUNT=3")
    second = TOMORROW + timedelta(weeks=1)
    assert await notify(app, series, second) == 1
    assert await notify(app, series, second) == 0  # told once
    async with app[SESSIONS]() as session:
        mail = await session.scalar(
            select(OutboxMail).where(
                OutboxMail.meeting_id == series, OutboxMail.dedupe_key.startswith("dial-in:")
            )
        )
    assert mail is not None and mail.calendar is not None
    assert mail.subject.startswith("Số gọi vào: ")
    assert "Số hội nghị: 7000012" in mail.body and "Mã PIN: 482913" in mail.body
    events = icalendar.Calendar.from_ical(mail.calendar).walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    assert event.decoded("RECURRENCE-ID") == second and "RRULE" not in event
    assert str(event["LOCATION"]).endswith("; Số hội nghị 7000012, PIN 482913")
    description = str(event["DESCRIPTION"])
    assert "Gọi vào hội nghị (khi điểm cầu không được gọi tới):" in description
    assert "- Địa chỉ SIP: sip:sim-12@mcu.example.vn" in description
    assert "Các điểm cầu:" in description  # the invitation's own text stays


async def test_a_meeting_held_in_person_gets_no_dial_in(
    app_client: Any, api: Api, world: World
) -> None:
    app = app_client.server.app
    in_person = await booked(api, world, mode="in_person", start=at(30), end=at(31))
    assert await notify(app, in_person, TOMORROW + timedelta(hours=30)) == 0
