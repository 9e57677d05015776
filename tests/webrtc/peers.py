"""Real aiortc participants for the built-in bridge: a tone, a coloured picture, and
recorders for what comes back (PCM for a spectrum, the mean colour of each picture)."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from vcorch.mcu_adapter.webrtc.adapter import offered_addresses

RATE = 48_000
SAMPLES = 960
LOOPBACK = ("127.0.0.1",)

Signal = Callable[[str], Awaitable[str]]


class ToneTrack(MediaStreamTrack):
    """A sine tone at ``hz`` (amplitude ``level`` of full scale), paced in real time."""

    kind = "audio"

    def __init__(self, hz: float, level: float = 0.2) -> None:
        super().__init__()
        self.hz = hz
        self.level = level
        self._sample = 0
        self._began: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._began is None:
            self._began = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self._began + self._sample / RATE - time.monotonic()))
        n = np.arange(self._sample, self._sample + SAMPLES)
        wave = (self.level * 32767 * np.sin(2 * math.pi * self.hz * n / RATE)).astype(np.int16)
        frame = AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.time_base = fractions.Fraction(1, RATE)
        frame.pts = self._sample
        self._sample += SAMPLES
        return frame


class ColourTrack(MediaStreamTrack):
    """A solid picture of one colour, 320x240 at 15 frames a second."""

    kind = "video"

    def __init__(self, rgb: tuple[int, int, int], fps: int = 15) -> None:
        super().__init__()
        picture = np.zeros((240, 320, 3), dtype=np.uint8)
        picture[:, :] = rgb
        self._picture = picture
        self._fps = fps
        self._count = 0
        self._began: float | None = None

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._began is None:
            self._began = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self._began + self._count / self._fps - time.monotonic()))
        frame = VideoFrame.from_ndarray(self._picture, format="rgb24")
        frame.pts = self._count * (90_000 // self._fps)
        frame.time_base = fractions.Fraction(1, 90_000)
        self._count += 1
        return frame


class Peer:
    """One participant: sends a tone (and a colour), records what it receives."""

    def __init__(
        self,
        name: str,
        hz: float,
        *,
        rgb: tuple[int, int, int] | None = None,
        level: float = 0.2,
        ice_servers: list[RTCIceServer] | None = None,
        relay_only: bool = False,
    ) -> None:
        self.name = name
        self.hz = hz
        config = RTCConfiguration(iceServers=ice_servers or [])
        if relay_only:
            from aiortc.rtcconfiguration import RTCIceTransportPolicy

            config.iceTransportPolicy = RTCIceTransportPolicy.RELAY
        self.pc = RTCPeerConnection(config)
        self.tone = ToneTrack(hz, level)
        self.pc.addTrack(self.tone)
        if rgb is not None:
            self.pc.addTrack(ColourTrack(rgb))
        else:
            self.pc.addTransceiver("video", direction="recvonly")
        self.channel = self.pc.createDataChannel("vcorch")
        self.messages: list[dict[str, Any]] = []
        self.pcm: list[np.ndarray] = []
        self.colours: list[tuple[float, float, float]] = []
        self.recording = False
        self.connected = asyncio.Event()
        self.offer_sdp = ""
        self._tasks: list[asyncio.Task[None]] = []

        @self.channel.on("message")
        def _message(message: str | bytes) -> None:
            if isinstance(message, str):
                self.messages.append(json.loads(message))

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            reader = self._read_audio if track.kind == "audio" else self._read_video
            self._tasks.append(asyncio.create_task(reader(track)))

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def offer(self) -> str:
        with offered_addresses(LOOPBACK):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        self.offer_sdp = self.pc.localDescription.sdp
        return self.offer_sdp

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def join(self, signal: Signal, wait: float = 10.0) -> None:
        await self.answer(await signal(await self.offer()))
        await asyncio.wait_for(self.connected.wait(), wait)

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if self.recording and isinstance(frame, AudioFrame):
                    samples = frame.to_ndarray().reshape(-1)
                    channels = len(frame.layout.channels)
                    self.pcm.append(samples[::channels].astype(np.float64))

    async def _read_video(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    rgb = frame.to_ndarray(format="rgb24")
                    mean = rgb.reshape(-1, 3).mean(axis=0)
                    self.colours.append((float(mean[0]), float(mean[1]), float(mean[2])))

    def spectrum_at(self, frequencies: list[float], *, seconds: float = 1.0) -> dict[float, float]:
        """Magnitude near each frequency (±8 Hz) over the last ``seconds`` of received audio,
        as a fraction of the strongest of them."""
        samples = np.concatenate(self.pcm)[-int(RATE * seconds) :]
        window = np.hanning(samples.size)
        magnitude = np.abs(np.fft.rfft(samples * window))
        bins = np.fft.rfftfreq(samples.size, 1 / RATE)
        found = {
            hz: float(magnitude[(bins > hz - 8) & (bins < hz + 8)].max()) for hz in frequencies
        }
        peak = max(found.values()) or 1.0
        return {hz: value / peak for hz, value in found.items()}

    def received_seconds(self) -> float:
        return sum(chunk.size for chunk in self.pcm) / RATE

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def dominant(spectrum: dict[float, float], floor: float = 0.1) -> set[float]:
    return {hz for hz, value in spectrum.items() if value >= floor}
