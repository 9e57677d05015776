"""WebRTC media probe: a real aiortc peer sends audio through a Janus EchoTest and back.

Signalling is Janus' plain HTTP API (janus.conf.meetecho.com/docs/rest.html): ``create`` a
session, ``attach`` ``janus.plugin.echotest``, send the plugin message ``{"audio": true,
"video": false}`` with the SDP offer, read the answer from the asynchronous event by
long-poll on the session (``GET /janus/<session>?maxev=1``), ``destroy`` at the end.  The
EchoTest request and its ``{"echotest": "event", "result": "ok"}`` event are as documented
in the plugin's header (plugins/janus_echotest.c).

Once ICE and DTLS are up the peer sends audio for a few seconds and reads aiortc's
RTCP-derived statistics: the round-trip time and the jitter and loss Janus reports for
our stream (``remote-inbound-rtp``, from its receiver reports), and the packets that came
back (``inbound-rtp``).  Jitter arrives in RTP clock units and is converted to ms with
the negotiated codec's clock rate.  Healthy means media came back with loss below the
limit; a gateway that signals but carries no media is reachable but not healthy.

The probe needs the gateway's host candidates to be reachable from here; on one machine
over loopback, aioice and Janus both need help to offer 127.0.0.1 (see the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import AudioStreamTrack
from yarl import URL

from vcorch.monitoring.probes.errors import InvalidAddress
from vcorch.monitoring.probes.result import ProbeResult, down, healthy, unhealthy

ECHOTEST = "janus.plugin.echotest"
_POLL_SECONDS = 0.25
_CLEANUP_SECONDS = 2.0
_RTPMAP = re.compile(r"^a=rtpmap:(\d+) [^/\s]+/(\d+)", re.MULTILINE)
_AUDIO_LINE = re.compile(r"^m=audio \S+ \S+ (\d+)", re.MULTILINE)


class _JanusError(Exception):
    """Janus refused a request; ``str()`` is the detail for the operator."""


def clock_rate(sdp: str) -> int:
    """The RTP clock rate of the first (chosen) audio codec of an SDP; 48 kHz if unknown."""
    audio = _AUDIO_LINE.search(sdp)
    if audio is not None:
        for payload_type, rate in _RTPMAP.findall(sdp):
            if payload_type == audio[1]:
                return int(rate)
    return 48_000


class _JanusSession:
    """The few Janus HTTP API calls the probe makes, each bounded by the probe's deadline."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self._http = http
        self._base = base.rstrip("/")
        self.session_id: int | None = None
        self.handle_id: int | None = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self._http.post(
            f"{self._base}{path}", json={**body, "transaction": secrets.token_hex(8)}
        ) as response:
            answer = await response.json(content_type=None)
        if not isinstance(answer, dict):
            raise _JanusError("janus: answer is not a JSON object")
        if answer.get("janus") == "error":
            error = answer.get("error") or {}
            raise _JanusError(f"janus: error {error.get('code')}: {error.get('reason')}")
        return answer

    async def open(self) -> None:
        created = await self._post("", {"janus": "create"})
        self.session_id = int(created["data"]["id"])
        attached = await self._post(f"/{self.session_id}", {"janus": "attach", "plugin": ECHOTEST})
        self.handle_id = int(attached["data"]["id"])

    async def offer(self, sdp: str) -> str:
        """Send the EchoTest request with the offer; return the answer's SDP."""
        transaction = secrets.token_hex(8)
        async with self._http.post(
            f"{self._base}/{self.session_id}/{self.handle_id}",
            json={
                "janus": "message",
                "transaction": transaction,
                "body": {"audio": True, "video": False},
                "jsep": {"type": "offer", "sdp": sdp},
            },
        ) as response:
            ack = await response.json(content_type=None)
        if not isinstance(ack, dict) or ack.get("janus") == "error":
            raise _JanusError(f"janus: message refused: {ack}")
        while True:
            async with self._http.get(f"{self._base}/{self.session_id}?maxev=1") as response:
                event = await response.json(content_type=None)
            if not isinstance(event, dict) or event.get("transaction") != transaction:
                continue  # keepalives and events of no interest
            data = event.get("plugindata", {}).get("data", {})
            if "error_code" in data:
                raise _JanusError(f"echotest: error {data['error_code']}: {data.get('error')}")
            jsep = event.get("jsep")
            if not isinstance(jsep, dict) or jsep.get("type") != "answer":
                raise _JanusError("echotest: no SDP answer in its event")
            return str(jsep["sdp"])

    async def close(self) -> None:
        if self.session_id is not None:
            with contextlib.suppress(_JanusError, aiohttp.ClientError, TimeoutError, ValueError):
                await self._post(f"/{self.session_id}", {"janus": "destroy"})
            self.session_id = None


