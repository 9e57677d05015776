"""WebRTC media probe against a real Janus EchoTest (the shared Janus test harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.janus_harness.peer import loopback_ice
from vcorch.monitoring.probes.webrtc import JanusEchoProbe, clock_rate


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_audio_echoes_through_janus_with_rtcp_metrics(
    janus_url: str, http: aiohttp.ClientSession
) -> None:
    with loopback_ice():
        result = await JanusEchoProbe(http, media_seconds=2.0).probe(janus_url, 10.0)
    assert result.ok, result.detail
    assert result.detail.startswith("media echoed")
    metrics = result.metrics
    # About 50 packets a second for two seconds went out and came back.
    assert metrics["packets_sent"] >= 50
    assert metrics["packets_received"] >= 50
    assert metrics["loss_fraction"] < 0.05
    assert 0 <= metrics["echo_jitter_ms"] < 100
    assert 0 < metrics["connect_ms"] < 10_000
    assert "rtt_ms" in metrics, result.detail
    assert 0 < metrics["rtt_ms"] < 200
    assert result.latency_ms == metrics["rtt_ms"]


async def test_gateway_not_listening_is_refused(
    http: aiohttp.ClientSession, closed_port: int
) -> None:
    result = await JanusEchoProbe(http).probe(f"http://127.0.0.1:{closed_port}/janus", 3.0)
    assert (result.ok, result.reachable, result.detail) == (False, False, "janus: refused")


def _sdp(media: str, *rtpmaps: str) -> str:
    return "\r\n".join(["v=0", media, *(f"a=rtpmap:{line}" for line in rtpmaps), ""])


@pytest.mark.parametrize(
    ("sdp", "rate"),
    [
        (_sdp("m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "0 PCMU/8000", "111 opus/48000/2"), 48_000),
        (_sdp("m=audio 9 UDP/TLS/RTP/SAVPF 0 111", "0 PCMU/8000", "111 opus/48000/2"), 8_000),
        (_sdp("m=video 9 UDP/TLS/RTP/SAVPF 96", "96 VP8/90000"), 48_000),
    ],
)
def test_clock_rate_is_the_chosen_audio_codecs(sdp: str, rate: int) -> None:
    assert clock_rate(sdp) == rate
