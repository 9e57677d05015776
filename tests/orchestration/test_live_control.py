"""Live control over HTTP: who may start, end, extend, redial, drop and mute what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api import Api, FakeClock
from tests.orchestration.conftest import book, settle
from tests.world import World
from vcorch.mcu_adapter.routes import BRIDGE_HEALTH, REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.scheduler.routes import SCHEDULER


def site_of(live: dict[str, Any], room_id: int) -> dict[str, Any]:
    return next(s for s in live["sites"] if s["room_id"] == room_id)


async def started(api: Api, world: World, clock: FakeClock, app: Any) -> tuple[int, Api]:
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    secretariat = api.as_(world.tokens["central_sec"])
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/start")
    assert status == 202, body
    assert body["status"] in ("launching", "live")
    await settle(app, clock)
    return meeting_id, secretariat


async def test_who_may_start_and_read(api: Api, world: World, clock: FakeClock) -> None:
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    for user in ("leader", "laocai_op", "laocai_sec"):
        status, body = await api.as_(world.tokens[user]).post(f"/api/meetings/{meeting_id}/start")
        assert status in (403, 404), (user, body)
    # Before the start the live view lists the booked sites as pending.
    status, body = await api.as_(world.tokens["leader"]).get(f"/api/meetings/{meeting_id}/live")
    assert status == 200 and body["status"] == "scheduled"
    assert {s["state"] for s in body["sites"]} == {"pending"}
    # A province whose room takes part reads the live view; one without a room does not
    # exist for it.
    assert (await api.as_(world.tokens["laocai_op"]).get(f"/api/meetings/{meeting_id}/live"))[
        0
    ] == 200
    status, body = await api.as_(world.tokens["laocai_leader"]).get("/api/meetings/999/live")
    assert status == 404 and body["type"].endswith("not-found")


async def test_start_twice_is_one_launch_and_a_meeting_far_off_cannot_start(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id, secretariat = await started(api, world, clock, app)
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/start")
    assert status == 202
    assert body["run_id"] is not None
    later = await book(
        api,
        world,
        clock.now.replace(microsecond=0) + timedelta(days=3),
        sites=[{"room_id": world.rooms["dien-bien"]}],
        host_room_id=None,
    )
    status, body = await secretariat.post(f"/api/meetings/{later}/start")
    assert status == 409 and "within the hour" in body["detail"]
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/end")
    assert status == 200 and body["status"] == "ended"
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/end")
    assert status == 409


async def test_operators_act_on_their_own_sites_only(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id, _ = await started(api, world, clock, app)
    status, live = await api.as_(world.tokens["laocai_op"]).get(f"/api/meetings/{meeting_id}/live")
    laocai = site_of(live, world.rooms["lao-cai"])
    bac_ha = site_of(live, world.rooms["lao-cai.bac-ha"])
    # A province sees its own units' sites only: not the central room, not Điện Biên's (nor
    # its browser link), and none of the meeting's incidents.
    assert {s["room_id"] for s in live["sites"]} == {laocai["room_id"], bac_ha["room_id"]}
    assert live["incidents"] == []
    _, whole = await api.as_(world.tokens["central_sec"]).get(f"/api/meetings/{meeting_id}/live")
    central = site_of(whole, world.rooms["central"])
    assert laocai["state"] == "connected"
    base = f"/api/meetings/{meeting_id}/sites"
    operator = api.as_(world.tokens["laocai_op"])

    status, body = await operator.post(f"{base}/{central['site_id']}/mute")
    assert status == 403, body
    status, body = await api.as_(world.tokens["dienbien_op"]).post(
        f"{base}/{laocai['site_id']}/disconnect"
    )
    assert status == 403, body

    status, body = await operator.post(f"{base}/{laocai['site_id']}/mute")
    assert status == 200 and site_of(body, world.rooms["lao-cai"])["muted"] is True
    bridge = app[REGISTRY]["mcu-a"]
    assert isinstance(bridge, SimulatedBridge)
    conference = next(iter(bridge.mcu._conferences.values()))
    assert [leg.muted for leg in conference.legs.values() if leg.site_id is not None].count(
        True
    ) == 1
    status, body = await operator.post(f"{base}/{laocai['site_id']}/unmute")
    assert status == 200 and site_of(body, world.rooms["lao-cai"])["muted"] is False

    # A commune's room is in the province's subtree.
    status, body = await operator.post(f"{base}/{bac_ha['site_id']}/disconnect")
    assert status == 200 and site_of(body, world.rooms["lao-cai.bac-ha"])["state"] == (
        "disconnected"
    )
    await settle(app, clock)
    status, live = await operator.get(f"/api/meetings/{meeting_id}/live")
    # Dropped on purpose: the supervisor does not call it back ...
    assert site_of(live, world.rooms["lao-cai.bac-ha"])["state"] == "disconnected"
    # ... until someone asks.
    status, body = await operator.post(f"{base}/{bac_ha['site_id']}/redial")
    assert status == 200
    await settle(app, clock)
    status, live = await operator.get(f"/api/meetings/{meeting_id}/live")
    assert site_of(live, world.rooms["lao-cai.bac-ha"])["state"] == "connected"
    status, body = await operator.post(f"{base}/424242/redial")
    assert status == 404


async def test_an_operator_link_for_a_site_and_the_fallback_link(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id, _ = await started(api, world, clock, app)
    status, live = await api.as_(world.tokens["dienbien_op"]).get(
        f"/api/meetings/{meeting_id}/live"
    )
    dien_bien = site_of(live, world.rooms["dien-bien"])
    assert dien_bien["state"] == "fallback" and dien_bien["fallback_url"]
    status, body = await api.as_(world.tokens["dienbien_op"]).post(
        f"/api/meetings/{meeting_id}/sites/{dien_bien['site_id']}/link"
    )
    assert status == 201, body
    assert body["url"].startswith("http://127.0.0.1:8080/join/")


async def test_extending_moves_the_end(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id, secretariat = await started(api, world, clock, app)
    status, before = await secretariat.get(f"/api/meetings/{meeting_id}/live")
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/extend", {"minutes": 30})
    assert status == 200, body
    assert body["end"] > before["end"]
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/extend", {"minutes": 0})
    assert status == 422 and body["errors"][0]["field"] == "minutes"
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/extend", {"minutes": 240})
    assert status == 409
    # The booked end passes: the meeting goes on until the extended one.
    scheduler = app[SCHEDULER]
    clock.advance(minutes=62)
    await scheduler.tick()
    secretariat = api.as_(await api.login("central_sec"))  # the old token has expired
    assert (await secretariat.get(f"/api/meetings/{meeting_id}/live"))[1]["status"] == "live"
    clock.advance(minutes=30)
    await scheduler.tick()
    secretariat = api.as_(await api.login("central_sec"))
    assert (await secretariat.get(f"/api/meetings/{meeting_id}/live"))[1]["status"] == "ended"


async def test_with_every_bridge_down_the_whole_meeting_falls_back(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    for name in ("mcu-a", "mcu-b"):
        bridge = app[REGISTRY][name]
        assert isinstance(bridge, SimulatedBridge)
        bridge.mcu.down = True
    await app[BRIDGE_HEALTH].refresh()
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    secretariat = api.as_(world.tokens["central_sec"])
    status, _ = await secretariat.post(f"/api/meetings/{meeting_id}/start")
    assert status == 202
    await app[ORCHESTRATOR].step_all()
    status, live = await secretariat.get(f"/api/meetings/{meeting_id}/live")
    assert live["whole_fallback"] is True
    assert {s["state"] for s in live["sites"]} == {"fallback"}
    assert all(s["fallback_url"] for s in live["sites"])
    assert [i["kind"] for i in live["incidents"]] == ["whole_fallback"]