class JanusEchoProbe:
    """Media round trip through a Janus EchoTest; the target is the Janus HTTP API URL.

    ``media_seconds`` is how long audio is sent once connected (at least one RTCP
    interval of aiortc, 0.5-1.5 s, is needed for a round-trip time); the probe's timeout
    must leave room for it after signalling and ICE.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        media_seconds: float = 3.0,
        max_loss: float = 0.05,
    ) -> None:
        self._http = session
        self._media_seconds = media_seconds
        self._max_loss = max_loss

    async def probe(self, target: str, timeout: float) -> ProbeResult:  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
        url = URL(target.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidAddress(f"not a Janus HTTP API URL: {target!r}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        janus = _JanusSession(self._http, str(url))
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        sink = MediaBlackhole()
        settled = asyncio.Event()  # connected, or failed for good
        step = "signalling"

        @pc.on("track")
        def _on_track(track: Any) -> None:
            # A received track nobody reads queues frames without bound.
            sink.addTrack(track)

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState in ("connected", "failed"):
                settled.set()

        try:
            async with asyncio.timeout_at(deadline):
                await janus.open()
                pc.addTrack(AudioStreamTrack())
                await pc.setLocalDescription(await pc.createOffer())
                answer = await janus.offer(pc.localDescription.sdp)
                await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
                await sink.start()
                step = "ICE/DTLS"
                started = loop.time()
                await settled.wait()
                if pc.connectionState != "connected":
                    return down("media: ICE/DTLS failed")
                connect_ms = (loop.time() - started) * 1000.0
                step = "media"
                metrics = await self._measure(pc, clock_rate(answer), deadline)
        except TimeoutError:
            return down(f"timeout after {timeout:g} s during {step}")
        except _JanusError as err:
            return down(str(err))
        except aiohttp.ClientConnectorError as err:
            if isinstance(err.os_error, ConnectionRefusedError):
                return down("janus: refused")
            return down(f"janus: {err.os_error.strerror or err.os_error}")
        except (aiohttp.ClientError, ValueError, KeyError) as err:
            return down(f"janus: {type(err).__name__}: {err}")
        finally:
            await self._close(pc, sink, janus)
        metrics["connect_ms"] = connect_ms
        return self._judge(metrics)

    async def _measure(self, pc: RTCPeerConnection, rate: int, deadline: float) -> dict[str, float]:
        """Send for ``media_seconds``, then poll stats until an RTT arrives or time is up."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(min(self._media_seconds, max(deadline - loop.time() - 0.5, 0)))
        metrics: dict[str, float] = {}
        while True:
            metrics = _read_stats(await pc.getStats(), rate)
            if "rtt_ms" in metrics or loop.time() + _POLL_SECONDS >= deadline - 0.1:
                return metrics
            await asyncio.sleep(_POLL_SECONDS)

    def _judge(self, metrics: dict[str, float]) -> ProbeResult:
        received = metrics.get("packets_received", 0.0)
        lost = metrics.get("packets_lost", 0.0)
        loss = lost / (received + lost) if received + lost else 1.0
        metrics["loss_fraction"] = loss
        rtt = metrics.get("rtt_ms")
        parts = [f"rtt {rtt:.1f} ms" if rtt is not None else "rtt not measured"]
        if "jitter_ms" in metrics:
            parts.append(f"jitter {metrics['jitter_ms']:.1f} ms")
        parts.append(f"loss {loss:.1%}")
        summary = ", ".join(parts)
        if received == 0:
            return unhealthy(rtt, f"connected, but no media came back ({summary})", None, metrics)
        if loss > self._max_loss:
            return unhealthy(rtt, f"media lossy: {summary}", None, metrics)
        return healthy(rtt, f"media echoed: {summary}", None, metrics)

    @staticmethod
    async def _close(pc: RTCPeerConnection, sink: MediaBlackhole, janus: _JanusSession) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_CLEANUP_SECONDS):
                await sink.stop()
                await pc.close()
                await janus.close()


def _read_stats(report: Any, rate: int) -> dict[str, float]:
    """The numbers the probe reports, from an aiortc RTCStatsReport."""
    metrics: dict[str, float] = {}
    for item in report.values():
        kind = getattr(item, "type", "")
        if kind == "remote-inbound-rtp":
            # What Janus' receiver reports say about our stream (RTCP RR).
            if item.roundTripTime is not None:
                metrics["rtt_ms"] = float(item.roundTripTime) * 1000.0
            metrics["jitter_ms"] = float(item.jitter) * 1000.0 / rate
            metrics["remote_packets_lost"] = float(item.packetsLost)
        elif kind == "inbound-rtp":
            # The echo as we received it.
            metrics["packets_received"] = float(item.packetsReceived)
            metrics["packets_lost"] = float(max(item.packetsLost, 0))
            metrics["echo_jitter_ms"] = float(item.jitter) * 1000.0 / rate
        elif kind == "outbound-rtp":
            metrics["packets_sent"] = float(item.packetsSent)
    return metrics
