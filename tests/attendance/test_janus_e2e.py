"""End to end on a real Janus: aiortc peers join, leave and rejoin an AudioBridge room; Janus'
event handler posts to vcorch's own hook route; the attendance report says what happened.

Janus is started per test here (not the harness' module-wide one) because its event handler
must post to this test's vcorch server, whose address is known only once it listens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.api import Api, make_settings
from tests.attendance.helpers import (
    book,
    end_run,
    launch,
    set_participants,
    stored_events,
    wait_for_events,
    whole_minute,
)
from tests.janus_harness.peer import AudioBridgePeer
from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim, require_janus
from tests.janus_harness.wiring import HOOK_SECRET, HOOK_USER, bridge_config
from tests.world import World, build_world
from vcorch.app import create_app
from vcorch.attendance.polling import record_poll
from vcorch.db.base import utcnow
from vcorch.mcu_adapter.base import ConferenceSpec, DialTarget
from vcorch.mcu_adapter.janus import JanusBridge
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.web.keys import SESSIONS

BRIDGE = "janus-e2e"
ROOMS = ("central", "lao-cai", "dien-bien")


@dataclass
class Stack:
    client: TestClient[Any, Any]
    api: Api
    world: World
    janus: JanusProcess
    http: aiohttp.ClientSession

    @property
    def bridge(self) -> JanusBridge:
        bridge = self.client.server.app[REGISTRY].get(BRIDGE)
        assert isinstance(bridge, JanusBridge)
        return bridge


@pytest.fixture
async def stack(database_url: str, tmp_path: Path, aiohttp_client: Any) -> AsyncIterator[Stack]:
    require_janus()
    janus_settings = JanusSettings(backend_user=HOOK_USER, backend_password=HOOK_SECRET)
    janus_folder = tmp_path / "janus"
    probe = JanusProcess(janus_folder, janus_settings)
    config = bridge_config(
        tmp_path,
        api_url=probe.http_url,
        admin_url=probe.admin_url,
        admin_secret=janus_settings.admin_secret,
        name=BRIDGE,
    )
    # No reconnect grace: each stay shows as it happened.
    settings = make_settings(database_url, bridges=[config], attendance_reconnect_grace_seconds=0)
    client = await aiohttp_client(create_app(settings, clock=utcnow, background=False))
    api = Api(client)
    world = await build_world(client.server.app, api)
    # Janus posts its events straight to this vcorch's hook route (basic auth).
    hook = str(client.make_url(f"/api/hooks/{BRIDGE}"))
    janus = JanusProcess(
        janus_folder,
        JanusSettings(
            event_backend=hook,
            backend_user=HOOK_USER,
            backend_password=HOOK_SECRET,
            admin_secret=janus_settings.admin_secret,
            http_port=janus_settings.http_port,
            admin_port=janus_settings.admin_port,
        ),
    )
    await asyncio.to_thread(janus.start, shim=build_shim())
    async with aiohttp.ClientSession() as http:
        try:
            yield Stack(client, api, world, janus, http)
        finally:
            await asyncio.to_thread(janus.stop)


def between(value: str | None, low: datetime, high: datetime, slack: float = 0.5) -> bool:
    assert value is not None
    moment = datetime.fromisoformat(value)
    return low - timedelta(seconds=slack) <= moment <= high + timedelta(seconds=slack)


async def test_peers_joining_leaving_and_rejoining_on_janus(stack: Stack) -> None:
    app = stack.client.server.app
    world = stack.world
    start = whole_minute(utcnow())
    end = start + timedelta(hours=1)
    meeting = await book(stack.api, world, start=start, end=end, rooms=ROOMS)
    bridge = stack.bridge
    ref = await bridge.create_conference(
        ConferenceSpec(
            key=f"meeting-{meeting['id']}", title="Hội nghị", expected_sites=3, audio_only=True
        )
    )
    # The run starts now (launched on time); the peers join within a second of it.
    run = await launch(
        app,
        world,
        meeting["id"],
        occurrence_key=start,
        start=utcnow(),
        end=end,
        status="live",
        bridge=BRIDGE,
        conference_id=ref.conference_id,
        rooms=ROOMS,
    )
    # What the orchestrator does: reserve each site's participant (its tag is the RunSite id).
    reserved = {}
    for code in ROOMS:
        placed = await bridge.dial_out(
            ref,
            DialTarget(
                site_id=str(run.sites[code]),
                kind="webrtc",
                address="",
                display_name=f"Điểm cầu {code}",
            ),
        )
        reserved[code] = placed.participant_id
    await set_participants(app, run, reserved)
    room = int(ref.conference_id)

    def peer(code: str | None, participant: int | None = None) -> AudioBridgePeer:
        return AudioBridgePeer(
            stack.http,
            stack.janus.http_url,
            room=room,
            participant_id=participant if participant is not None else int(reserved[code or ""]),
            display=f"Điểm cầu {code}" if code else "Khách",
        )

    peers: list[AudioBridgePeer] = []
    try:
        before_central = utcnow()
        central = peer("central")
        peers.append(central)
        await central.join()
        after_central = utcnow()

        before_lc = utcnow()
        lao_cai = peer("lao-cai")
        peers.append(lao_cai)
        await lao_cai.join()
        after_lc = utcnow()
        guest = peer(None, participant=4242)
        peers.append(guest)
        await guest.join()
        await asyncio.sleep(1.0)

        before_drop = utcnow()
        await lao_cai.leave()
        await lao_cai.close()
        await wait_for_events(
            app,
            BRIDGE,
            lambda got: any(
                e.kind == "leave" and e.participant_id == reserved["lao-cai"] for e in got
            ),
        )
        after_drop = utcnow()
        await asyncio.sleep(1.0)

        before_back = utcnow()
        again = peer("lao-cai")
        peers.append(again)
        await again.join()
        after_back = utcnow()
        await wait_for_events(
            app,
            BRIDGE,
            lambda got: (
                sum(e.kind == "join" and e.participant_id == reserved["lao-cai"] for e in got) == 2
            ),
        )
        # The supervisor's poll of the room finds nothing the pushed events missed.
        listed = await bridge.participants(ref)
        assert {p.participant_id for p in listed if p.connected} == {
            reserved["central"],
            reserved["lao-cai"],
            "4242",
        }
        assert (
            await record_poll(
                app[SESSIONS], run.run_id, BRIDGE, ref.conference_id, listed, utcnow()
            )
            == 0
        )
        await asyncio.sleep(1.0)

        # Live: still connected, no last leave yet.
        status, live = await stack.api.as_(world.tokens["central_sec"]).get(
            f"/api/meetings/{meeting['id']}/attendance"
        )
        assert status == 200, live
        sites = {s["room_id"]: s for s in live["sites"]}
        assert live["final"] is False
        assert sites[world.rooms["central"]]["still_connected"] is True
        assert sites[world.rooms["central"]]["last_leave"] is None

        before_end = utcnow()
        await bridge.end_conference(ref)
        await wait_for_events(app, BRIDGE, lambda got: sum(e.kind == "leave" for e in got) == 4)
        after_end = utcnow()
    finally:
        for item in peers:
            await item.close()
    await end_run(app, run, after_end)

    status, report = await stack.api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting['id']}/attendance"
    )
    assert status == 200, report
    assert report["final"] is True
    sites = {s["room_id"]: s for s in report["sites"]}
    central_site = sites[world.rooms["central"]]
    assert central_site["status"] == "present"
    assert between(central_site["first_join"], before_central, after_central)
    assert between(central_site["last_leave"], before_end, after_end)
    assert central_site["intervals"][0]["end_mark"] == "left"

    lc_site = sites[world.rooms["lao-cai"]]
    first, second = lc_site["intervals"]
    assert between(first["start"], before_lc, after_lc)
    assert between(first["end"], before_drop, after_drop)
    assert between(second["start"], before_back, after_back)
    assert between(second["end"], before_end, after_end)
    stayed = sum(
        (datetime.fromisoformat(i["end"]) - datetime.fromisoformat(i["start"])).total_seconds()
        for i in (first, second)
    )
    assert abs(lc_site["connected_seconds"] - stayed) <= 1
    [participant] = lc_site["participants"]
    assert participant["participant_id"] == reserved["lao-cai"]
    assert participant["bridge"] == BRIDGE and len(participant["intervals"]) == 2

    assert sites[world.rooms["dien-bien"]]["status"] == "absent"
    [stranger] = report["unmatched"]
    assert stranger["participant_id"] == "4242" and stranger["display_name"] == "Khách"
    # Every report was stored once, in order of Janus' own times.
    events = await stored_events(app, BRIDGE)
    assert len(events) == len({e.event_id for e in events}) == 8
    assert all(e.at.tzinfo is UTC or e.at.utcoffset() == timedelta(0) for e in events)
    # Ordered by the times Janus gave them, they tell what happened, as it happened; the
    # three leaves of the end share its moment, in any order among themselves.
    central_id, lc_id = reserved["central"], reserved["lao-cai"]
    told = [(e.kind, e.participant_id) for e in events]
    assert told[:5] == [
        ("join", central_id),
        ("join", lc_id),
        ("join", "4242"),
        ("leave", lc_id),
        ("join", lc_id),
    ], told
    assert sorted(told[5:]) == sorted([("leave", central_id), ("leave", lc_id), ("leave", "4242")])
    assert all(between(e.at.isoformat(), before_end, after_end) for e in events[5:]), told
