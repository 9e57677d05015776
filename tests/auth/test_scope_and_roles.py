"""Unit scope and roles: a province sees and changes its own subtree only."""

from __future__ import annotations

import pytest

from tests.api import Api
from tests.world import World


async def test_provincial_secretariat_cannot_read_another_provinces_rooms(
    api: Api, world: World
) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    status, _ = await sec.get(f"/api/rooms/{world.rooms['dien-bien']}")
    assert status == 404
    status, _ = await sec.get(f"/api/endpoints/{world.endpoints['dien-bien']}")
    assert status == 404
    status, units = await sec.get("/api/units")
    assert {u["id"] for u in units["items"]} == {
        world.units["lao-cai"],
        world.units["lao-cai.bac-ha"],
    }
    status, _ = await sec.get(f"/api/units?within={world.units['dien-bien']}")
    assert status == 404


async def test_provincial_secretariat_cannot_change_another_provinces_rooms(
    api: Api, world: World
) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    status, _ = await sec.patch(f"/api/rooms/{world.rooms['dien-bien']}", {"name": "Đổi tên"})
    assert status == 404
    status, _ = await sec.delete(f"/api/rooms/{world.rooms['dien-bien']}")
    assert status == 404
    status, body = await sec.post(
        "/api/rooms", {"unit_id": world.units["dien-bien"], "name": "Phòng lạ"}
    )
    assert status == 403 and body["errors"][0]["field"] == "unit_id"
    status, body = await sec.patch(
        f"/api/rooms/{world.rooms['lao-cai']}", {"unit_id": world.units["dien-bien"]}
    )
    assert status == 403
    status, room = await api.as_(world.tokens["dienbien_sec"]).get(
        f"/api/rooms/{world.rooms['dien-bien']}"
    )
    assert room["name"] == "Phòng họp dien-bien"


async def test_central_leadership_and_admin_see_everything(api: Api, world: World) -> None:
    for user in ("leader", "admin"):
        status, rooms = await api.as_(world.tokens[user]).get("/api/rooms")
        assert status == 200
        assert set(world.rooms.values()) <= {r["id"] for r in rooms["items"]}


@pytest.mark.parametrize(
    ("user", "method", "path", "allowed"),
    [
        ("laocai_sec", "POST", "/api/units", False),
        ("laocai_op", "POST", "/api/rooms", False),
        ("laocai_leader", "POST", "/api/endpoints", False),
        ("laocai_op", "POST", "/api/endpoints", True),
        ("laocai_admin", "POST", "/api/units", True),
        ("laocai_sec", "GET", "/api/audit", False),
        ("laocai_sec", "GET", "/api/users", False),
    ],
)
async def test_roles_limit_what_may_be_done(
    api: Api, world: World, user: str, method: str, path: str, allowed: bool
) -> None:
    bodies = {
        "/api/units": {
            "code": "moi",
            "name": "Mới",
            "level": "commune",
            "parent_id": world.units["lao-cai"],
        },
        "/api/rooms": {"unit_id": world.units["lao-cai"], "name": "Phòng mới"},
        "/api/endpoints": {
            "room_id": world.rooms["lao-cai"],
            "name": "Máy mới",
            "kind": "sip",
            "address": "sip:moi@10.0.0.9",
        },
    }
    status, body = await api.as_(world.tokens[user]).call(method, path, json=bodies.get(path))
    if allowed:
        assert status in (200, 201), body
    else:
        assert status == 403, body
        assert body["type"] == "urn:vcorch:problem:forbidden"


async def test_provincial_admin_cannot_create_users_elsewhere(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["laocai_admin"])
    status, body = await admin.post(
        "/api/users",
        {
            "username": "xa_user",
            "role": "operator",
            "unit_id": world.units["dien-bien"],
            "password": "mot-mat-khau-dai",
        },
    )
    assert status == 422 and body["errors"][0]["field"] == "unit_id"
    status, body = await admin.post(
        "/api/users",
        {
            "username": "xa_user",
            "role": "operator",
            "unit_id": world.units["lao-cai.bac-ha"],
            "password": "mot-mat-khau-dai",
        },
    )
    assert status == 201
    status, users = await admin.get("/api/users")
    names = {u["username"] for u in users["items"]}
    assert "xa_user" in names and "dienbien_sec" not in names
    assert all("password" not in str(u) for u in users["items"])
