"""aiortc tracks of the built-in bridge: what each listener is sent.

aiortc's sender pulls ``recv()`` and encodes what it gets, once per listener.  The audio
track hands out the frames the conference's mixer made for this listener; the video track
hands out the current speaker's latest (already scaled) picture, at most ``fps`` times a
second and never the same picture twice, so an idle source costs no encoding.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from collections.abc import Callable

import numpy as np
from aiortc import rtp
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from vcorch.mcu_adapter.webrtc.mixer import FRAME_SAMPLES, SAMPLE_RATE, Pcm

AUDIO_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
# Frames waiting for a listener's encoder; beyond this the oldest go (the sender fell behind,
# e.g. before its transport is up): 100 ms of audio.
OUTBOUND_AUDIO_FRAMES = 5


class MixedAudioTrack(MediaStreamTrack):
    """One listener's mix, 20 ms stereo frames at 48 kHz, fed by the conference's ticks."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[Pcm | None] = asyncio.Queue(maxsize=OUTBOUND_AUDIO_FRAMES)
        self._pts = 0
        self.dropped = 0

    def feed(self, pcm: Pcm) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(pcm)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pcm = await self._queue.get()
        if pcm is None:
            raise MediaStreamError
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = AUDIO_TIME_BASE
        frame.pts = self._pts
        self._pts += FRAME_SAMPLES
        return frame

    def stop(self) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        super().stop()


class VideoSource:
    """The latest scaled picture of one participant's camera, numbered."""

    def __init__(self) -> None:
        self.latest: VideoFrame | None = None
        self.seq = 0
        self.scaled_at = 0.0


def fit_within(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest even size within the cap keeping the aspect ratio; never upscales."""
    scale = min(1.0, max_width / width, max_height / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def scale_frame(
    frame: VideoFrame, max_width: int, max_height: int, pts_seconds: float
) -> VideoFrame:
    width, height = fit_within(frame.width, frame.height, max_width, max_height)
    scaled = frame.reformat(width=width, height=height, format="yuv420p")
    if scaled is frame:
        # reformat hands back the frame itself when nothing changes; copy it so that the
        # timestamp written below cannot touch the decoder's frame.
        scaled = VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
    scaled.pts = int(pts_seconds * VIDEO_CLOCK)
    scaled.time_base = VIDEO_TIME_BASE
    return scaled


class SpeakerVideoTrack(MediaStreamTrack):
    """What one listener sees: ``pick()`` names the source (the speaker, or for the speaker
    the previous one); a new picture of it goes out at most every 1/fps seconds."""

    kind = "video"

    def __init__(
        self, pick: Callable[[], VideoSource | None], fps: float, *, poll: float | None = None
    ) -> None:
        super().__init__()
        self._pick = pick
        self._interval = 1.0 / fps
        self._poll = poll if poll is not None else min(self._interval, 0.05)
        self._next_at = 0.0
        self._sent: tuple[int, int] | None = None
        self.frames_sent = 0

    async def recv(self) -> VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            now = time.monotonic()
            if now < self._next_at:
                await asyncio.sleep(self._next_at - now)
                continue
            source = self._pick()
            if source is not None and source.latest is not None:
                key = (id(source), source.seq)
                if key != self._sent:
                    self._sent = key
                    self._next_at = max(self._next_at + self._interval, now)
                    self.frames_sent += 1
                    return source.latest
            await asyncio.sleep(self._poll)


# aiortc's own, kept for comparison (tests) before use_fast_audio_level replaces it.
AIORTC_AUDIO_LEVEL = rtp.compute_audio_level_dbov


def audio_level_dbov(frame: AudioFrame) -> int:
    """RFC 6465 audio level of a frame, as ``aiortc.rtp.compute_audio_level_dbov`` computes it
    (same samples, same formula, same rounding), with numpy instead of a Python loop."""
    samples = np.frombuffer(bytes(frame.planes[0]), dtype=np.int16).astype(np.float64)
    energy = float(np.dot(samples, samples))
    rms = math.sqrt(energy / (frame.samples * 32767 * 32767))
    if rms <= 0:
        return -127
    return round(min(0.0, max(-127.0, 20 * math.log10(rms))))


def use_fast_audio_level() -> None:
    """aiortc measures every frame it sends in pure Python: 12 % of a core for six listeners
    in benchmarks/webrtc_bridge.py.  Its sender looks the function up on the module at each
    frame, so replacing it there swaps in the numpy version for every connection."""
    rtp.compute_audio_level_dbov = audio_level_dbov


def silence() -> Pcm:
    return np.zeros(FRAME_SAMPLES * 2, dtype=np.int16)
