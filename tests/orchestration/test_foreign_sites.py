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


async def test_a_room_taken_out_of_a_live_meeting_is_hung_up_and_not_called_again(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    from vcorch.mcu_adapter.routes import REGISTRY

    app = app_client.server.app
    laocai = api.as_(world.tokens["laocai_sec"])
    start = clock.now.replace(microsecond=0) + timedelta(minutes=30)
    body = booking(
        world,
        start,
        organizer_unit_id=world.units["lao-cai"],
        host_room_id=world.rooms["lao-cai"],
        sites=[{"room_id": world.rooms[code]} for code in ("lao-cai", "central")],
    )
    status, meeting = await laocai.post("/api/meetings", body)
    assert status == 201, meeting
    asked = next(s for s in meeting["sites"] if s["room_id"] == world.rooms["central"])
    central = api.as_(world.tokens["central_sec"])
    path = f"/api/meetings/{meeting['id']}/sites/{asked['site_id']}"
    status, decided = await central.post(f"{path}/approval", {"decision": "accept"})
    assert status == 200, decided
    assert (await laocai.post(f"/api/meetings/{meeting['id']}/start"))[0] == 202
    await settle(app, clock)
    _, live = await laocai.get(f"/api/meetings/{meeting['id']}/live")
    states = {s["room_id"]: s["state"] for s in live["sites"]}
    assert states[world.rooms["central"]] == "connected", live

    # The central committee needs its room: it takes it out while the meeting runs.
    status, _ = await central.delete(path)
    assert status in (200, 204)
    await settle(app, clock)
    await settle(app, clock)
    _, live = await laocai.get(f"/api/meetings/{meeting['id']}/live")
    taken = next(s for s in live["sites"] if s["room_id"] == world.rooms["central"])
    assert taken["state"] == "disconnected", taken
    legs = [
        leg
        for bridge in app[REGISTRY]
        if hasattr(bridge, "mcu")
        for conference in bridge.mcu._conferences.values()
        for leg in conference.legs.values()
    ]
    assert taken["room_name"] not in {leg.display_name for leg in legs}, legs
    assert any(leg.display_name == "Phòng họp lao-cai" for leg in legs), legs
