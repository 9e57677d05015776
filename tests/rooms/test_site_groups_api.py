"""Site groups over HTTP: saved sets of sites a secretariat adds to meetings at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import Api
from tests.world import World


def fields(body: dict[str, Any]) -> set[str]:
    return {item["field"] for item in body["errors"]}


async def test_central_saves_all_provinces_by_rule_and_sees_each_province_room(
    api: Api, world: World
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, group = await sec.post(
        "/api/site-groups",
        {
            "unit_id": world.units["central"],
            "name": "Tất cả các tỉnh",
            "rule": {"unit_id": world.units["central"], "level": "province"},
        },
    )
    assert status == 201, group
    assert {m["room_id"] for m in group["members"]} == {
        world.rooms["lao-cai"],
        world.rooms["dien-bien"],
    }
    assert all(not m["listed"] and m["unit_level"] == "province" for m in group["members"])
    assert group["hidden_members"] == 0
    status, read = await sec.get(f"/api/site-groups/{group['id']}")
    assert status == 200 and read["name"] == "Tất cả các tỉnh"
    # The rule follows the tree: a new province room is a member without editing the group.
    status, room = await api.as_(world.tokens["admin"]).post(
        "/api/rooms",
        {"unit_id": world.units["lao-cai"], "name": "Hội trường tỉnh", "seats": 200},
    )
    assert status == 201, room
    status, read = await sec.get(f"/api/site-groups/{group['id']}")
    assert room["id"] in {m["room_id"] for m in read["members"]}
    status, found = await sec.get("/api/site-groups?q=tat%20ca%20cac%20tinh")
    assert [g["id"] for g in found["items"]] == [group["id"]]


async def test_listed_group_is_edited_with_its_version_and_audited(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    body = {
        "unit_id": world.units["lao-cai"],
        "name": "Tỉnh và xã Bắc Hà",
        "room_ids": [world.rooms["lao-cai.bac-ha"], world.rooms["lao-cai"]],
    }
    status, group = await sec.post("/api/site-groups", body)
    assert status == 201, group
    # Listed rooms keep the order they were listed in.
    assert [m["room_id"] for m in group["members"]] == body["room_ids"]
    path = f"/api/site-groups/{group['id']}"
    renamed = {**body, "name": "Lào Cai: tỉnh và xã", "room_ids": [world.rooms["lao-cai"]]}
    assert (await sec.call("PUT", path, json=renamed))[0] == 428
    status, changed = await sec.call("PUT", path, json=renamed, headers={"If-Match": '"v1"'})
    assert status == 200, changed
    assert changed["version"] == 2 and changed["room_ids"] == [world.rooms["lao-cai"]]
    # Someone else still holding version 1 is told it changed.
    status, stale = await sec.call("PUT", path, json=body, headers={"If-Match": '"v1"'})
    assert status == 412 and stale["type"].endswith("stale-version"), stale
    assert (await sec.delete(path, headers={"If-Match": '"v1"'}))[0] == 412
    assert (await sec.delete(path, headers={"If-Match": '"v2"'}))[0] == 204
    assert (await sec.get(path))[0] == 404
    status, page = await api.as_(world.tokens["admin"]).get("/api/audit?entity=site_group")
    assert status == 200, page
    assert sorted(item["action"] for item in page["items"]) == ["create", "delete", "update"]


async def test_groups_are_seen_within_scope_and_hide_members_outside_it(
    api: Api, world: World
) -> None:
    central = api.as_(world.tokens["central_sec"])
    # Central keeps a group for Lào Cai that also lists Điện Biên's room.
    status, group = await central.post(
        "/api/site-groups",
        {
            "unit_id": world.units["lao-cai"],
            "name": "Lào Cai cùng Điện Biên",
            "room_ids": [world.rooms["lao-cai"], world.rooms["dien-bien"]],
        },
    )
    assert status == 201, group
    laocai = api.as_(world.tokens["laocai_sec"])
    status, seen = await laocai.get(f"/api/site-groups/{group['id']}")
    assert status == 200, seen
    assert [m["room_id"] for m in seen["members"]] == [world.rooms["lao-cai"]]
    assert seen["room_ids"] == [world.rooms["lao-cai"]]
    assert seen["hidden_members"] == 1
    assert "Phòng họp dien-bien" not in str(seen)
    # Điện Biên does not see Lào Cai's group at all; an operator reads but cannot write.
    dienbien = api.as_(world.tokens["dienbien_sec"])
    assert (await dienbien.get(f"/api/site-groups/{group['id']}"))[0] == 404
    status, listed = await dienbien.get("/api/site-groups")
    assert status == 200 and listed["items"] == []
    operator = api.as_(world.tokens["laocai_op"])
    assert (await operator.get(f"/api/site-groups/{group['id']}"))[0] == 200
    status, _ = await operator.post(
        "/api/site-groups",
        {"unit_id": world.units["lao-cai"], "name": "x", "room_ids": [world.rooms["lao-cai"]]},
    )
    assert status == 403
    # A unit a group refers to cannot be deleted from under it.
    admin = api.as_(world.tokens["admin"])
    status, unit = await admin.post(
        "/api/units",
        {
            "code": "lao-cai.si-ma-cai",
            "name": "Xã Si Ma Cai",
            "level": "commune",
            "parent_id": world.units["lao-cai"],
        },
    )
    assert status == 201, unit
    status, ruled = await laocai.post(
        "/api/site-groups",
        {"unit_id": world.units["lao-cai"], "name": "Si Ma Cai", "rule": {"unit_id": unit["id"]}},
    )
    assert status == 201 and ruled["members"] == [], ruled
    status, refused = await admin.delete(f"/api/units/{unit['id']}")
    assert status == 409, refused
    assert {"kind": "site_group", "id": ruled["id"], "name": "Si Ma Cai"} in refused["references"]


@pytest.mark.parametrize(
    ("who", "payload", "status", "field"),
    [
        ("laocai_sec", {"name": "Trống"}, 422, "room_ids"),
        ("laocai_sec", {"name": "Hai lần", "room_ids": ["lao-cai", "lao-cai"]}, 422, "room_ids"),
        ("laocai_sec", {"name": "Không có", "room_ids": [999999]}, 422, "room_ids"),
        ("laocai_sec", {"name": "Ngoài", "room_ids": ["dien-bien"]}, 403, "room_ids"),
        (
            "laocai_sec",
            {"name": "Quy tắc", "rule": {"unit_id": "dien-bien", "level": None}},
            403,
            "rule.unit_id",
        ),
        (
            "laocai_sec",
            {"name": "Cấp lạ", "rule": {"unit_id": "lao-cai", "level": "hamlet"}},
            422,
            "rule.level",
        ),
        ("laocai_sec", {"name": "Lạ", "room_ids": ["lao-cai"], "colour": "red"}, 422, "colour"),
        ("laocai_sec", {"name": "", "room_ids": ["lao-cai"]}, 422, "name"),
    ],
)
async def test_bad_site_groups_are_refused(
    api: Api, world: World, who: str, payload: dict[str, Any], status: int, field: str
) -> None:
    body: dict[str, Any] = {"unit_id": world.units["lao-cai"], **payload}
    body["room_ids"] = [
        world.rooms.get(r, r) if isinstance(r, str) else r for r in body.get("room_ids", [])
    ]
    if body.get("rule"):
        body["rule"] = {**body["rule"], "unit_id": world.units[body["rule"]["unit_id"]]}
    got, answer = await api.as_(world.tokens[who]).post("/api/site-groups", body)
    assert got == status, answer
    assert field in fields(answer), answer


async def test_a_deleted_room_leaves_the_groups_that_listed_it(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    status, room = await sec.post(
        "/api/rooms", {"unit_id": world.units["lao-cai"], "name": "Phòng tạm", "seats": 5}
    )
    status, group = await sec.post(
        "/api/site-groups",
        {
            "unit_id": world.units["lao-cai"],
            "name": "Tạm",
            "room_ids": [room["id"], world.rooms["lao-cai"]],
        },
    )
    assert status == 201, group
    assert (await sec.delete(f"/api/rooms/{room['id']}"))[0] == 204
    status, read = await sec.get(f"/api/site-groups/{group['id']}")
    assert read["room_ids"] == [world.rooms["lao-cai"]]
