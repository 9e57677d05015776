"""The audit log: every write, with who, before and after; never a secret."""

from __future__ import annotations

import json
from datetime import datetime

from tests.api import Api, FakeClock
from tests.world import World


async def test_every_write_is_audited_with_before_and_after(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    room_id = world.rooms["lao-cai"]
    assert (await sec.patch(f"/api/rooms/{room_id}", {"name": "Phòng họp số 1"}))[0] == 200
    status, page = await api.as_(world.tokens["admin"]).get(
        f"/api/audit?entity=room&entity_id={room_id}"
    )
    assert status == 200
    latest = page["items"][0]
    assert latest["actor"] == "user:laocai_sec"
    assert latest["action"] == "update"
    assert latest["before"]["name"] == "Phòng họp lao-cai"
    assert latest["after"]["name"] == "Phòng họp số 1"
    assert latest["request_id"]


async def test_audit_is_scoped_and_free_of_secrets(api: Api, world: World) -> None:
    status, _ = await api.as_(world.tokens["admin"]).post(
        "/api/clients", {"name": "Trục liên thông", "unit_id": 1}
    )
    assert status == 201
    status, everything = await api.as_(world.tokens["admin"]).get("/api/audit?limit=500")
    text = json.dumps(everything)
    assert "password" not in text and "secret_hash" not in text and "argon2" not in text
    status, provincial = await api.as_(world.tokens["laocai_admin"]).get("/api/audit?limit=500")
    assert provincial["items"]
    assert all(item["entity"] != "client" for item in provincial["items"])
    touched = {(i["entity"], i["entity_id"]) for i in provincial["items"]}
    assert ("room", str(world.rooms["dien-bien"])) not in touched


async def test_an_entry_is_stamped_by_the_service_clock_not_the_wall(
    api: Api, world: World, clock: FakeClock
) -> None:
    # Ahead of the wall, inside the tokens' lifetime.
    clock.advance(minutes=7, seconds=13)
    status, _ = await api.as_(world.tokens["admin"]).post(
        "/api/clients", {"name": "Cổng tỉnh", "unit_id": 1}
    )
    assert status == 201
    status, page = await api.as_(world.tokens["admin"]).get("/api/audit?entity=client")
    assert status == 200
    assert datetime.fromisoformat(page["items"][0]["at"]) == clock.now
