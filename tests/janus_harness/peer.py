"""An aiortc participant of a Janus AudioBridge room, signalled over Janus' HTTP API.

The flow is Janus' documented REST one (create a session, attach a plugin handle, send
plugin messages, read events by long-poll on the session), as aiortc's own
``examples/janus/janus.py`` uses it; the AudioBridge ``join`` request carries the SDP offer
and its ``joined`` event carries the answer.  The peer sends a generated tone and throws
what it receives into a ``MediaBlackhole`` (a received track that nobody reads grows a
queue without bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import secrets
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack
from av import AudioFrame

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
TONE_HZ = 400  # eight whole periods per 20 ms frame, so frames join without a click


@contextlib.contextmanager
def loopback_ice() -> Iterator[None]:
    """Make aioice offer 127.0.0.1, which its host-address lookup leaves out on purpose.

    Janus (with the getifaddrs shim) offers only 127.0.0.1, so the peers must too.
    """
    original = aioice.ice.get_host_addresses

    def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback_only
    try:
        yield
    finally:
        aioice.ice.get_host_addresses = original


class ToneTrack(AudioStreamTrack):
    """A 400 Hz tone at -12 dBFS, paced in real time like aiortc's silent track."""

    def __init__(self) -> None:
        super().__init__()
        amplitude = int(32767 * 0.25)
        samples = [
            int(amplitude * math.sin(2 * math.pi * TONE_HZ * n / SAMPLE_RATE))
            for n in range(FRAME_SAMPLES)
        ]
        self._payload = struct.pack(f"<{FRAME_SAMPLES}h", *samples)
        self._began: float | None = None
        self._pts = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._began is None:
            self._began = time.time()
        else:
            self._pts += FRAME_SAMPLES
            await asyncio.sleep(self._began + self._pts / SAMPLE_RATE - time.time())
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self._payload)
        frame.pts = self._pts
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


class JanusApiError(Exception):
    """Janus (core or plugin) answered a peer's request with an error."""


class AudioBridgePeer:
    """One participant: ``join`` until media flows, ``leave``, ``close``."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        janus_url: str,
        *,
        room: int,
        participant_id: int,
        display: str,
        pin: str | None = None,
        tone: MediaStreamTrack | None = None,
        listen: Callable[[MediaStreamTrack], None] | None = None,
    ) -> None:
        """``tone``: what to send instead of the 400 Hz tone; ``listen``: takes the received
        track (and must consume it) instead of the blackhole."""
        self.http = http
        self.tone = tone
        self.janus_url = janus_url.rstrip("/")
        self.room = room
        self.participant_id = participant_id
        self.display = display
        self.pin = pin
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.blackhole = MediaBlackhole()
        self.session_id: int | None = None
        self.handle_id: int | None = None
        self.join_seconds: float | None = None
        self.events: list[dict[str, Any]] = []
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

        @self.pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if listen is not None:
                listen(track)
            else:
                self.blackhole.addTrack(track)

        @self.pc.on("connectionstatechange")
        def _on_state() -> None:
            if self.pc.connectionState == "connected":
                self._connected.set()

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        transaction = secrets.token_hex(6)
        body = {**payload, "transaction": transaction}
        async with self.http.post(
            f"{self.janus_url}{path}", json=body, timeout=aiohttp.ClientTimeout(total=10)
        ) as response:
            answer: dict[str, Any] = await response.json(content_type=None)
        if answer.get("janus") == "error":
            raise JanusApiError(str(answer.get("error")))
        return answer

    async def _poll(self) -> None:
        # The long-poll itself keeps the session alive (Janus' session_timeout is 60 s).
        url = f"{self.janus_url}/{self.session_id}?maxev=1"
        while True:
            try:
                async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=40)) as response:
                    event = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                await asyncio.sleep(0.2)
                continue
            if not isinstance(event, dict):
                await asyncio.sleep(0.2)
                continue
            if event.get("janus") == "error":
                return  # the session is gone (destroyed, timed out, Janus restarted)
            if event.get("janus") == "keepalive":
                continue
            self.events.append(event)
            waiter = self._waiters.pop(str(event.get("transaction")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(event)

    async def _message(
        self, body: dict[str, Any], jsep: dict[str, str] | None = None, wait: float = 10.0
    ) -> dict[str, Any]:
        """Send a plugin message and return its asynchronous event (or the sync answer)."""
        transaction = secrets.token_hex(6)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[transaction] = future
        payload: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            payload["jsep"] = jsep
        async with self.http.post(
            f"{self.janus_url}/{self.session_id}/{self.handle_id}",
            json=payload,
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response:
            answer: dict[str, Any] = await response.json(content_type=None)
        if answer.get("janus") == "error":
            self._waiters.pop(transaction, None)
            raise JanusApiError(str(answer.get("error")))
        if answer.get("janus") == "success":  # a synchronous plugin answer
            self._waiters.pop(transaction, None)
            return answer
        event = await asyncio.wait_for(future, wait)
        data = event.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise JanusApiError(f"{data.get('error_code')}: {data.get('error')}")
        return event

    async def join(self, wait: float = 15.0) -> float:
        """Join with an offer; returns the seconds from the first request until ICE+DTLS
        are connected (media can flow)."""
        began = time.monotonic()
        created = await self._post("", {"janus": "create"})
        self.session_id = int(created["data"]["id"])
        self._poller = asyncio.create_task(self._poll())
        attached = await self._post(
            f"/{self.session_id}", {"janus": "attach", "plugin": "janus.plugin.audiobridge"}
        )
        self.handle_id = int(attached["data"]["id"])
        self.pc.addTrack(self.tone or ToneTrack())
        with loopback_ice():
            await self.pc.setLocalDescription(await self.pc.createOffer())
        body: dict[str, Any] = {
            "request": "join",
            "room": self.room,
            "id": self.participant_id,
            "display": self.display,
        }
        if self.pin is not None:
            body["pin"] = self.pin
        offer = self.pc.localDescription
        event = await self._message(body, {"type": offer.type, "sdp": offer.sdp}, wait)
        jsep = event.get("jsep")
        if not jsep:
            raise JanusApiError(f"joined without an SDP answer: {event}")
        await self.pc.setRemoteDescription(RTCSessionDescription(jsep["sdp"], jsep["type"]))
        await self.blackhole.start()
        await asyncio.wait_for(self._connected.wait(), wait)
        self.join_seconds = time.monotonic() - began
        return self.join_seconds

    async def inbound_packets(self) -> int:
        """RTP packets received from Janus' mix so far."""
        stats = await self.pc.getStats()
        return sum(
            int(getattr(item, "packetsReceived", 0))
            for item in stats.values()
            if getattr(item, "type", "") == "inbound-rtp"
        )

    async def leave(self) -> None:
        """Leave the room politely (Janus then reports ``left`` for this id)."""
        if self.handle_id is not None and self.session_id is not None:
            with contextlib.suppress(JanusApiError, aiohttp.ClientError, TimeoutError):
                await self._message({"request": "leave"}, wait=5)

    async def close(self) -> None:
        """Tear everything down; safe after a failed join and when called twice."""
        try:
            await self.blackhole.stop()
            await self.pc.close()
            if self.session_id is not None:
                with contextlib.suppress(JanusApiError, aiohttp.ClientError, TimeoutError):
                    await self._post(f"/{self.session_id}", {"janus": "destroy"})
        finally:
            self.session_id = None
            if self._poller is not None:
                self._poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._poller
                self._poller = None
