"""The Janus adapter against a real Janus, with real aiortc peers in its rooms."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.janus_harness.wiring import JanusInstance, PeerFactory
from tests.waiting import eventually
from vcorch.mcu_adapter.base import (
    ConferenceNotFound,
    ConferenceSpec,
    DialTarget,
    NotSupported,
    Participant,
)
from vcorch.mcu_adapter.janus import JanusBridge

pytest_plugins = ["tests.janus_harness.fixtures"]


async def admin(
    http: aiohttp.ClientSession, janus: JanusInstance, plugin: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Ask Janus directly, to check what the adapter did without trusting the adapter."""
    payload = {
        "janus": "message_plugin",
        "transaction": "check",
        "admin_secret": janus.admin_secret,
        "plugin": f"janus.plugin.{plugin}",
        "request": body,
    }
    async with http.post(janus.process.admin_url, json=payload) as response:
        answer: dict[str, Any] = (await response.json(content_type=None))["response"]
        return answer


async def room_exists(
    http: aiohttp.ClientSession, janus: JanusInstance, plugin: str, room: str
) -> bool:
    answer = await admin(http, janus, plugin, {"request": "exists", "room": int(room)})
    return bool(answer["exists"])


def site(n: int) -> DialTarget:
    return DialTarget(site_id=f"site-{n}", kind="webrtc", address="", display_name=f"Điểm cầu {n}")


async def wait_listing(
    bridge: JanusBridge, ref: Any, predicate: Any, wait: float = 5.0
) -> list[Participant]:
    deadline = time.monotonic() + wait
    while True:
        listed = await bridge.participants(ref)
        if predicate(listed) or time.monotonic() > deadline:
            return listed
        await asyncio.sleep(0.05)


async def test_create_is_idempotent_by_key_and_makes_both_rooms(
    janus_bridge: JanusBridge, janus: JanusInstance, janus_http: aiohttp.ClientSession
) -> None:
    spec = ConferenceSpec(key="meeting-1@2026-12-01T02:00Z", title="Giao ban", expected_sites=4)
    first = await janus_bridge.create_conference(spec)
    again = await janus_bridge.create_conference(spec)
    other = await janus_bridge.create_conference(
        ConferenceSpec(key="meeting-2@2026-12-01T02:00Z", title="Tập huấn", expected_sites=2)
    )

    assert again.conference_id == first.conference_id
    assert other.conference_id != first.conference_id
    assert await room_exists(janus_http, janus, "audiobridge", first.conference_id)
    assert await room_exists(janus_http, janus, "videoroom", first.conference_id)
    # Private rooms: a browser listing the plugin's rooms does not see them.
    listed = await admin(janus_http, janus, "audiobridge", {"request": "list"})
    assert int(first.conference_id) not in {room["room"] for room in listed["list"]}

    await janus_bridge.end_conference(first)
    await janus_bridge.end_conference(other)
    assert not await room_exists(janus_http, janus, "audiobridge", first.conference_id)
    assert not await room_exists(janus_http, janus, "videoroom", first.conference_id)


async def test_audio_only_conference_has_no_videoroom(
    janus_bridge: JanusBridge, janus: JanusInstance, janus_http: aiohttp.ClientSession
) -> None:
    ref = await janus_bridge.create_conference(
        ConferenceSpec(key="audio-only-1", title="Điện thoại", expected_sites=2, audio_only=True)
    )
    assert await room_exists(janus_http, janus, "audiobridge", ref.conference_id)
    assert not await room_exists(janus_http, janus, "videoroom", ref.conference_id)
    await janus_bridge.end_conference(ref)


async def test_peers_are_listed_muted_kicked_and_dropped_when_the_room_ends(
    janus_bridge: JanusBridge, join_peer: PeerFactory
) -> None:
    ref = await janus_bridge.create_conference(
        ConferenceSpec(key="meeting-3@2026-12-02T01:00Z", title="Họp tỉnh", expected_sites=3)
    )
    reserved = [await janus_bridge.dial_out(ref, site(n)) for n in range(3)]
    assert len({p.participant_id for p in reserved}) == 3
    peers = [
        await join_peer(
            room=int(ref.conference_id),
            participant_id=int(p.participant_id),
            display=f"Điểm cầu {n}",
        )
        for n, p in enumerate(reserved)
    ]

    listed = await wait_listing(janus_bridge, ref, lambda got: all(p.connected for p in got))
    assert {p.participant_id: p.site_id for p in listed} == {
        r.participant_id: f"site-{n}" for n, r in enumerate(reserved)
    }
    assert all(p.connected and not p.muted for p in listed)
    assert {p.display_name for p in listed} == {"Điểm cầu 0", "Điểm cầu 1", "Điểm cầu 2"}

    # Media really flows: every peer hears the mix of the others.
    async def everyone_hears() -> bool:
        return all([await peer.inbound_packets() > 0 for peer in peers])

    await eventually(everyone_hears, what="media reaching every peer")

    target = reserved[1].participant_id
    await janus_bridge.mute(ref, target, True)
    muted = {p.participant_id: p.muted for p in await janus_bridge.participants(ref)}
    assert muted == {r.participant_id: r.participant_id == target for r in reserved}
    await janus_bridge.mute(ref, target, True)  # again: still muted, no error
    await janus_bridge.mute(ref, target, False)
    assert not any(p.muted for p in await janus_bridge.participants(ref))

    await janus_bridge.disconnect(ref, reserved[0].participant_id)
    remaining = await janus_bridge.participants(ref)
    assert {p.participant_id for p in remaining} == {r.participant_id for r in reserved[1:]}
    with pytest.raises(ConferenceNotFound):
        await janus_bridge.disconnect(ref, reserved[0].participant_id)

    await janus_bridge.end_conference(ref)
    with pytest.raises(ConferenceNotFound):
        await janus_bridge.participants(ref)
    await janus_bridge.end_conference(ref)  # ending twice is not an error
    with pytest.raises(ConferenceNotFound):
        await janus_bridge.mute(ref, target, True)


