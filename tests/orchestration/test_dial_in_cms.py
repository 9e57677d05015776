"""Dial-in end to end on the Cisco Meeting Server emulator: the coSpace's call ID and
passcode reach the live view; a room vcorch cannot reach calls in with them (an incoming
call leg, reported by CDR), is recognised as its site by its endpoint's address and
counted in attendance with channel dial_in; the meeting's controls reach the call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api import Api
from tests.attendance.test_cms_e2e import BRIDGE, cms_settings, receive_cdrs
from tests.emulators.cisco_cms import CmsEmulator
from tests.orchestration.conftest import booking
from tests.world import World, build_world
from vcorch.app import create_app
from vcorch.db.base import utcnow
from vcorch.orchestration.routes import ORCHESTRATOR


@pytest.fixture
async def emulator() -> AsyncIterator[CmsEmulator]:
    emulated = CmsEmulator(ring_delay=0.05, ring_timeout=0.2)
    await emulated.start()
    try:
        yield emulated
    finally:
        await emulated.stop()


def by_code(live: dict[str, Any], world: World) -> dict[str, dict[str, Any]]:
    names = {room_id: code for code, room_id in world.rooms.items()}
    return {names[s["room_id"]]: s for s in live["sites"]}


async def until_live(
    app: Any, api: Api, meeting_id: int, check: Any, what: str, within: float = 10.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        await app[ORCHESTRATOR].step_all()
        status, live = await api.get(f"/api/meetings/{meeting_id}/live")
        assert status == 200, live
        if check(live):
            return live
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within} s: {what}: {live}")
        await asyncio.sleep(0.05)


async def test_a_room_calls_the_cms_meeting_by_call_id_and_passcode(
    database_url: str, tmp_path: Path, aiohttp_client: Any, emulator: CmsEmulator
) -> None:
    settings = cms_settings(database_url, tmp_path, emulator).model_copy(
        update={"dial_attempts": 1}
    )
    client = await aiohttp_client(create_app(settings, clock=utcnow, background=False))
    app = client.server.app
    api = Api(client)
    world = await build_world(app, api)
    await receive_cdrs(emulator, client)
    emulator.answering["phonghop@dien-bien.example.vn"] = False
    secretariat = api.as_(world.tokens["central_sec"])
    start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
    status, meeting = await secretariat.post("/api/meetings", booking(world, start))
    assert status == 201, meeting
    meeting_id = meeting["id"]
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/start")
    assert status == 202, body

    def settled(live: dict[str, Any]) -> bool:
        sites = by_code(live, world)
        return (
            sites["dien-bien"]["state"] == "fallback"
            and sites["lao-cai"]["state"] == "connected"
            and live["dial_in"] is not None
        )

    live = await until_live(app, secretariat, meeting_id, settled, "launched")
    cospace = next(iter(emulator.cospaces.values()))
    assert live["dial_in"]["number"] == cospace.call_id
    assert live["dial_in"]["pin"] == cospace.passcode
    assert cospace.call_id.isdigit() and len(cospace.passcode) == 6

    # Điện Biên's room calls the Call Bridge and types the numbers at its voice menu.
    assert emulator.dial_in_call(cospace.call_id, "999999", "phonghop@dien-bien.example.vn") is None
    leg = emulator.dial_in_call(cospace.call_id, cospace.passcode, "phonghop@dien-bien.example.vn")
    assert leg is not None
    live = await until_live(
        app,
        secretariat,
        meeting_id,
        lambda live: by_code(live, world)["dien-bien"]["state"] == "connected",
        "the dial-in recognised",
    )
    dien_bien = by_code(live, world)["dien-bien"]
    assert dien_bien["channel"] == "dial_in" and dien_bien["bridge"] == BRIDGE

    # The meeting's controls reach the call.
    call = next(iter(emulator.calls.values()))
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/layout", {"layout": "grid"})
    assert status == 200, body
    assert all(leg.layout == "allEqual" for leg in call.legs.values())
    assert cospace.default_layout == "allEqual"
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/mute-all", {"muted": True})
    assert status == 200, body
    assert all(leg.rx_audio_mute for leg in call.legs.values())
    assert call.settings["joinAudioMuteOverride"] == "true"
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/lock", {"locked": True})
    assert status == 200 and call.settings["locked"] == "true"
    status, body = await secretariat.post(
        f"/api/meetings/{meeting_id}/message", {"text": "Giải lao 10 phút", "seconds": 600}
    )
    assert status == 200, body
    assert (call.settings["messageText"], call.settings["messageDuration"]) == (
        "Giải lao 10 phút",
        "600",
    )

    # Attendance counts from the booked start and CDR times are whole seconds: stay in
    # for two seconds of the meeting proper.
    await asyncio.sleep(max(0.0, (start - utcnow()).total_seconds()) + 2.2)
    await emulator.drain_cdrs()
    status, ended = await secretariat.post(f"/api/meetings/{meeting_id}/end")
    assert status == 200, ended
    await emulator.drain_cdrs()
    status, report = await secretariat.get(f"/api/meetings/{meeting_id}/attendance")
    assert status == 200, report
    names = {room_id: code for code, room_id in world.rooms.items()}
    rows = {names[s["room_id"]]: s for s in report["sites"]}
    assert "dial_in" in rows["dien-bien"]["channels"], rows["dien-bien"]
    assert rows["dien-bien"]["took_part_via"] == "dial_in"
    assert rows["lao-cai"]["took_part_via"] == "room_system"
