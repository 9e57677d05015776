"""The check before saving: what a save would meet, with nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api import Api
from tests.booking.test_booking_api import at, fields, meeting
from tests.world import World


async def test_a_check_lists_the_clash_a_save_would_meet_and_stores_nothing(
    api: Api, world: World
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, held = await sec.post("/api/meetings", meeting(world, title="Đã đặt trước"))
    assert status == 201, held
    status, checked = await sec.post(
        "/api/meetings/check", meeting(world, title="Muốn đặt", start=at(1), end=at(3))
    )
    assert status == 200, checked
    assert checked["ok"] is False and checked["status"] == "scheduled"
    rooms = {c["resource_id"] for c in checked["clashes"] if c["kind"] == "room"}
    assert rooms == {world.rooms["central"], world.rooms["lao-cai"]}
    assert {c["meeting_title"] for c in checked["clashes"]} == {"Đã đặt trước"}
    # The save meets the same clashes; the check left nothing behind.
    status, refused = await sec.post(
        "/api/meetings", meeting(world, title="Muốn đặt", start=at(1), end=at(3))
    )
    assert status == 409 and len(refused["clashes"]) == len(checked["clashes"])
    status, listed = await sec.get("/api/meetings?q=muon%20dat")
    assert listed["items"] == []
    # Later the same day is free.
    status, free = await sec.post(
        "/api/meetings/check", meeting(world, title="Muốn đặt", start=at(4), end=at(5))
    )
    assert status == 200 and free["ok"] is True and free["clashes"] == [], free


async def test_an_edit_is_checked_without_clashing_with_itself(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, held = await sec.post("/api/meetings", meeting(world))
    assert status == 201, held
    moved = meeting(world, start=at(1), end=at(3))
    status, alone = await sec.post("/api/meetings/check", moved)
    assert status == 200 and alone["ok"] is False
    status, itself = await sec.post("/api/meetings/check", {**moved, "meeting_id": held["id"]})
    assert status == 200 and itself["ok"] is True, itself
    # A meeting the caller may not read is as unknown to the check as to a read.
    other = api.as_(world.tokens["dienbien_sec"])
    status, _ = await other.post(
        "/api/meetings/check",
        meeting(
            world,
            organizer_unit_id=world.units["dien-bien"],
            host_room_id=None,
            sites=[{"room_id": world.rooms["dien-bien"]}],
            meeting_id=held["id"],
        ),
    )
    assert status == 404


async def test_a_past_meeting_is_checked_as_recorded_and_rooms_of_others_as_requests(
    api: Api, world: World
) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    last_week = (datetime.now(UTC) - timedelta(days=7)).replace(microsecond=0)
    status, past = await sec.post(
        "/api/meetings/check",
        meeting(
            world,
            organizer_unit_id=world.units["lao-cai"],
            host_room_id=None,
            start=at(0, last_week),
            end=at(1, last_week),
            sites=[{"room_id": world.rooms["lao-cai"]}],
        ),
    )
    assert status == 200 and past["status"] == "ended" and past["ok"] is True, past
    status, asked = await sec.post(
        "/api/meetings/check",
        meeting(
            world,
            organizer_unit_id=world.units["lao-cai"],
            host_room_id=None,
            sites=[{"room_id": world.rooms["lao-cai"]}, {"room_id": world.rooms["dien-bien"]}],
        ),
    )
    assert status == 200 and asked["requests"] == [world.rooms["dien-bien"]], asked


async def test_bad_input_to_the_check_is_answered_as_a_save_would(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, body = await sec.post("/api/meetings/check", meeting(world, end=at(-1)))
    assert status == 422 and "end" in fields(body), body
    status, body = await sec.post("/api/meetings/check", meeting(world, rrule="FREQ=HOURLY"))
    assert status == 422 and "rrule" in fields(body), body
    status, body = await sec.post("/api/meetings/check", meeting(world, meeting_id="x"))
    assert status == 422 and "meeting_id" in fields(body), body
    assert (await api.as_(world.tokens["laocai_op"]).post("/api/meetings/check", meeting(world)))[
        0
    ] == 403
    status, body = await api.as_(world.tokens["laocai_sec"]).post(
        "/api/meetings/check", meeting(world)
    )
    assert status in (403, 422), body