async def test_sip_and_h323_are_not_dialled(janus_bridge: JanusBridge) -> None:
    ref = await janus_bridge.create_conference(
        ConferenceSpec(key="dial-1", title="x", expected_sites=2, audio_only=True)
    )
    for kind in ("sip", "h323"):
        with pytest.raises(NotSupported):
            await janus_bridge.dial_out(
                ref, DialTarget(site_id="s", kind=kind, address="sip:a@b", display_name="A")
            )
    await janus_bridge.end_conference(ref)
    with pytest.raises(ConferenceNotFound):
        await janus_bridge.dial_out(ref, site(1))


async def test_the_join_link_carries_what_a_browser_needs_to_join(
    janus_bridge: JanusBridge, janus: JanusInstance, join_peer: PeerFactory
) -> None:
    ref = await janus_bridge.create_conference(
        ConferenceSpec(key="link-1", title="Tập huấn", expected_sites=2, pin="4321")
    )
    expires = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    target = site(9)
    url = await janus_bridge.webrtc_join_url(ref, target, expires)
    again = await janus_bridge.webrtc_join_url(ref, target, expires)
    assert url == again

    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert parts.path == "/join/janus"
    assert query["janus"] == janus.process.http_url
    assert query["room"] == ref.conference_id
    assert query["display"] == "Điểm cầu 9"
    assert query["video"] == "1"
    assert int(query["expires"]) == int(expires.timestamp())
    assert parse_qs(parts.fragment) == {"pin": ["4321"]}

    # A peer that follows the link (signalling base, room, id, PIN) lands as that site.
    await join_peer(
        room=int(query["room"]),
        participant_id=int(query["id"]),
        display=query["display"],
        pin=parse_qs(parts.fragment)["pin"][0],
    )
    listed = await wait_listing(janus_bridge, ref, lambda got: any(p.connected for p in got))
    assert [(p.site_id, p.connected) for p in listed] == [("site-9", True)]
    await janus_bridge.end_conference(ref)


async def test_health_reports_version_and_sessions(
    janus_bridge: JanusBridge, join_peer: PeerFactory
) -> None:
    idle = await janus_bridge.health()
    assert idle.reachable
    assert idle.version == "1.1.2"
    assert idle.detail == ""
    ref = await janus_bridge.create_conference(
        ConferenceSpec(key="health-1", title="x", expected_sites=2, audio_only=True)
    )
    await join_peer(room=int(ref.conference_id), participant_id=7, display="A")
    await join_peer(room=int(ref.conference_id), participant_id=8, display="B")
    busy = await janus_bridge.health()
    assert busy.ports_in_use is not None
    assert idle.ports_in_use is not None
    assert busy.ports_in_use == idle.ports_in_use + 2
    assert busy.ports_total == 50
    assert busy.load == pytest.approx(busy.ports_in_use / 50)
    await janus_bridge.end_conference(ref)


async def test_mute_all_and_lock_on_a_real_janus(
    janus_bridge: JanusBridge,
    janus: JanusInstance,
    janus_http: aiohttp.ClientSession,
    join_peer: PeerFactory,
) -> None:
    ref = await janus_bridge.create_conference(
        ConferenceSpec(key="meeting-17@2026-12-07T02:00Z", title="Họp khóa", expected_sites=3)
    )
    dial_in = await janus_bridge.dial_in(ref)
    assert dial_in.number == ref.conference_id and dial_in.pin is None
    first, second, late = [await janus_bridge.dial_out(ref, site(n)) for n in range(3)]
    peer = await join_peer(
        room=int(ref.conference_id), participant_id=int(first.participant_id), display="Một"
    )

    def room_muted(value: bool) -> bool:
        # Janus tells every participant: {"audiobridge": "event", "muted": <value>}.
        return any(
            event.get("plugindata", {}).get("data", {}).get("muted") is value
            and "id" not in event["plugindata"]["data"]
            for event in peer.events
        )

    await janus_bridge.mute_all(ref, True)
    await eventually(lambda: room_muted(True), what="Janus telling the room is muted")
    await janus_bridge.mute_all(ref, False)
    await eventually(lambda: room_muted(False), what="Janus telling the room is unmuted")

    await janus_bridge.lock(ref, True)
    with pytest.raises(AssertionError, match="join failed"):
        await join_peer(
            room=int(ref.conference_id), participant_id=int(late.participant_id), display="Muộn"
        )
    listed = await janus_bridge.participants(ref)
    assert [p.participant_id for p in listed if p.connected] == [first.participant_id]
    await janus_bridge.lock(ref, False)
    await join_peer(
        room=int(ref.conference_id), participant_id=int(second.participant_id), display="Hai"
    )
    await janus_bridge.end_conference(ref)
