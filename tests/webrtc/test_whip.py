"""Joining the built-in bridge over WHIP with real aiortc peers, as browsers would."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from tests.api import Api, FakeClock
from tests.webrtc.live import SDP, Whip, link_for, live_meeting
from tests.webrtc.peers import Peer, dominant
from tests.world import World
from vcorch.access.models import AuditEntry
from vcorch.bridge_events.models import BridgeEventRecord
from vcorch.mcu_adapter.base import ConferenceRef
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.orchestration.models import RunConference
from vcorch.web.keys import SESSIONS

TONES = {"central": 440.0, "lao-cai": 660.0, "dien-bien": 880.0}


async def until(check: Any, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def stored_events(app: Any, kind: str) -> list[BridgeEventRecord]:
    async with app[SESSIONS]() as session:
        return list(
            (
                await session.execute(
                    select(BridgeEventRecord)
                    .where(BridgeEventRecord.kind == kind)
                    .order_by(BridgeEventRecord.id)
                )
            ).scalars()
        )


async def test_three_sites_hear_each_other_and_not_themselves(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    live = await live_meeting(app, api, world, clock.now)
    peers = {code: Peer(code, hz) for code, hz in TONES.items()}
    whips = {code: Whip(app_client, await link_for(api, world, live, code)) for code in TONES}
    try:
        await asyncio.gather(*(peers[code].join(whips[code]) for code in TONES))

        async def three_joined() -> bool:
            return len(await stored_events(app, "join")) == 3

        await until(three_joined)
        joins = await stored_events(app, "join")
        # Attendance reads these like any bridge's: the run site is the site id.
        assert sorted(e.site_id or "" for e in joins) == sorted(
            str(live.run_sites[code]) for code in TONES
        )
        assert {e.bridge for e in joins} == {"webrtc"}
        assert {e.conference_id for e in joins} == {f"run-{live.run_id}"}
        async with app[SESSIONS]() as session:
            recorded = (
                await session.execute(
                    select(RunConference).where(RunConference.run_id == live.run_id)
                )
            ).scalars()
            roles = {(row.bridge, row.role) for row in recorded}
        assert roles == {("mo-phong", "host"), ("webrtc", "fallback")}

        await asyncio.sleep(0.5)
        for peer in peers.values():
            peer.recording = True
        for _ in range(200):
            if all(p.received_seconds() >= 1.2 for p in peers.values()):
                break
            await asyncio.sleep(0.05)
        for code, peer in peers.items():
            spectrum = peer.spectrum_at(list(TONES.values()))
            others = {hz for other, hz in TONES.items() if other != code}
            assert dominant(spectrum) == others, (code, spectrum)
            assert spectrum[TONES[code]] < 0.02, (code, spectrum)

        for whip in whips.values():
            assert await whip.leave() == 204
        assert await whips["central"].leave() == 404  # gone already

        async def three_left() -> bool:
            return len(await stored_events(app, "leave")) == 3

        await until(three_left)
        leaves = await stored_events(app, "leave")
        assert {e.reason for e in leaves} == {"left"}
    finally:
        await asyncio.gather(*(peer.close() for peer in peers.values()))


async def test_a_second_connection_with_the_same_link_replaces_the_first(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    live = await live_meeting(app, api, world, clock.now)
    token = await link_for(api, world, live, "lao-cai")
    first, second = Peer("first", 440.0), Peer("second", 660.0)
    first_whip, second_whip = Whip(app_client, token), Whip(app_client, token)
    try:
        await first.join(first_whip)
        await second.join(second_whip)

        async def first_dropped() -> bool:
            return first.pc.connectionState in ("closed", "failed")

        await until(first_dropped)
        bridge = app[REGISTRY]["webrtc"]
        ref = ConferenceRef("webrtc", f"run-{live.run_id}")

        async def second_in() -> bool:
            listed = await bridge.participants(ref)
            return len(listed) == 1 and listed[0].connected

        await until(second_in)
        listed = await bridge.participants(ref)
        assert [p.site_id for p in listed] == [str(live.run_sites["lao-cai"])]
        leaves = await stored_events(app, "leave")
        assert len(leaves) == 1 and "replaced" in (leaves[0].reason or "")
        async with app[SESSIONS]() as session:
            audit = (
                (
                    await session.execute(
                        select(AuditEntry).where(AuditEntry.action == "join_link.replace")
                    )
                )
                .scalars()
                .all()
            )
        assert len(audit) == 1
        assert audit[0].actor == f"user:join-link:site-{live.run_sites['lao-cai']}"
        assert audit[0].entity_id == str(live.run_sites["lao-cai"])
        # The replaced connection's resource is gone; the new one's is there.
        assert await first_whip.leave() == 404
        assert await second_whip.leave() == 204
    finally:
        await first.close()
        await second.close()


async def test_over_the_cap_a_site_is_refused_and_the_others_stay(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    # The tests' settings allow 3 browser participants per meeting.
    app = app_client.server.app
    live = await live_meeting(app, api, world, clock.now, extra_room="lao-cai.bac-ha")
    peers = {code: Peer(code, hz) for code, hz in TONES.items()}
    try:
        for code, peer in peers.items():
            await peer.join(Whip(app_client, await link_for(api, world, live, code)))
        status, body = await api.as_(world.tokens["laocai_op"]).post(
            f"/api/meetings/{live.meeting_id}/sites/{-world.rooms['lao-cai.bac-ha']}/link"
        )
        assert status == 201, body
        fourth = Peer("bac-ha", 500.0)
        peers["bac-ha"] = fourth
        response = await app_client.post(
            f"/whip/{body['url'].rsplit('/', 1)[1]}", data=await fourth.offer(), headers=SDP
        )
        assert response.status == 503
        problem = await response.json(content_type=None)
        assert problem["type"].endswith("bridge-full")
        assert "(3)" in problem["detail"]
        assert all(peers[code].pc.connectionState == "connected" for code in TONES)
    finally:
        await asyncio.gather(*(peer.close() for peer in peers.values()))
