"""A small organisation for API tests: two provinces with rooms, and one user per role."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from tests.api import PASSWORD, TEST_ACTOR, Api
from vcorch.auth.routes import AUTH
from vcorch.rooms import schemas
from vcorch.rooms.routes import ROOMS


@dataclass
class World:
    units: dict[str, int] = field(default_factory=dict)
    rooms: dict[str, int] = field(default_factory=dict)
    endpoints: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


USERS = {
    "admin": ("admin", "central"),
    "leader": ("leadership", "central"),
    "central_sec": ("secretariat", "central"),
    "laocai_admin": ("admin", "lao-cai"),
    "laocai_sec": ("secretariat", "lao-cai"),
    "laocai_op": ("operator", "lao-cai"),
    "laocai_leader": ("leadership", "lao-cai"),
    "dienbien_sec": ("secretariat", "dien-bien"),
    "dienbien_op": ("operator", "dien-bien"),
}


async def build_world(app: web.Application, api: Api) -> World:
    rooms = app[ROOMS]
    auth = app[AUTH]
    world = World(units={"central": 1})
    for code, name in (("lao-cai", "Tỉnh Lào Cai"), ("dien-bien", "Tỉnh Điện Biên")):
        unit = await rooms.create_unit(
            TEST_ACTOR, schemas.UnitCreate(code=code, name=name, level="province", parent_id=1)
        )
        world.units[code] = unit.id
    commune = await rooms.create_unit(
        TEST_ACTOR,
        schemas.UnitCreate(
            code="lao-cai.bac-ha",
            name="Xã Bắc Hà",
            level="commune",
            parent_id=world.units["lao-cai"],
        ),
    )
    world.units["lao-cai.bac-ha"] = commune.id
    for code in ("central", "lao-cai", "dien-bien", "lao-cai.bac-ha"):
        room = await rooms.create_room(
            TEST_ACTOR,
            schemas.RoomCreate(unit_id=world.units[code], name=f"Phòng họp {code}", seats=30),
        )
        world.rooms[code] = room.id
        endpoint = await rooms.create_endpoint(
            TEST_ACTOR,
            schemas.EndpointCreate(
                room_id=room.id,
                name=f"Thiết bị {code}",
                kind="sip",
                address=f"sip:phonghop@{code}.example.vn",
            ),
        )
        world.endpoints[code] = endpoint.id
    for username, (role, unit_code) in USERS.items():
        await auth.create_user(
            TEST_ACTOR,
            username=username,
            role=role,
            unit_id=world.units[unit_code],
            password=PASSWORD,
        )
        world.tokens[username] = await api.login(username)
    return world
