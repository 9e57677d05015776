"""A site in another unit's room is dialled only once that unit has accepted it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api import Api, FakeClock
from tests.orchestration.conftest import booking, settle
from tests.world import World


def rooms_of(live: dict[str, Any], world: World) -> set[str]:
    names = {room_id: code for code, room_id in world.rooms.items()}
    return {names[s["room_id"]] for s in live["sites"]}


async def test_a_requested_room_is_neither_expected_nor_dialled_until_accepted(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    laocai = api.as_(world.tokens["laocai_sec"])
    start = clock.now.replace(microsecond=0) + timedelta(minutes=30)
    body = booking(
        world,
        start,
        organizer_unit_id=world.units["lao-cai"],
        host_room_id=world.rooms["lao-cai"],
        sites=[
            {"room_id": world.rooms[code]} for code in ("lao-cai", "lao-cai.bac-ha", "dien-bien")
        ],
    )
    status, meeting = await laocai.post("/api/meetings", body)
    assert status == 201, meeting
    asked = next(s for s in meeting["sites"] if s["room_id"] == world.rooms["dien-bien"])
    assert asked["approval"] == "pending"
    status, before = await laocai.get(f"/api/meetings/{meeting['id']}/live")
    assert status == 200, before
    assert rooms_of(before, world) == {"lao-cai", "lao-cai.bac-ha"}
    # The unit asked for its room cannot see the meeting's live view either.
    dienbien = api.as_(world.tokens["dienbien_sec"])
    assert (await dienbien.get(f"/api/meetings/{meeting['id']}/live"))[0] == 404

    status, started = await laocai.post(f"/api/meetings/{meeting['id']}/start")
    assert status == 202, started
    await settle(app, clock)
    status, live = await laocai.get(f"/api/meetings/{meeting['id']}/live")
    assert status == 200, live
    assert rooms_of(live, world) == {"lao-cai", "lao-cai.bac-ha"}
