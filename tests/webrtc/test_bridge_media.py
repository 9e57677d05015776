"""The built-in bridge with real aiortc peers on loopback: what each one hears and sees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.webrtc.peers import Peer, dominant
from vcorch.config import BridgeConfig, ConfigError
from vcorch.mcu_adapter.base import (
    BridgeContext,
    BridgeEvent,
    CapacityExceeded,
    ConferenceNotFound,
    ConferenceSpec,
    DialTarget,
    NotSupported,
)
from vcorch.mcu_adapter.webrtc import WebRtcBridge

TONES = {"a": 440.0, "b": 660.0, "c": 880.0}


class Events:
    def __init__(self) -> None:
        self.seen: list[BridgeEvent] = []

    async def __call__(self, bridge: str, events: Sequence[BridgeEvent]) -> None:
        self.seen.extend(events)

    def kinds(self, kind: str) -> list[str | None]:
        return [e.site_id for e in self.seen if e.kind == kind]


async def until(check: Any, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def events() -> Events:
    return Events()


def make_bridge(events: Events, *, ports: int = 10, per_conference: int = 3) -> WebRtcBridge:
    config = BridgeConfig(
        name="webrtc",
        type="webrtc",
        ports=ports,
        options={"host_addresses": ["127.0.0.1"], "max_per_conference": per_conference},
    )
    return WebRtcBridge(
        config, BridgeContext(http=None, clock=lambda: datetime.now(UTC), emit=events)
    )


@pytest.fixture
async def bridge(events: Events) -> AsyncIterator[WebRtcBridge]:
    bridge = make_bridge(events)
    await bridge.start()
    yield bridge
    await bridge.close()


def signal_to(bridge: WebRtcBridge, conference: str, seat: str, sessions: dict[str, str]) -> Any:
    async def signal(offer: str) -> str:
        joined = await bridge.join(
            conference, seat=seat, site_id=seat, display_name=f"Phòng {seat}", offer_sdp=offer
        )
        sessions[seat] = joined.session_id
        return joined.answer_sdp

    return signal


async def test_each_peer_hears_the_other_two_and_not_itself(
    bridge: WebRtcBridge, events: Events
) -> None:
    ref = await bridge.create_conference(ConferenceSpec(key="run-1", title="Họp", expected_sites=3))
    peers = {seat: Peer(seat, hz) for seat, hz in TONES.items()}
    sessions: dict[str, str] = {}
    try:
        await asyncio.gather(
            *(peer.join(signal_to(bridge, "run-1", seat, sessions)) for seat, peer in peers.items())
        )
        await until(lambda: len(events.kinds("join")) == 3)
        assert sorted(events.kinds("join")) == ["a", "b", "c"]
        listed = await bridge.participants(ref)
        assert sorted((p.site_id, p.connected) for p in listed) == [
            ("a", True),
            ("b", True),
            ("c", True),
        ]
        await asyncio.sleep(0.5)  # the codecs settle
        for peer in peers.values():
            peer.recording = True
        await until(lambda: all(p.received_seconds() >= 1.2 for p in peers.values()))
        for seat, peer in peers.items():
            spectrum = peer.spectrum_at(list(TONES.values()))
            others = {hz for other, hz in TONES.items() if other != seat}
            assert dominant(spectrum) == others, (seat, spectrum)
            # Its own tone is not merely quieter: it is absent (codec noise only).
            assert spectrum[TONES[seat]] < 0.02, (seat, spectrum)
        for seat in ("a", "b", "c"):
            assert await bridge.leave(sessions[seat])
        await until(lambda: len(events.kinds("leave")) == 3)
        assert sorted(events.kinds("leave")) == ["a", "b", "c"]
        assert await bridge.participants(ref) == []
        stats = bridge.room_stats("run-1")
        assert stats.ticks > 50
    finally:
        await asyncio.gather(*(peer.close() for peer in peers.values()))


async def test_over_capacity_is_refused_and_others_keep_their_seats(
    bridge: WebRtcBridge, events: Events
) -> None:
    await bridge.create_conference(ConferenceSpec(key="run-2", title="Họp", expected_sites=3))
    peers = [Peer(seat, 300.0 + 100 * i) for i, seat in enumerate("abcd")]
    sessions: dict[str, str] = {}
    try:
        for peer in peers[:3]:
            await peer.join(signal_to(bridge, "run-2", peer.name, sessions))
        fourth = peers[3]
        with pytest.raises(
            CapacityExceeded, match="the most the built-in bridge carries in one meeting"
        ):
            await bridge.join(
                "run-2",
                seat="d",
                site_id="d",
                display_name="Phòng d",
                offer_sdp=await fourth.offer(),
            )
        health = await bridge.health()
        assert health.ports_in_use == 3
        # A reconnect of a seat already held is not refused: it takes its own place.
        replacement = Peer("a2", 500.0)
        peers.append(replacement)
        await replacement.join(signal_to(bridge, "run-2", "a", sessions))
        await until(lambda: events.kinds("leave") == ["a"])
        leave = next(e for e in events.seen if e.kind == "leave")
        assert leave.reason is not None and "replaced" in leave.reason
        assert (await bridge.health()).ports_in_use == 3
    finally:
        await asyncio.gather(*(peer.close() for peer in peers))


async def test_process_cap_counts_every_conference(events: Events) -> None:
    bridge = make_bridge(events, ports=1, per_conference=5)
    await bridge.create_conference(ConferenceSpec(key="run-3", title="Họp", expected_sites=1))
    await bridge.create_conference(ConferenceSpec(key="run-4", title="Họp", expected_sites=1))
    first, second = Peer("a", 440.0), Peer("b", 660.0)
    try:
        await first.join(signal_to(bridge, "run-3", "a", {}))
        with pytest.raises(CapacityExceeded, match="in this process"):
            await bridge.join(
                "run-4", seat="b", site_id="b", display_name="b", offer_sdp=await second.offer()
            )
    finally:
        await first.close()
        await second.close()
        await bridge.close()


async def test_the_active_speaker_is_seen_by_the_others(
    bridge: WebRtcBridge, events: Events
) -> None:
    await bridge.create_conference(ConferenceSpec(key="run-5", title="Họp", expected_sites=3))
    # "a" speaks loudly; "b" and "c" barely: everyone should come to see a's red picture,
    # and "a" the picture of someone else.
    peers = {
        "a": Peer("a", 440.0, rgb=(220, 30, 30), level=0.5),
        "b": Peer("b", 660.0, rgb=(30, 220, 30), level=0.01),
        "c": Peer("c", 880.0, rgb=(30, 30, 220), level=0.01),
    }
    sessions: dict[str, str] = {}
    try:
        for seat, peer in peers.items():
            await peer.join(signal_to(bridge, "run-5", seat, sessions))

        def reddish(colour: tuple[float, float, float]) -> bool:
            return colour[0] > 150 and colour[1] < 90 and colour[2] < 90

        await until(
            lambda: all(p.colours and reddish(p.colours[-1]) for p in (peers["b"], peers["c"]))
        )
        await until(lambda: bool(peers["a"].colours) and not reddish(peers["a"].colours[-1]))
        await until(lambda: any(m.get("speaker") == "Phòng a" for m in peers["b"].messages))
        assert any(m.get("speaker_is_you") for m in peers["a"].messages)
    finally:
        await asyncio.gather(*(peer.close() for peer in peers.values()))


async def test_mute_disconnect_and_end_as_an_operator_uses_them(
    bridge: WebRtcBridge, events: Events
) -> None:
    ref = await bridge.create_conference(ConferenceSpec(key="run-6", title="Họp", expected_sites=3))
    peers = {seat: Peer(seat, hz) for seat, hz in TONES.items()}
    try:
        for seat, peer in peers.items():
            await peer.join(signal_to(bridge, "run-6", seat, {}))
        await until(lambda: len(events.kinds("join")) == 3)
        ids = {p.site_id: p.participant_id for p in await bridge.participants(ref)}
        await bridge.mute(ref, ids["b"], True)
        assert [p.muted for p in await bridge.participants(ref) if p.site_id == "b"] == [True]
        await asyncio.sleep(0.5)
        peers["a"].recording = True
        await until(lambda: peers["a"].received_seconds() >= 1.2)
        # "a" still hears "c", no longer "b".
        assert dominant(peers["a"].spectrum_at(list(TONES.values()))) == {TONES["c"]}
        await bridge.disconnect(ref, ids["c"])
        await until(lambda: events.kinds("leave") == ["c"])
        assert events.seen[-1].reason == "disconnected by an operator"
        await bridge.end_conference(ref)
        assert sorted(events.kinds("leave")) == ["a", "b", "c"]
        assert {e.reason for e in events.seen if e.site_id in ("a", "b") and e.kind == "leave"} == {
            "the conference ended"
        }
        with pytest.raises(ConferenceNotFound):
            await bridge.participants(ref)
        await bridge.end_conference(ref)  # ending twice is not an error
        with pytest.raises(NotSupported):
            await bridge.dial_out(ref, DialTarget("a", "sip", "sip:a@example.vn", "a"))
    finally:
        await asyncio.gather(*(peer.close() for peer in peers.values()))


@pytest.mark.parametrize(
    "options",
    [{"video_fps": 0}, {"max_per_conference": "12"}, {"host_addresses": "127.0.0.1"}, {"x": 1}],
)
def test_bad_options_are_refused_at_load(options: dict[str, Any], events: Events) -> None:
    config = BridgeConfig(name="webrtc", type="webrtc", options=options)
    with pytest.raises(ConfigError, match=r"bridges\.webrtc\.options"):
        WebRtcBridge(config, BridgeContext(http=None, clock=lambda: datetime.now(UTC)))
