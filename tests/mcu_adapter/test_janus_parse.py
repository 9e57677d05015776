"""parse_events on what a real Janus 1.1.2 posted (tests/fixtures/janus/evh-posts.json,
recorded by ``python -m tests.janus_harness.capture``) and on broken bodies."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.janus_harness.wiring import HOOK_SECRET, HOOK_USER, bridge_config, utc_now
from vcorch.mcu_adapter.base import (
    BridgeContext,
    BridgeEvent,
    BridgeProtocolError,
    InboundRequest,
)
from vcorch.mcu_adapter.janus import JanusBridge

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "janus"
POSTS: list[list[dict[str, Any]]] = json.loads(
    (FIXTURES / "evh-posts.json").read_text(encoding="utf-8")
)
HEADERS: dict[str, str] = json.loads((FIXTURES / "evh-headers.json").read_text(encoding="utf-8"))


def make_bridge(tmp_path: Path, **options: Any) -> JanusBridge:
    config = bridge_config(
        tmp_path,
        api_url="http://127.0.0.1:9/janus",
        admin_url="http://127.0.0.1:9/admin",
        admin_secret="not-used",
        **options,
    )
    return JanusBridge(config, BridgeContext(http=None, clock=utc_now))


def post(body: bytes, headers: dict[str, str] | None = None, **query: str) -> InboundRequest:
    return InboundRequest(
        method="POST",
        path="/api/hooks/janus-test",
        headers=headers if headers is not None else HEADERS,
        query=query,
        body=body,
    )


def replay(bridge: JanusBridge, posts: list[list[dict[str, Any]]]) -> list[BridgeEvent]:
    events: list[BridgeEvent] = []
    for body in posts:
        events.extend(bridge.parse_events(post(json.dumps(body).encode())))
    return events


def find(posts: list[list[dict[str, Any]]], predicate: Any) -> dict[str, Any]:
    return next(item for body in posts for item in body if predicate(item))


def plugin_event(item: dict[str, Any], name: str, participant: int) -> bool:
    data = item.get("event", {}).get("data", {})
    return bool(item["type"] == 64 and data.get("event") == name and data.get("id") == participant)


def microseconds(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_recorded_session_gives_joins_at_media_up_and_leaves(tmp_path: Path) -> None:
    events = replay(make_bridge(tmp_path), POSTS)

    assert [(e.kind, e.participant_id, e.reason) for e in events] == [
        ("join", "101", None),
        ("join", "102", None),
        ("leave", "101", "left"),
        ("leave", "102", "kicked"),
    ]
    assert {e.conference_id for e in events} == {"4242"}
    assert [e.display_name for e in events[:2]] == ["Lào Cai", "Hà Giang"]
    for event in events[:2]:
        # The join is the moment media came up: the webrtcup of that participant's handle.
        joined = find(
            POSTS, lambda item, e=event: plugin_event(item, "joined", int(e.participant_id))
        )
        webrtcup = find(
            POSTS,
            lambda item, h=joined["handle_id"]: (
                item.get("handle_id") == h and item.get("event", {}).get("connection") == "webrtcup"
            ),
        )
        assert microseconds(event.at) == webrtcup["timestamp"]
        assert event.at.tzinfo is UTC
        assert webrtcup["timestamp"] > joined["timestamp"]
    for event in events[2:]:
        left = find(POSTS, lambda item, e=event: plugin_event(item, "left", int(e.participant_id)))
        assert microseconds(event.at) == left["timestamp"]


def test_join_on_joined_counts_from_the_plugin_event(tmp_path: Path) -> None:
    events = replay(make_bridge(tmp_path, join_on="joined"), POSTS)
    joins = [e for e in events if e.kind == "join"]
    assert [e.participant_id for e in joins] == ["101", "102"]
    for event in joins:
        joined = find(
            POSTS, lambda item, e=event: plugin_event(item, "joined", int(e.participant_id))
        )
        assert microseconds(event.at) == joined["timestamp"]


def test_a_retransmitted_post_gives_the_same_event_ids(tmp_path: Path) -> None:
    first = replay(make_bridge(tmp_path), POSTS)
    again = replay(make_bridge(tmp_path), POSTS)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first}) == len(first)


def test_a_participant_whose_media_never_came_up_has_no_join(tmp_path: Path) -> None:
    without_webrtcup = [
        [item for item in body if item.get("event", {}).get("connection") != "webrtcup"]
        for body in POSTS
    ]
    events = replay(make_bridge(tmp_path), without_webrtcup)
    assert [e.kind for e in events] == ["leave", "leave"]


def test_events_grouped_in_one_post_and_gzip_compressed(tmp_path: Path) -> None:
    everything = [item for body in POSTS for item in body]
    one_by_one = replay(make_bridge(tmp_path), POSTS)
    headers = {**HEADERS, "Content-Encoding": "gzip"}
    grouped = make_bridge(tmp_path).parse_events(
        post(gzip.compress(json.dumps(everything).encode()), headers)
    )
    assert [e.event_id for e in grouped] == [e.event_id for e in one_by_one]


def test_a_single_ungrouped_event_object_is_accepted(tmp_path: Path) -> None:
    bridge = make_bridge(tmp_path, join_on="joined")
    joined = find(POSTS, lambda item: plugin_event(item, "joined", 101))
    events = bridge.parse_events(post(json.dumps(joined).encode()))
    assert [(e.kind, e.participant_id) for e in events] == [("join", "101")]


def test_site_of_a_reserved_participant_is_named(tmp_path: Path) -> None:
    bridge = make_bridge(tmp_path, join_on="joined")
    bridge._remember_site(4242, 101, "site-7")
    events = replay(bridge, POSTS)
    assert {e.participant_id: e.site_id for e in events} == {"101": "site-7", "102": None}


def test_videoroom_presence_is_opt_in(tmp_path: Path) -> None:
    body = [
        {
            "type": 64,
            "timestamp": 1_795_576_329_000_000,
            "event": {
                "plugin": "janus.plugin.videoroom",
                "data": {"event": "leaving", "room": 9, "id": 5},
            },
        }
    ]
    raw = json.dumps(body).encode()
    assert make_bridge(tmp_path).parse_events(post(raw)) == []
    both = make_bridge(tmp_path, presence=["audiobridge", "videoroom"])
    [event] = both.parse_events(post(raw))
    assert (event.kind, event.conference_id, event.participant_id) == ("leave", "9", "5")
    assert event.at == datetime(2026, 11, 25, 3, 12, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'[{"type": 64}]',
        b'[{"type": "64", "timestamp": 1}]',
        b'[{"type": 64, "timestamp": 1, "event": []}]',
        b'[{"type": 64, "timestamp": 1, "event": {"plugin": "janus.plugin.audiobridge"}}]',
        b'[{"type": 64, "timestamp": 1, "event": {"plugin": "janus.plugin.audiobridge",'
        b' "data": {"event": "left", "room": 1}}}]',
        b'[{"type": 16, "timestamp": 1, "event": {"connection": "webrtcup"}}]',
    ],
)
def test_malformed_bodies_are_protocol_errors(tmp_path: Path, body: bytes) -> None:
    with pytest.raises(BridgeProtocolError):
        make_bridge(tmp_path).parse_events(post(body))


def test_broken_gzip_is_a_protocol_error(tmp_path: Path) -> None:
    with pytest.raises(BridgeProtocolError):
        make_bridge(tmp_path).parse_events(post(b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}))


def test_events_of_no_interest_give_nothing(tmp_path: Path) -> None:
    body = [
        {"type": 256, "timestamp": 1, "event": {"status": "started"}},
        {"type": 32, "timestamp": 2, "session_id": 1, "handle_id": 2, "event": {"media": "audio"}},
        {"type": 4, "timestamp": 3, "event": {"schema": "x", "data": {}}},
        {"type": 64, "timestamp": 4, "event": {"plugin": "janus.plugin.echotest", "data": {}}},
    ]
    assert make_bridge(tmp_path).parse_events(post(json.dumps(body).encode())) == []


def test_the_event_handlers_basic_auth_is_accepted_and_others_are_not(tmp_path: Path) -> None:
    bridge = make_bridge(tmp_path)
    assert bridge.authenticate_hook(post(b"[]"))  # the recorded Authorization header
    assert bridge.authenticate_hook(post(b"[]", {}, token=HOOK_SECRET))
    assert not bridge.authenticate_hook(post(b"[]", {}))
    wrong = base64.b64encode(f"{HOOK_USER}:nope".encode()).decode()
    assert not bridge.authenticate_hook(post(b"[]", {"Authorization": f"Basic {wrong}"}))


def audiobridge_joined(room: int, participant: int, stamp: int) -> list[dict[str, Any]]:
    """A ``joined`` AudioBridge event as the sample event handler posts it (type 64)."""
    return [
        {
            "emitter": "janus",
            "type": 64,
            "timestamp": stamp,
            "session_id": 1,
            "handle_id": 2,
            "event": {
                "plugin": "janus.plugin.audiobridge",
                "data": {
                    "event": "joined",
                    "room": room,
                    "id": participant,
                    "display": "Lào Cai",
                    "setup": True,
                },
            },
        }
    ]


@pytest.mark.parametrize("site_id", ["1", "70012", "2147483647"])
def test_events_after_a_restart_name_the_site_their_reserved_id_carries(
    tmp_path: Path, site_id: str
) -> None:
    from vcorch.mcu_adapter.janus.naming import participant_id_for

    room = 4242
    reserved = participant_id_for(room, site_id)
    restarted = make_bridge(tmp_path)  # knows nothing of the link it gave out before
    (join,) = replay(restarted, [audiobridge_joined(room, reserved, 1_700_000_000_000_000)])
    assert join.site_id == site_id


def test_ids_janus_picks_itself_name_no_site(tmp_path: Path) -> None:
    from vcorch.mcu_adapter.janus.naming import participant_id_for, site_of_participant

    assert site_of_participant(77) is None
    assert site_of_participant(participant_id_for(1, "link-run-3")) is None
    assert participant_id_for(1, "link-run-3") != participant_id_for(2, "link-run-3")
    assert site_of_participant(2**52 + 2**40) is None  # beyond any site number
