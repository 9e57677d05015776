"""Joins and leaves as a real Janus' sample event handler posts them, parsed by the adapter."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.janus_harness.wiring import JanusInstance, PeerFactory
from vcorch.mcu_adapter.base import BridgeEvent, ConferenceSpec, DialTarget, InboundRequest
from vcorch.mcu_adapter.janus import JanusBridge

pytest_plugins = ["tests.janus_harness.fixtures"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def raw_events(requests: list[InboundRequest]) -> list[dict[str, Any]]:
    return [item for request in requests for item in json.loads(request.body)]


def has_leave(requests: list[InboundRequest], room: int, participant: int) -> bool:
    return any(
        item["type"] == 64
        and item["event"]["data"].get("event") == "left"
        and item["event"]["data"].get("room") == room
        and item["event"]["data"].get("id") == participant
        for item in raw_events(requests)
    )


async def test_joins_and_leaves_carry_janus_microsecond_times(
    janus: JanusInstance, janus_bridge: JanusBridge, join_peer: PeerFactory
) -> None:
    already = len(janus.receiver.requests())
    ref = await janus_bridge.create_conference(
        ConferenceSpec(key="events-1", title="Hội nghị", expected_sites=2, audio_only=True)
    )
    room = int(ref.conference_id)
    site = DialTarget(site_id="site-lc", kind="webrtc", address="", display_name="Lào Cai")
    reserved = int((await janus_bridge.dial_out(ref, site)).participant_id)
    before = datetime.now(UTC)
    leaving = await join_peer(room=room, participant_id=reserved, display="Lào Cai")
    kicked = await join_peer(room=room, participant_id=77, display="Hà Giang")
    joined_by = datetime.now(UTC)
    await leaving.leave()
    await janus_bridge.disconnect(ref, "77")
    received = await janus.receiver.wait_for(
        lambda got: has_leave(got[already:], room, reserved) and has_leave(got[already:], room, 77)
    )
    mine = received[already:]

    assert all(janus_bridge.authenticate_hook(request) for request in mine)
    events: list[BridgeEvent] = []
    for request in mine:
        events.extend(janus_bridge.parse_events(request))
    in_room = [e for e in events if e.conference_id == str(room)]
    assert [(e.kind, e.participant_id, e.reason) for e in in_room] == [
        ("join", str(reserved), None),
        ("join", "77", None),
        ("leave", str(reserved), "left"),
        ("leave", "77", "kicked"),
    ]
    assert in_room[0].site_id == "site-lc"
    assert in_room[0].display_name == "Lào Cai"
    # The join time is Janus' own: the microsecond timestamp of that handle's webrtcup.
    items = raw_events(mine)
    for event, peer in zip(in_room[:2], (leaving, kicked), strict=True):
        webrtcup = next(
            item
            for item in items
            if item.get("handle_id") == peer.handle_id
            and item.get("event", {}).get("connection") == "webrtcup"
        )
        assert event.at == EPOCH + timedelta(microseconds=webrtcup["timestamp"])
        assert before - timedelta(seconds=1) <= event.at <= joined_by + timedelta(seconds=1)
    assert in_room[2].at <= in_room[3].at <= datetime.now(UTC)
    assert len({e.event_id for e in in_room}) == 4


async def test_ending_a_conference_reports_everyone_left(
    janus: JanusInstance, janus_bridge: JanusBridge, join_peer: PeerFactory
) -> None:
    already = len(janus.receiver.requests())
    ref = await janus_bridge.create_conference(
        ConferenceSpec(key="events-2", title="Tập huấn", expected_sites=2)
    )
    room = int(ref.conference_id)
    for participant in (5, 6):
        await join_peer(room=room, participant_id=participant, display=f"P{participant}")
    ended_at = time.time()
    await janus_bridge.end_conference(ref)

    def destroyed(got: list[InboundRequest]) -> bool:
        return any(
            item["type"] == 64
            and item["event"]["plugin"] == "janus.plugin.audiobridge"
            and item["event"]["data"].get("event") == "destroyed"
            and item["event"]["data"].get("room") == room
            for item in raw_events(got[already:])
        )

    received = await janus.receiver.wait_for(destroyed)
    events = [e for r in received[already:] for e in janus_bridge.parse_events(r)]
    leaves = [e for e in events if e.kind == "leave" and e.conference_id == str(room)]
    assert sorted(e.participant_id for e in leaves) == ["5", "6"]
    assert {e.reason for e in leaves} == {"conference ended"}
    assert all(abs(e.at.timestamp() - ended_at) < 2 for e in leaves)


@pytest.mark.parametrize("authentic", [True, False])
async def test_only_the_configured_credentials_pass(
    janus: JanusInstance, janus_bridge: JanusBridge, authentic: bool
) -> None:
    [first, *_] = janus.receiver.requests()  # Janus' "started" core event
    headers = dict(first.headers)
    if not authentic:
        headers["Authorization"] = "Basic " + "amFudXM6d3Jvbmc="  # janus:wrong
    request = InboundRequest(first.method, first.path, headers, first.query, first.body)
    assert janus_bridge.authenticate_hook(request) is authentic
