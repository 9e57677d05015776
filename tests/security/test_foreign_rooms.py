"""A room's own unit decides about its room: another unit's booking of it is a request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.api import TEST_ACTOR, Api
from tests.world import World
from vcorch.access.models import AuditEntry
from vcorch.auth.models import User
from vcorch.auth.routes import AUTH
from vcorch.mail.models import OutboxMail
from vcorch.web.keys import SESSIONS

START = (datetime.now(UTC) + timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)
MAILS = {
    "dienbien_sec": "van.thu@dienbien.gov.vn",
    "laocai_sec": "van.thu@laocai.gov.vn",
    "central_sec": "van.thu@ubdt.gov.vn",
}


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def booking(
    world: World,
    unit: str,
    rooms: list[str],
    title: str,
    *,
    start: datetime = START,
    rrule: str | None = None,
    contacts: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": title,
        "kind": "meeting",
        "mode": "online",
        "organizer_unit_id": world.units[unit],
        "start": stamp(start),
        "end": stamp(start + timedelta(hours=2)),
        "sites": [
            {"room_id": world.rooms[room], "contacts": (contacts or {}).get(room, [])}
            for room in rooms
        ],
    }
    if rrule:
        body["rrule"] = rrule
    return body


def site_of(meeting: dict[str, Any], world: World, room: str) -> dict[str, Any]:
    return next(s for s in meeting["sites"] if s["room_id"] == world.rooms[room])


async def with_mail_addresses(api: Api) -> None:
    app = api.client.server.app
    async with app[SESSIONS].begin() as session:
        for user in (
            await session.execute(select(User).where(User.username.in_(list(MAILS))))
        ).scalars():
            user.email = MAILS[user.username]


async def mails_to(api: Api, address: str) -> list[OutboxMail]:
    async with api.client.server.app[SESSIONS]() as session:
        rows = (await session.execute(select(OutboxMail).order_by(OutboxMail.id))).scalars()
        return [m for m in rows if any(address in r for r in m.recipients)]


async def test_another_units_booking_of_a_room_is_a_request_the_room_unit_declines(
    api: Api, world: World
) -> None:
    await with_mail_addresses(api)
    dienbien = api.as_(world.tokens["dienbien_sec"])
    laocai = api.as_(world.tokens["laocai_sec"])
    status, meeting = await dienbien.post(
        "/api/meetings",
        booking(
            world,
            "dien-bien",
            ["dien-bien", "lao-cai"],
            "Giao ban hằng ngày tỉnh Điện Biên",
            rrule="FREQ=DAILY;COUNT=30",
        ),
    )
    assert status == 201, meeting
    assert site_of(meeting, world, "lao-cai")["approval"] == "pending"
    assert site_of(meeting, world, "dien-bien")["approval"] == "accepted"
    # Lào Cai's secretariat is asked.
    asked = await mails_to(api, MAILS["laocai_sec"])
    assert len(asked) == 1 and "Phòng họp lao-cai" in asked[0].subject, asked
    assert "Tỉnh Điện Biên" in asked[0].body
    # Until Lào Cai accepts, its room is not held: its own booking on day 5 goes through.
    status, own = await laocai.post(
        "/api/meetings",
        booking(
            world, "lao-cai", ["lao-cai"], "Họp UBND tỉnh Lào Cai", start=START + timedelta(days=4)
        ),
    )
    assert status == 201, own
    # Lào Cai sees what deciding needs, not the meeting itself.
    assert (await laocai.get(f"/api/meetings/{meeting['id']}"))[0] == 404
    status, page = await laocai.get("/api/site-requests?status=pending")
    assert status == 200, page
    [request] = page["items"]
    assert request["meeting_title"] == "Giao ban hằng ngày tỉnh Điện Biên"
    assert request["organizer_unit_name"] == "Tỉnh Điện Biên"
    assert request["room_id"] == world.rooms["lao-cai"]
    assert request["rrule"] == "FREQ=DAILY;COUNT=30"
    assert "agenda" not in request and "sites" not in request
    site_id = request["site_id"]
    status, decided = await laocai.post(
        f"/api/meetings/{meeting['id']}/sites/{site_id}/approval",
        {"decision": "decline", "note": "Phòng đã có lịch họp của tỉnh"},
    )
    assert status == 200, decided
    assert decided["approval"] == "declined"
    # The organiser sees the decision with its note, and is told by mail.
    status, seen = await dienbien.get(f"/api/meetings/{meeting['id']}")
    declined = site_of(seen, world, "lao-cai")
    assert declined["approval"] == "declined"
    assert declined["decision_note"] == "Phòng đã có lịch họp của tỉnh"
    assert declined["decided_at"] is not None
    told = await mails_to(api, MAILS["dienbien_sec"])
    assert len(told) == 1 and "không chấp thuận" in told[0].subject, [m.subject for m in told]
    assert "Phòng đã có lịch họp của tỉnh" in told[0].body
    assert (await laocai.get("/api/site-requests?status=pending"))[1]["items"] == []
    async with api.client.server.app[SESSIONS]() as session:
        entries = list(
            (
                await session.execute(select(AuditEntry).where(AuditEntry.entity == "meeting_site"))
            ).scalars()
        )
    assert [(e.action, e.actor, e.entity_id) for e in entries] == [
        ("site-declined", "user:laocai_sec", str(site_id))
    ]


async def test_the_rooms_unit_takes_its_room_out_of_an_accepted_meeting(
    api: Api, world: World
) -> None:
    await with_mail_addresses(api)
    dienbien = api.as_(world.tokens["dienbien_sec"])
    laocai = api.as_(world.tokens["laocai_sec"])
    contact = "phong.hop@laocai.gov.vn"
    status, meeting = await dienbien.post(
        "/api/meetings",
        booking(
            world,
            "dien-bien",
            ["dien-bien", "lao-cai"],
            "Hội nghị liên tỉnh",
            contacts={"lao-cai": [contact]},
        ),
    )
    assert status == 201, meeting
    site_id = site_of(meeting, world, "lao-cai")["site_id"]
    # A pending room's contact is not invited yet.
    assert await mails_to(api, contact) == []
    status, decided = await laocai.post(
        f"/api/meetings/{meeting['id']}/sites/{site_id}/approval", {"decision": "accept"}
    )
    assert status == 200 and decided["approval"] == "accepted", decided
    invited = await mails_to(api, contact)
    assert [m.method for m in invited] == ["REQUEST"], invited
    # Accepted, the room is held, and the meeting is readable by the room's unit.
    status, clash = await laocai.post(
        "/api/meetings", booking(world, "lao-cai", ["lao-cai"], "Họp UBND tỉnh Lào Cai")
    )
    assert status == 409, clash
    assert (await laocai.get(f"/api/meetings/{meeting['id']}"))[0] == 200
    # Lào Cai's admin takes the room out; the organiser is told, the room is free.
    admin = api.as_(world.tokens["laocai_admin"])
    status, out = await admin.delete(f"/api/meetings/{meeting['id']}/sites/{site_id}")
    assert status == 200 and out["approval"] == "declined", out
    status, seen = await dienbien.get(f"/api/meetings/{meeting['id']}")
    assert site_of(seen, world, "lao-cai")["approval"] == "declined"
    subjects = [m.subject for m in await mails_to(api, MAILS["dienbien_sec"])]
    assert any("không chấp thuận" in s for s in subjects), subjects
    # The room's contact, invited once it was accepted, is told it no longer takes part.
    told = await mails_to(api, contact)
    assert [m.method for m in told] == ["REQUEST", "CANCEL"], told
    assert told[-1].calendar is not None and "METHOD:CANCEL" in told[-1].calendar
    assert contact in told[-1].calendar
    status, own = await laocai.post(
        "/api/meetings", booking(world, "lao-cai", ["lao-cai"], "Họp UBND tỉnh Lào Cai")
    )
    assert status == 201, own


async def test_accepting_a_request_for_a_room_taken_since_is_refused(
    api: Api, world: World
) -> None:
    dienbien = api.as_(world.tokens["dienbien_sec"])
    laocai = api.as_(world.tokens["laocai_sec"])
    status, meeting = await dienbien.post(
        "/api/meetings", booking(world, "dien-bien", ["lao-cai"], "Họp tỉnh Điện Biên")
    )
    assert status == 201, meeting
    status, own = await laocai.post(
        "/api/meetings", booking(world, "lao-cai", ["lao-cai"], "Họp UBND tỉnh Lào Cai")
    )
    assert status == 201, own
    site_id = site_of(meeting, world, "lao-cai")["site_id"]
    status, body = await laocai.post(
        f"/api/meetings/{meeting['id']}/sites/{site_id}/approval", {"decision": "accept"}
    )
    assert status == 409 and body["type"].endswith("booking-conflict"), body
    assert body["clashes"][0]["meeting_id"] == own["id"]
    status, seen = await dienbien.get(f"/api/meetings/{meeting['id']}")
    assert site_of(seen, world, "lao-cai")["approval"] == "pending"
    # Asking for a room that is held at that time is answered at once (room and time only).
    status, body = await dienbien.post(
        "/api/meetings", booking(world, "dien-bien", ["lao-cai"], "Họp tỉnh Điện Biên lần 2")
    )
    assert status == 409 and "meeting_id" not in body["clashes"][0], body


async def test_only_units_whose_scope_holds_the_room_decide_or_list_the_request(
    api: Api, world: World
) -> None:
    app = api.client.server.app
    await app[AUTH].create_user(
        TEST_ACTOR,
        username="bacha_sec",
        role="secretariat",
        unit_id=world.units["lao-cai.bac-ha"],
        password="mật-khẩu-thử-nghiệm-1",
    )
    bacha = api.as_(await api.login("bacha_sec"))
    dienbien = api.as_(world.tokens["dienbien_sec"])
    status, meeting = await dienbien.post(
        "/api/meetings",
        booking(world, "dien-bien", ["lao-cai", "lao-cai.bac-ha"], "Họp tỉnh Điện Biên"),
    )
    assert status == 201, meeting
    province_site = site_of(meeting, world, "lao-cai")["site_id"]
    commune_site = site_of(meeting, world, "lao-cai.bac-ha")["site_id"]
    decide = f"/api/meetings/{meeting['id']}/sites/{province_site}/approval"
    # Neither the commune below the room's unit nor the organiser itself decides.
    for who in (bacha, dienbien):
        status, body = await who.post(decide, {"decision": "accept"})
        assert status == 404, body
        assert (await who.delete(f"/api/meetings/{meeting['id']}/sites/{province_site}"))[0] == 404
    assert (await api.as_(world.tokens["laocai_op"]).post(decide, {"decision": "accept"}))[0] == 403
    # Each lists the requests for rooms in its scope, and only those.
    lists = {}
    for name in ("bacha_sec", "laocai_sec", "dienbien_sec", "central_sec"):
        token = world.tokens.get(name) or bacha.token
        status, page = await api.as_(token).get("/api/site-requests")
        assert status == 200, page
        lists[name] = sorted(i["site_id"] for i in page["items"])
    assert lists == {
        "bacha_sec": [commune_site],
        "laocai_sec": sorted([province_site, commune_site]),
        "dienbien_sec": [],
        "central_sec": sorted([province_site, commune_site]),
    }
    # The commune decides about its own room.
    status, body = await bacha.post(
        f"/api/meetings/{meeting['id']}/sites/{commune_site}/approval", {"decision": "accept"}
    )
    assert status == 200 and body["approval"] == "accepted", body


async def test_rooms_of_the_organisers_own_units_are_accepted_at_once(
    api: Api, world: World
) -> None:
    central = api.as_(world.tokens["central_sec"])
    status, meeting = await central.post(
        "/api/meetings", booking(world, "central", ["central", "lao-cai"], "Họp Ban Chỉ đạo")
    )
    assert status == 201, meeting
    assert {s["approval"] for s in meeting["sites"]} == {"accepted"}
    # Booking for Điện Biên, the central unit takes the Lào Cai room at once: it could
    # decide for Lào Cai anyway.
    status, meeting = await central.post(
        "/api/meetings",
        booking(
            world,
            "dien-bien",
            ["dien-bien", "lao-cai"],
            "Họp tỉnh Điện Biên do Trung ương đặt",
            start=START + timedelta(hours=3),
        ),
    )
    assert status == 201, meeting
    assert {s["approval"] for s in meeting["sites"]} == {"accepted"}
    laocai = api.as_(world.tokens["laocai_sec"])
    status, own = await laocai.post(
        "/api/meetings",
        booking(
            world,
            "lao-cai",
            ["lao-cai.bac-ha"],
            "Họp với xã Bắc Hà",
            start=START + timedelta(hours=5),
        ),
    )
    assert status == 201 and own["sites"][0]["approval"] == "accepted", own
    status, body = await laocai.post(
        f"/api/meetings/{own['id']}/sites/{own['sites'][0]['site_id']}/approval",
        {"decision": "decline"},
    )
    assert status == 409 and body["type"].endswith("site-not-requested"), body


async def test_new_times_ask_the_rooms_unit_again(api: Api, world: World) -> None:
    dienbien = api.as_(world.tokens["dienbien_sec"])
    laocai = api.as_(world.tokens["laocai_sec"])
    status, meeting = await dienbien.post(
        "/api/meetings", booking(world, "dien-bien", ["lao-cai"], "Họp tỉnh Điện Biên")
    )
    assert status == 201, meeting
    site_id = meeting["sites"][0]["site_id"]
    status, _ = await laocai.post(
        f"/api/meetings/{meeting['id']}/sites/{site_id}/approval", {"decision": "accept"}
    )
    assert status == 200
    status, seen = await dienbien.get(f"/api/meetings/{meeting['id']}")
    # A new title keeps the acceptance; a series over a month is a new request.
    status, seen = await dienbien.patch(
        f"/api/meetings/{meeting['id']}",
        {"title": "Họp tỉnh Điện Biên (sửa)"},
        headers={"If-Match": f'"v{seen["version"]}"'},
    )
    assert status == 200 and seen["sites"][0]["approval"] == "accepted", seen
    status, seen = await dienbien.patch(
        f"/api/meetings/{meeting['id']}",
        {"rrule": "FREQ=DAILY;COUNT=30"},
        headers={"If-Match": f'"v{seen["version"]}"'},
    )
    assert status == 200 and seen["sites"][0]["approval"] == "pending", seen
    status, own = await laocai.post(
        "/api/meetings",
        booking(
            world, "lao-cai", ["lao-cai"], "Họp UBND tỉnh Lào Cai", start=START + timedelta(days=9)
        ),
    )
    assert status == 201, own


async def test_an_occurrence_cannot_take_a_room_its_unit_has_not_accepted(
    api: Api, world: World
) -> None:
    dienbien = api.as_(world.tokens["dienbien_sec"])
    status, meeting = await dienbien.post(
        "/api/meetings",
        booking(
            world,
            "dien-bien",
            ["dien-bien", "lao-cai"],
            "Giao ban tuần tỉnh Điện Biên",
            rrule="FREQ=WEEKLY;COUNT=4",
        ),
    )
    assert status == 201, meeting
    key = (START + timedelta(days=7)).strftime("%Y%m%dT%H%M%SZ")
    status, body = await dienbien.patch(
        f"/api/meetings/{meeting['id']}/occurrences/{key}",
        {"sites": [{"room_id": world.rooms["lao-cai"]}]},
        headers={"If-Match": f'"v{meeting["version"]}"'},
    )
    assert status == 422, body
    assert [e["field"] for e in body["errors"]] == ["sites.0.room_id"]
