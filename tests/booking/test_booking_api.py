"""Booking over HTTP: the secretariat's daily work, its conflicts and its bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api import Api
from tests.world import World

TOMORROW = (datetime.now(UTC) + timedelta(days=1)).replace(
    hour=1, minute=0, second=0, microsecond=0
)


def at(hours: float, base: datetime = TOMORROW) -> str:
    return (base + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def meeting(world: World, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Họp Ban Chỉ đạo Chương trình quý IV",
        "kind": "meeting",
        "mode": "online",
        "organizer_unit_id": world.units["central"],
        "start": at(0),
        "end": at(2),
        "host_room_id": world.rooms["central"],
        "sites": [{"room_id": world.rooms["central"]}, {"room_id": world.rooms["lao-cai"]}],
    }
    body.update(overrides)
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {item["field"] for item in body["errors"]}


async def test_book_read_and_list(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, created = await sec.post("/api/meetings", meeting(world))
    assert status == 201, created
    assert created["status"] == "scheduled" and created["version"] == 1
    assert created["start"].endswith("Z")
    assert created["start_local"].endswith("+07:00")
    # Each online site gets its room's endpoint to dial.
    assert [s["endpoint_id"] for s in created["sites"]] == [
        world.endpoints["central"],
        world.endpoints["lao-cai"],
    ]
    response = await sec.client.get(
        f"/api/meetings/{created['id']}", headers={"Authorization": f"Bearer {sec.token}"}
    )
    assert response.headers["ETag"] == '"v1"'
    status, page = await sec.get(f"/api/meetings?from={at(-1)}&to={at(3)}&mode=online")
    assert [m["id"] for m in page["items"]] == [created["id"]]
    status, page = await sec.get(f"/api/meetings?from={at(3)}&to={at(5)}")
    assert page["items"] == []
    status, page = await sec.get(f"/api/meetings?site={world.rooms['lao-cai']}&q=ban%20chi%20dao")
    assert [m["id"] for m in page["items"]] == [created["id"]]


async def test_invited_province_sees_the_central_meeting_but_others_do_not(
    api: Api, world: World
) -> None:
    status, created = await api.as_(world.tokens["central_sec"]).post(
        "/api/meetings", meeting(world)
    )
    assert status == 201
    assert (await api.as_(world.tokens["laocai_op"]).get(f"/api/meetings/{created['id']}"))[
        0
    ] == 200
    assert (await api.as_(world.tokens["dienbien_sec"]).get(f"/api/meetings/{created['id']}"))[
        0
    ] == 404
    assert (await api.as_(world.tokens["leader"]).get(f"/api/meetings/{created['id']}"))[0] == 200
    # Seeing is not changing: Lào Cai cannot edit the central meeting.
    status, _ = await api.as_(world.tokens["laocai_sec"]).patch(
        f"/api/meetings/{created['id']}", {"title": "Đổi"}, headers={"If-Match": '"v1"'}
    )
    assert status == 403


async def test_a_province_books_for_itself_and_invites_anywhere(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    body = meeting(
        world,
        organizer_unit_id=world.units["lao-cai"],
        host_room_id=world.rooms["lao-cai"],
        sites=[{"room_id": world.rooms["lao-cai"]}, {"room_id": world.rooms["dien-bien"]}],
    )
    assert (await sec.post("/api/meetings", body))[0] == 201
    body["organizer_unit_id"] = world.units["dien-bien"]
    status, problem = await sec.post("/api/meetings", body)
    assert status == 403 and fields(problem) == {"organizer_unit_id"}
    assert (await api.as_(world.tokens["laocai_op"]).post("/api/meetings", meeting(world)))[
        0
    ] == 403


async def test_double_booking_a_room_is_refused_with_the_clash(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, first = await sec.post("/api/meetings", meeting(world))
    assert status == 201
    status, problem = await sec.post(
        "/api/meetings", meeting(world, title="Tập huấn", start=at(1), end=at(3))
    )
    assert status == 409, problem
    clash_rooms = {(c["kind"], c["resource_id"]) for c in problem["clashes"]}
    assert ("room", world.rooms["lao-cai"]) in clash_rooms
    assert all(c["meeting_id"] == first["id"] for c in problem["clashes"])
    # Within the 15-minute setup buffer is a clash too; after it is free.
    assert (await sec.post("/api/meetings", meeting(world, start=at(2.1), end=at(3))))[0] == 409
    assert (await sec.post("/api/meetings", meeting(world, start=at(2.25), end=at(3))))[0] == 201
    status, page = await sec.get("/api/meetings")
    assert len(page["items"]) == 2


async def test_a_cancelled_meeting_frees_its_rooms(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, first = await sec.post("/api/meetings", meeting(world))
    status, cancelled = await sec.delete(
        f"/api/meetings/{first['id']}", headers={"If-Match": '"v1"'}
    )
    assert status == 200 and cancelled["status"] == "cancelled" and cancelled["version"] == 2
    assert (await sec.post("/api/meetings", meeting(world)))[0] == 201
    status, still = await sec.get(f"/api/meetings/{first['id']}")
    assert still["status"] == "cancelled"


async def test_stale_and_missing_if_match(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, created = await sec.post("/api/meetings", meeting(world))
    path = f"/api/meetings/{created['id']}"
    assert (await sec.patch(path, {"title": "Không có If-Match"}))[0] == 428
    status, changed = await sec.patch(path, {"title": "Họp lần 2"}, headers={"If-Match": '"v1"'})
    assert status == 200 and changed["version"] == 2 and changed["sequence"] == 1
    status, problem = await sec.patch(path, {"title": "Ghi đè"}, headers={"If-Match": '"v1"'})
    assert status == 412 and problem["type"] == "urn:vcorch:problem:stale-version"
    status, current = await sec.get(path)
    assert current["title"] == "Họp lần 2"


async def test_port_capacity_is_enforced_across_overlapping_meetings(
    api: Api, world: World
) -> None:
    from vcorch.booking.placement_pool import PortPool
    from vcorch.booking.routes import BOOKING

    app = api.client.server.app
    app[BOOKING]._pools = lambda: [PortPool("mcu", 3)]
    sec = api.as_(world.tokens["central_sec"])
    two = [{"room_id": world.rooms["central"]}, {"room_id": world.rooms["lao-cai"]}]
    other_two = [{"room_id": world.rooms["dien-bien"]}, {"room_id": world.rooms["lao-cai.bac-ha"]}]
    assert (await sec.post("/api/meetings", meeting(world, sites=two)))[0] == 201
    status, problem = await sec.post(
        "/api/meetings", meeting(world, sites=other_two, host_room_id=None, start=at(1), end=at(3))
    )
    assert status == 409
    assert problem["clashes"][0]["kind"] == "ports" and problem["clashes"][0]["capacity"] == 3
    # In person, no ports; later, free again.
    assert (
        await sec.post(
            "/api/meetings", meeting(world, sites=other_two, host_room_id=None, mode="in_person")
        )
    )[0] == 201
    assert (
        await sec.post(
            "/api/meetings",
            meeting(world, sites=other_two, host_room_id=None, start=at(3), end=at(4)),
        )
    )[0] == 201
    status, problem = await sec.post(
        "/api/meetings",
        meeting(
            world,
            start=at(10),
            end=at(11),
            sites=[{"room_id": room} for room in world.rooms.values()],
        ),
    )
    assert status == 422 and fields(problem) == {"sites"}


async def test_a_meeting_recorded_after_the_fact_is_held_without_conflicts(
    api: Api, world: World
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    past = TOMORROW - timedelta(days=4)
    status, body = await sec.post(
        "/api/meetings", meeting(world, mode="in_person", start=at(0, past), end=at(2, past))
    )
    assert status == 201 and body["status"] == "ended"
    status, problem = await sec.patch(
        f"/api/meetings/{body['id']}", {"title": "x"}, headers={"If-Match": '"v1"'}
    )
    assert status == 409 and problem["type"] == "urn:vcorch:problem:meeting-closed"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"end": at(-1)}, "end"),
        ({"end": at(0)}, "end"),
        ({"end": at(30)}, "end"),
        ({"start": "2026-12-01T09:00:00"}, "start"),
        ({"timezone": "Asia/Saigon_Old"}, "timezone"),
        ({"rrule": "FREQ=SECONDLY"}, "rrule"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, "rrule"),
        ({"rrule": "NONSENSE"}, "rrule"),
        ({"sites": [{"room_id": 1}, {"room_id": 1}]}, "sites.1.room_id"),
        ({"sites": [{"room_id": 999999}]}, "sites.0.room_id"),
        ({"kind": "party"}, "kind"),
        ({"mode": "telepathy"}, "mode"),
        ({"organizer_unit_id": 999999}, "organizer_unit_id"),
        ({"invited": [{"email": "a@b.vn\r\nBcc: x@y.vn"}]}, "invited.0.email"),
        ({"title": ""}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_booking_input_is_refused_with_the_field(
    api: Api, world: World, overrides: dict[str, Any], field: str
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, problem = await sec.post("/api/meetings", meeting(world, **overrides))
    assert 400 <= status < 500 and status != 409, problem
    assert field in fields(problem), problem
    status, page = await sec.get("/api/meetings")
    assert page["items"] == []
