"""TURN REST credentials against a real coturn: a browser that may only use relays joins."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCIceServer

from tests.api import Api, FakeClock, make_settings
from tests.webrtc.conftest import PUBLIC_URL
from tests.webrtc.live import Whip, link_for, live_meeting
from tests.webrtc.peers import Peer
from tests.webrtc.turn import Coturn, coturn
from tests.world import build_world
from vcorch.config import Settings

SECRET = "coturn-static-auth-secret-0123456789"


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[Coturn]:
    with coturn(tmp_path, SECRET) as server:
        yield server


def settings_with(turn: Coturn, secret: str) -> Settings:
    return make_settings(
        # One database is enough: this is about the network path, not storage.
        "sqlite+aiosqlite:///unused",
        public_url=PUBLIC_URL,
        webrtc_host_addresses=["127.0.0.1"],
        webrtc_turn_urls=[turn.url],
        webrtc_turn_secret=secret,
    )


def servers(info: dict[str, Any]) -> list[RTCIceServer]:
    return [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in info["ice_servers"]
    ]


@pytest.mark.parametrize("secret", [SECRET, "a-secret-coturn-does-not-know-1234"])
async def test_relay_only_peer_joins_with_the_issued_credentials(
    turn: Coturn,
    secret: str,
    sqlite_template: Path,
    tmp_path: Path,
    clock: FakeClock,
    aiohttp_client: Any,
) -> None:
    from tests import databases
    from vcorch.app import create_app

    settings = settings_with(turn, secret).model_copy(
        update={"database_url": databases.copy_sqlite(sqlite_template, tmp_path)}
    )
    client = await aiohttp_client(create_app(settings, clock=clock, background=False))
    api = Api(client)
    world = await build_world(client.server.app, api)
    live = await live_meeting(client.server.app, api, world, clock.now)
    token = await link_for(api, world, live, "dien-bien")
    status, info = await api.as_(None).get(f"/api/join/{token}")
    assert status == 200, info
    (turn_server,) = info["ice_servers"]
    assert turn_server["urls"] == [turn.url]
    peer = Peer("dien-bien", 440.0, ice_servers=servers(info), relay_only=True)
    try:
        offer = await peer.offer()
        if secret != SECRET:
            # coturn refuses the allocation: no candidate at all (aiortc says nothing).
            assert "typ relay" not in offer
            return
        # Only relayed candidates: if media flows, it flows through coturn.
        assert "typ relay" in offer and "typ host" not in offer
        whip = Whip(client, token)
        await peer.answer(await whip(offer))
        await asyncio.wait_for(peer.connected.wait(), 10)
        peer.recording = True
        for _ in range(100):
            if peer.received_seconds() > 0.3:
                break
            await asyncio.sleep(0.05)
        assert peer.received_seconds() > 0.3
        assert await whip.leave() == 204
    finally:
        await peer.close()
