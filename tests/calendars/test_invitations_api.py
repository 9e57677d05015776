"""Invitations reach a real SMTP server with a calendar clients can read; nothing is lost
while SMTP is down; reminders go once; .ics exports and the unit feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from tests.api import Api, FakeClock, make_settings
from tests.booking.test_booking_api import at, meeting
from tests.smtp import SmtpServer
from tests.world import World
from vcorch.config import Settings
from vcorch.web.keys import OUTBOX


@pytest.fixture
def settings(database_url: str, smtp: SmtpServer) -> Settings:
    return make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        mail_sender="Văn phòng Chương trình <vanphong@example.org>",
    )


def invited(world: World, **extra: Any) -> dict[str, Any]:
    return meeting(
        world,
        invited=[{"email": "lanh.dao@example.org", "name": "Nguyễn Văn A"}],
        sites=[
            {"room_id": world.rooms["central"]},
            {"room_id": world.rooms["lao-cai"], "contacts": ["phonghop.laocai@example.org"]},
        ],
        **extra,
    )


def calendar_of(message: Any) -> icalendar.Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return icalendar.Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no calendar part")


async def test_invitation_update_and_cancellation_arrive_with_calendars(
    api: Api, world: World, smtp: SmtpServer
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, created = await sec.post("/api/meetings", invited(world))
    assert status == 201
    outbox = api.client.server.app[OUTBOX]
    assert await outbox.run_once() == 2
    received = smtp.inbox.parsed()
    assert sorted(to[0] for to, _ in received) == [
        "lanh.dao@example.org",
        "phonghop.laocai@example.org",
    ]
    _, message = received[0]
    assert message["Subject"].startswith("Mời họp: Họp Ban Chỉ đạo")
    cal = calendar_of(message)
    assert cal["METHOD"] == "REQUEST"
    event = next(iter(cal.walk("VEVENT")))
    uid = str(event["UID"])
    assert uid == f"meeting-{created['id']}@127.0.0.1"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART").astimezone(UTC) == datetime.fromisoformat(created["start"])
    assert str(event["DTSTART"].params["TZID"]) == "Asia/Ho_Chi_Minh"
    assert list(cal.walk("VTIMEZONE"))

    status, moved = await sec.patch(
        f"/api/meetings/{created['id']}",
        {"start": at(3), "end": at(4)},
        headers={"If-Match": '"v1"'},
    )
    assert status == 200
    status, _ = await sec.delete(f"/api/meetings/{created['id']}", headers={"If-Match": '"v2"'})
    assert await outbox.run_once() == 4
    later = [calendar_of(m) for _, m in smtp.inbox.parsed()[2:]]
    methods_and_sequences = sorted(
        (str(c["METHOD"]), int(next(iter(c.walk("VEVENT")))["SEQUENCE"])) for c in later
    )
    assert methods_and_sequences == [("CANCEL", 2), ("CANCEL", 2), ("REQUEST", 1), ("REQUEST", 1)]
    update = next(c for c in later if c["METHOD"] == "REQUEST")
    assert next(iter(update.walk("VEVENT"))).decoded("DTSTART").astimezone(
        UTC
    ) == datetime.fromisoformat(moved["start"])
    assert all(str(next(iter(c.walk("VEVENT")))["UID"]) == uid for c in later)


async def test_smtp_outage_loses_nothing(
    api: Api, world: World, smtp: SmtpServer, clock: FakeClock
) -> None:
    smtp.stop()
    status, _ = await api.as_(world.tokens["central_sec"]).post("/api/meetings", invited(world))
    assert status == 201
    outbox = api.client.server.app[OUTBOX]
    assert await outbox.run_once() == 0
    smtp.start()
    # Retries wait their backoff; nothing is sent early, everything is sent once due.
    assert await outbox.run_once() == 0
    clock.advance(minutes=2)
    assert await outbox.run_once() == 2
    assert len(smtp.inbox.messages) == 2
    assert await outbox.run_once() == 0


async def test_reminders_are_queued_once_per_occurrence(
    api: Api, world: World, smtp: SmtpServer, clock: FakeClock
) -> None:
    from vcorch.booking.service import BookingPolicy
    from vcorch.calendars.invitations import queue_reminders
    from vcorch.calendars.wiring import mail_policy
    from vcorch.web.keys import SESSIONS, SETTINGS

    app = api.client.server.app
    status, created = await api.as_(world.tokens["central_sec"]).post(
        "/api/meetings", invited(world, start=at(48), end=at(50))
    )
    assert status == 201
    start = datetime.fromisoformat(created["start"])
    policy = mail_policy(app[SETTINGS])
    sessions = app[SESSIONS]
    assert (
        await queue_reminders(sessions, policy, BookingPolicy(), start - timedelta(hours=30)) == 0
    )
    # Booked more than 24 h ahead: the day-before reminder is due 24 h before the start.
    added = await queue_reminders(sessions, policy, BookingPolicy(), start - timedelta(hours=23))
    assert added == 2
    assert (
        await queue_reminders(sessions, policy, BookingPolicy(), start - timedelta(hours=22)) == 0
    )
    assert (
        await queue_reminders(sessions, policy, BookingPolicy(), start - timedelta(minutes=30)) == 2
    )
    clock.now = start - timedelta(minutes=29)
    assert await app[OUTBOX].run_once() == 6
    subjects = sorted(m["Subject"] for _, m in smtp.inbox.parsed())
    assert sum(s.startswith("Nhắc lịch") for s in subjects) == 4


async def test_meeting_ics_and_the_unit_feed(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, created = await sec.post("/api/meetings", invited(world, rrule="FREQ=WEEKLY;COUNT=4"))
    assert status == 201
    response = await api.client.get(
        f"/api/meetings/{created['id']}.ics", headers={"Authorization": f"Bearer {sec.token}"}
    )
    assert response.status == 200 and response.content_type == "text/calendar"
    cal = icalendar.Calendar.from_ical(await response.read())
    assert str(next(iter(cal.walk("VEVENT")))["RRULE"].to_ical().decode()) == "FREQ=WEEKLY;COUNT=4"

    laocai_sec = api.as_(world.tokens["laocai_sec"])
    status, token = await laocai_sec.post(
        "/api/calendar-tokens", {"unit_id": world.units["lao-cai"], "label": "Cổng tỉnh"}
    )
    assert status == 201 and "token=" in token["url"]
    feed = await api.client.get(f"/api/calendar/lao-cai.ics?token={token['token']}")
    assert feed.status == 200
    titles = [
        str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(await feed.read()).walk("VEVENT")
    ]
    assert titles == ["Họp Ban Chỉ đạo Chương trình quý IV"]
    assert (
        await api.client.get(f"/api/calendar/dien-bien.ics?token={token['token']}")
    ).status == 404
    assert (await laocai_sec.delete(f"/api/calendar-tokens/{token['id']}"))[0] == 204
    assert (await api.client.get(f"/api/calendar/lao-cai.ics?token={token['token']}")).status == 404
    status, _ = await laocai_sec.post("/api/calendar-tokens", {"unit_id": world.units["dien-bien"]})
    assert status == 403


async def test_header_injection_in_invitee_names_is_refused(api: Api, world: World) -> None:
    body = invited(world)
    body["invited"] = [{"email": "a@example.org", "name": "Tên\r\nBcc: victim@example.org"}]
    status, problem = await api.as_(world.tokens["central_sec"]).post("/api/meetings", body)
    assert status == 422 and problem["errors"][0]["field"] == "invited.0.name"


async def test_the_host_room_is_named_first_as_host_even_when_not_listed(
    api: Api, world: World
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, created = await sec.post(
        "/api/meetings", invited(world, host_room_id=world.rooms["lao-cai.bac-ha"])
    )
    assert status == 201, created
    response = await api.client.get(
        f"/api/meetings/{created['id']}.ics", headers={"Authorization": f"Bearer {sec.token}"}
    )
    event = next(iter(icalendar.Calendar.from_ical(await response.read()).walk("VEVENT")))
    description = str(event["DESCRIPTION"])
    sites = description.split("Các điểm cầu:\n", 1)[1].splitlines()
    assert sites == [
        "- Phòng họp lao-cai.bac-ha (Xã Bắc Hà) — Điểm cầu chủ trì",
        "- Phòng họp central (Cơ quan Trung ương)",
        "- Phòng họp lao-cai (Tỉnh Lào Cai)",
    ]
    assert str(event["LOCATION"]) == "Phòng họp lao-cai.bac-ha, Xã Bắc Hà"
