"""Rooms and endpoints over HTTP: the registry operators keep of every room system."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import Api
from tests.world import World


def fields(body: dict[str, Any]) -> set[str]:
    return {item["field"] for item in body["errors"]}


async def test_secretariat_manages_rooms_of_its_subtree(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    status, room = await sec.post(
        "/api/rooms",
        {
            "unit_id": world.units["lao-cai.bac-ha"],
            "name": "Hội trường xã",
            "seats": 80,
            "location": "Tầng 2, trụ sở UBND xã",
        },
    )
    assert status == 201, room
    status, changed = await sec.patch(f"/api/rooms/{room['id']}", {"seats": 90, "location": None})
    assert status == 200 and changed["seats"] == 90 and changed["location"] is None
    status, found = await sec.get("/api/rooms?q=hoi%20truong")
    assert [r["id"] for r in found["items"]] == [room["id"]]
    status, within = await sec.get(f"/api/rooms?within={world.units['lao-cai.bac-ha']}")
    assert {r["id"] for r in within["items"]} == {room["id"], world.rooms["lao-cai.bac-ha"]}
    assert (await sec.delete(f"/api/rooms/{room['id']}"))[0] == 204


async def test_endpoints_are_filtered_by_kind_subtree_and_text(api: Api, world: World) -> None:
    op = api.as_(world.tokens["laocai_op"])
    status, h323 = await op.post(
        "/api/endpoints",
        {
            "room_id": world.rooms["lao-cai"],
            "name": "Polycom HDX",
            "kind": "h323",
            "address": "h323:0215001@10.20.15.11",
            "vendor": "Polycom",
            "model": "HDX 7000",
            "management_url": "https://10.20.15.11/",
            "probe_interval_seconds": 30,
        },
    )
    assert status == 201, h323
    status, listed = await op.get("/api/endpoints?kind=h323")
    assert [e["id"] for e in listed["items"]] == [h323["id"]]
    status, listed = await op.get("/api/endpoints?q=polycom")
    assert [e["id"] for e in listed["items"]] == [h323["id"]]
    status, listed = await op.get(f"/api/endpoints?room_id={world.rooms['lao-cai']}")
    assert {e["id"] for e in listed["items"]} == {h323["id"], world.endpoints["lao-cai"]}
    status, listed = await op.get("/api/endpoints")
    assert world.endpoints["dien-bien"] not in {e["id"] for e in listed["items"]}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "sip", "address": "not an address"}, "address"),
        ({"kind": "h323", "address": "h323:has space@host"}, "address"),
        ({"kind": "isdn", "address": "0123"}, "kind"),
        ({"kind": "sip", "address": "sip:a@b", "management_url": "ftp://x"}, "management_url"),
        (
            {"kind": "sip", "address": "sip:a@b", "probe_interval_seconds": 1},
            "probe_interval_seconds",
        ),
        ({"kind": "sip", "address": "sip:a@b", "room_id": 999999}, "room_id"),
        ({"kind": "sip", "address": "sip:a@b", "secret": "x"}, "secret"),
    ],
)
async def test_bad_endpoint_input_is_refused(
    api: Api, world: World, payload: dict[str, Any], field: str
) -> None:
    body = {"room_id": world.rooms["lao-cai"], "name": "Thiết bị", **payload}
    status, problem = await api.as_(world.tokens["laocai_op"]).post("/api/endpoints", body)
    assert 400 <= status < 500, problem
    assert field in fields(problem)
    status, listed = await api.as_(world.tokens["laocai_op"]).get(
        f"/api/endpoints?room_id={world.rooms['lao-cai']}"
    )
    assert len(listed["items"]) == 1


async def test_patch_revalidates_the_address_against_the_kind(api: Api, world: World) -> None:
    op = api.as_(world.tokens["laocai_op"])
    status, body = await op.patch(f"/api/endpoints/{world.endpoints['lao-cai']}", {"kind": "h323"})
    # "sip:phonghop@lao-cai.example.vn" is not an H.323 address; nothing changes.
    assert status == 422 and fields(body) == {"address"}
    status, endpoint = await op.get(f"/api/endpoints/{world.endpoints['lao-cai']}")
    assert endpoint["kind"] == "sip"


async def test_a_room_with_endpoints_cannot_be_deleted(api: Api, world: World) -> None:
    status, body = await api.as_(world.tokens["laocai_sec"]).delete(
        f"/api/rooms/{world.rooms['lao-cai']}"
    )
    assert status == 409
    assert body["references"] == [
        {"kind": "endpoint", "id": world.endpoints["lao-cai"], "name": "Thiết bị lao-cai"}
    ]
    op = api.as_(world.tokens["laocai_op"])
    assert (await op.delete(f"/api/endpoints/{world.endpoints['lao-cai']}"))[0] == 204
    assert (
        await api.as_(world.tokens["laocai_sec"]).delete(f"/api/rooms/{world.rooms['lao-cai']}")
    )[0] == 204
