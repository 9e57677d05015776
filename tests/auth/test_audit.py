"""The audit log: writes of every kind, with who, before and after; never a secret."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tests.api import Api, FakeClock
from tests.world import World


async def test_a_write_of_each_kind_is_audited_by_whom_and_what(
    api: Api, world: World, clock: FakeClock
) -> None:
    """One write of each kind the API offers (create, change, cancel or delete of units,
    rooms, endpoints, meetings, users, integration clients and calendar feeds), each found in
    the audit with its actor, action and entity."""
    admin = api.as_(world.tokens["admin"])
    sec = api.as_(world.tokens["central_sec"])
    op = api.as_(world.tokens["laocai_op"])
    start = clock.now.replace(microsecond=0) + timedelta(days=3)
    done: list[tuple[str, str, str, Any]] = []  # (actor, action, entity, id)

    async def write(caller: Api, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, answer = await caller.call(method, path, json=body, **kw)
        assert status in (200, 201, 204), (method, path, status, answer)
        return answer

    unit = await write(
        admin,
        "POST",
        "/api/units",
        {
            "code": "ha-giang",
            "name": "Hà Giang",
            "level": "province",
            "parent_id": world.units["central"],
        },
    )
    done.append(("user:admin", "create", "unit", unit["id"]))
    room = await write(
        api.as_(world.tokens["laocai_sec"]),
        "POST",
        "/api/rooms",
        {"unit_id": world.units["lao-cai"], "name": "Hội trường tầng 3", "seats": 40},
    )
    done.append(("user:laocai_sec", "create", "room", room["id"]))
    endpoint = await write(
        op,
        "POST",
        "/api/endpoints",
        {
            "room_id": room["id"],
            "name": "Thiết bị hội trường",
            "kind": "sip",
            "address": "sip:hoitruong@10.20.15.30",
        },
    )
    done.append(("user:laocai_op", "create", "endpoint", endpoint["id"]))
    meeting = await write(
        sec,
        "POST",
        "/api/meetings",
        {
            "title": "Giao ban chương trình",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": world.units["central"],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "host_room_id": world.rooms["central"],
            "sites": [{"room_id": world.rooms["central"]}, {"room_id": world.rooms["lao-cai"]}],
        },
    )
    done.append(("user:central_sec", "create", "meeting", meeting["id"]))
    await write(
        sec,
        "PATCH",
        f"/api/meetings/{meeting['id']}",
        {"title": "Giao ban quý IV"},
        headers={"If-Match": '"v1"'},
    )
    done.append(("user:central_sec", "update", "meeting", meeting["id"]))
    await write(sec, "DELETE", f"/api/meetings/{meeting['id']}", headers={"If-Match": '"v2"'})
    done.append(("user:central_sec", "cancel", "meeting", meeting["id"]))
    user = await write(
        admin,
        "POST",
        "/api/users",
        {
            "username": "thu_ky_moi",
            "role": "secretariat",
            "unit_id": world.units["lao-cai"],
            "password": "mot-mat-khau-dai-du",
        },
    )
    done.append(("user:admin", "create", "user", user["id"]))
    await write(
        admin,
        "POST",
        "/api/clients",
        {"name": "Cổng tỉnh", "unit_id": world.units["lao-cai"]},
    )
    done.append(("user:admin", "create", "client", None))
    feed = await write(
        api.as_(world.tokens["laocai_sec"]),
        "POST",
        "/api/calendar-tokens",
        {"unit_id": world.units["lao-cai"]},
    )
    done.append(("user:laocai_sec", "create", "calendar_token", feed.get("id")))
    await write(op, "DELETE", f"/api/endpoints/{endpoint['id']}")
    done.append(("user:laocai_op", "delete", "endpoint", endpoint["id"]))

    status, page = await admin.get("/api/audit?limit=500")
    assert status == 200
    entries = [(i["actor"], i["action"], i["entity"], i["entity_id"]) for i in page["items"]]
    missing = [
        (actor, action, entity, ident)
        for actor, action, entity, ident in done
        if not any(
            e[0] == actor
            and e[1] == action
            and e[2] == entity
            and (ident is None or e[3] == str(ident))
            for e in entries
        )
    ]
    assert not missing, (missing, entries[:40])


async def test_a_change_is_audited_with_before_and_after(api: Api, world: World) -> None:
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
