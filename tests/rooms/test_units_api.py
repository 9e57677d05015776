"""Units over HTTP: create, read, filter, page, move, delete, and every bad input refused whole."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import Api
from tests.world import World


def fields(body: dict[str, Any]) -> set[str]:
    return {item["field"] for item in body["errors"]}


async def unit_count(api: Api) -> int:
    count, cursor = 0, None
    while True:
        status, body = await api.get(
            "/api/units?limit=500" + (f"&cursor={cursor}" if cursor else "")
        )
        assert status == 200
        count += len(body["items"])
        cursor = body["next"]
        if cursor is None:
            return count


async def test_admin_creates_reads_and_filters_units(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    status, body = await admin.post(
        "/api/units",
        {"code": "lai-chau", "name": "Tỉnh Lai Châu", "level": "province", "parent_id": 1},
    )
    assert status == 201, body
    assert body["code"] == "lai-chau" and body["parent_id"] == 1
    status, read = await admin.get(f"/api/units/{body['id']}")
    assert status == 200 and read["name"] == "Tỉnh Lai Châu"

    status, found = await admin.get("/api/units?q=LAI%20CHAU")
    assert [u["code"] for u in found["items"]] == ["lai-chau"]
    status, provinces = await admin.get("/api/units?level=province")
    assert {u["code"] for u in provinces["items"]} == {"lao-cai", "dien-bien", "lai-chau"}
    status, children = await admin.get(f"/api/units?parent_id={world.units['lao-cai']}")
    assert [u["code"] for u in children["items"]] == ["lao-cai.bac-ha"]
    status, subtree = await admin.get(f"/api/units?within={world.units['lao-cai']}")
    assert {u["code"] for u in subtree["items"]} == {"lao-cai", "lao-cai.bac-ha"}


async def test_names_are_stored_in_nfc(api: Api, world: World) -> None:
    decomposed = "Tỉnh Hà Giang".replace("ỉ", "i\u0309").replace("à", "a\u0300")
    status, body = await api.as_(world.tokens["admin"]).post(
        "/api/units", {"code": "ha-giang", "name": decomposed, "level": "province", "parent_id": 1}
    )
    assert status == 201
    assert body["name"] == "Tỉnh Hà Giang"


async def test_pagination_walks_every_unit_once(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    for index in range(7):
        status, _ = await admin.post(
            "/api/units",
            {
                "code": f"xa-{index}",
                "name": f"Xã số {index}",
                "level": "commune",
                "parent_id": world.units["dien-bien"],
            },
        )
        assert status == 201
    seen: list[int] = []
    cursor = None
    while True:
        status, body = await admin.get(
            "/api/units?limit=3" + (f"&cursor={cursor}" if cursor else "")
        )
        assert status == 200 and len(body["items"]) <= 3
        seen += [u["id"] for u in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4 + 7


@pytest.mark.parametrize(
    ("payload", "field", "status"),
    [
        (
            {"code": "x", "name": "X", "level": "province", "parent_id": 1, "colour": "red"},
            "colour",
            422,
        ),
        ({"code": "x", "name": "X", "level": "province", "parent_id": "1"}, "parent_id", 422),
        ({"code": "x", "name": "X" * 256, "level": "province", "parent_id": 1}, "name", 422),
        (
            {"code": "x", "name": "bad \ud800 text", "level": "province", "parent_id": 1},
            "name",
            422,
        ),
        ({"code": "x", "name": "tab\x07bell", "level": "province", "parent_id": 1}, "name", 422),
        ({"code": "x", "name": "   ", "level": "province", "parent_id": 1}, "name", 422),
        ({"code": "Has Spaces", "name": "X", "level": "province", "parent_id": 1}, "code", 422),
        ({"code": "x", "name": "X", "level": "province", "parent_id": 99999}, "parent_id", 422),
        ({"code": "x", "name": "X", "level": "province", "parent_id": None}, "parent_id", 422),
        ({"code": "x", "name": "X", "level": "galaxy", "parent_id": 1}, "level", 422),
        ({"code": "x", "name": "X", "level": "central", "parent_id": 1}, "level", 422),
        (
            {
                "code": "x",
                "name": "X",
                "level": "province",
                "parent_id": 1,
                "timezone": "Mars/Olympus",
            },
            "timezone",
            422,
        ),
        ({"code": "lao-cai", "name": "Trùng", "level": "province", "parent_id": 1}, "code", 409),
        ({"name": "X", "level": "province", "parent_id": 1}, "code", 422),
    ],
)
async def test_bad_unit_input_is_refused_with_the_field_named(
    api: Api, world: World, payload: dict[str, Any], field: str, status: int
) -> None:
    admin = api.as_(world.tokens["admin"])
    before = await unit_count(admin)
    got, body = await admin.post("/api/units", payload)
    assert got == status, body
    assert body["type"].startswith("urn:vcorch:problem:")
    assert field in fields(body)
    assert await unit_count(admin) == before


async def test_a_unit_cannot_move_under_itself_or_its_descendant(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    laocai = world.units["lao-cai"]
    for parent in (laocai, world.units["lao-cai.bac-ha"]):
        status, body = await admin.patch(f"/api/units/{laocai}", {"parent_id": parent})
        assert status == 422, body
        assert fields(body) == {"parent_id"}
    status, unit = await admin.get(f"/api/units/{laocai}")
    assert unit["parent_id"] == 1


async def test_moving_a_unit_moves_its_subtree_and_scope(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    commune = world.units["lao-cai.bac-ha"]
    status, body = await admin.patch(
        f"/api/units/{commune}", {"parent_id": world.units["dien-bien"]}
    )
    assert status == 200, body
    # The commune's room now belongs to Điện Biên's scope, not Lào Cai's.
    status, _ = await api.as_(world.tokens["dienbien_sec"]).get(
        f"/api/rooms/{world.rooms['lao-cai.bac-ha']}"
    )
    assert status == 200
    status, _ = await api.as_(world.tokens["laocai_sec"]).get(
        f"/api/rooms/{world.rooms['lao-cai.bac-ha']}"
    )
    assert status == 404


async def test_deleting_a_referenced_unit_says_what_refers_to_it(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    status, body = await admin.delete(f"/api/units/{world.units['lao-cai']}")
    assert status == 409
    kinds = {(ref["kind"], ref["id"]) for ref in body["references"]}
    assert ("unit", world.units["lao-cai.bac-ha"]) in kinds
    assert ("room", world.rooms["lao-cai"]) in kinds
    assert any(kind == "user" for kind, _ in kinds)
    status, _ = await admin.get(f"/api/units/{world.units['lao-cai']}")
    assert status == 200


async def test_a_unit_with_an_integration_client_is_not_deleted(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    status, unit = await admin.post(
        "/api/units",
        {
            "code": "co-khach",
            "name": "Có khách",
            "level": "commune",
            "parent_id": world.units["dien-bien"],
        },
    )
    assert status == 201, unit
    status, client = await admin.post("/api/clients", {"name": "cổng tỉnh", "unit_id": unit["id"]})
    assert status == 201, client
    status, body = await admin.delete(f"/api/units/{unit['id']}")
    assert status == 409
    assert [(ref["kind"], ref["id"]) for ref in body["references"]] == [("client", client["id"])]


async def test_an_unreferenced_unit_is_deleted(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    status, unit = await admin.post(
        "/api/units",
        {"code": "tam", "name": "Tạm", "level": "commune", "parent_id": world.units["dien-bien"]},
    )
    assert status == 201
    assert (await admin.delete(f"/api/units/{unit['id']}"))[0] == 204
    assert (await admin.get(f"/api/units/{unit['id']}"))[0] == 404


async def test_levels_are_data(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    status, body = await admin.post(
        "/api/unit-levels", {"code": "hamlet", "name": "Thôn, bản", "rank": 40}
    )
    assert status == 201, body
    status, unit = await admin.post(
        "/api/units",
        {
            "code": "ban-pho",
            "name": "Bản Phố",
            "level": "hamlet",
            "parent_id": world.units["lao-cai.bac-ha"],
        },
    )
    assert status == 201, unit
    status, levels = await admin.get("/api/unit-levels")
    assert [level["code"] for level in levels["items"]][-1] == "hamlet"
    status, body = await api.as_(world.tokens["laocai_admin"]).post(
        "/api/unit-levels", {"code": "x", "name": "X", "rank": 50}
    )
    assert status == 403
