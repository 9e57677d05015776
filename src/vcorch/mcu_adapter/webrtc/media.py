"""Encoders and aiortc tracks of the built-in bridge: what each listener is sent.

aiortc's sender pulls ``recv()``; given a decoded frame it encodes it (once per listener),
given an already encoded packet it only packs it into RTP.  So the bridge encodes itself,
once per *stream*, and hands the same packets to every listener of that stream:

- audio: Opus, 48 kHz mono, 20 ms frames, VoIP mode, 48 kbit/s; one stream for the mix
  all non-speakers hear, one per active speaker (its mix-minus);
- video: VP8 (libvpx, real time), at most the configured size (640x360 by default) and
  rate (15 frames a second), 600 kbit/s; one stream per picture shown — the active
  speaker's to everyone else, the previous speaker's to the speaker.
"""

from __future__ import annotations

import asyncio
import fractions
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame
from av.packet import Packet as AvPacket

from vcorch.mcu_adapter.webrtc.mixer import FRAME_SAMPLES, SAMPLE_RATE, Pcm

AUDIO_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
# Frames waiting for a listener's encoder; beyond this the oldest go (the sender fell behind,
# e.g. before its transport is up): 100 ms of audio.
OUTBOUND_AUDIO_FRAMES = 5
OUTBOUND_VIDEO_PACKETS = 8
OPUS_BITRATE = 48_000
VP8_BITRATE = 600_000
KEYFRAME_SECONDS = 4.0
_SENDER_KEYFRAME_FLAG = "_RTCRtpSender__force_keyframe"

if TYPE_CHECKING:
    from av.stream import Stream

    AnyPacket: TypeAlias = AvPacket[Stream]  # generic only in PyAV's stubs
else:
    AnyPacket = AvPacket


class OpusStream:
    """One Opus encoder (48 kHz mono, 20 ms frames, VoIP mode, ``bitrate`` bit/s).

    The conference's shared mix has one, and each active speaker's mix-minus one: a tick
    costs one encode per stream, whatever the number of listeners of the shared mix.
    """

    def __init__(self, bitrate: int = OPUS_BITRATE) -> None:
        self._codec = av.CodecContext.create("libopus", "w")
        self._codec.bit_rate = bitrate
        self._codec.format = "s16"
        self._codec.layout = "mono"
        self._codec.sample_rate = SAMPLE_RATE
        self._codec.time_base = AUDIO_TIME_BASE
        self._codec.options = {"application": "voip"}
        self._frames = 0
        self.encoded = 0

    def encode(self, pcm: Pcm, pts: int) -> AnyPacket | None:
        """Encode one 20 ms mono frame; the packet carries ``pts`` (samples, 1/48000)."""
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = AUDIO_TIME_BASE
        frame.pts = self._frames * FRAME_SAMPLES
        self._frames += 1
        packets = self._codec.encode(frame)
        if not packets:
            return None
        self.encoded += 1
        packet = packets[-1]
        packet.pts = pts
        packet.time_base = AUDIO_TIME_BASE
        return packet


class EncodedAudioTrack(MediaStreamTrack):
    """What one listener is sent: Opus packets made by an :class:`OpusStream` (often the one
    every other listener shares); aiortc's sender only packs them into RTP."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[AnyPacket | None] = asyncio.Queue(maxsize=OUTBOUND_AUDIO_FRAMES)
        self.dropped = 0

    def feed(self, packet: AnyPacket) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(packet)

    async def recv(self) -> AnyPacket:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

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


class Vp8Stream:
    """One VP8 encoder (libvpx, real-time settings) for one picture that several listeners
    are shown: encoded once, sent to each of them.  A size change opens a new encoder; a
    key frame is made on request (a listener joined, switched to this picture or lost one)
    and at least every ``KEYFRAME_SECONDS``."""

    def __init__(self, fps: int, bitrate: int = VP8_BITRATE) -> None:
        self._fps = fps
        self._bitrate = bitrate
        self._codec: av.VideoCodecContext | None = None
        self._size: tuple[int, int] | None = None
        self._last_key = -math.inf
        self.keyframe_wanted = True
        self.encoded = 0
        self.source_seq = -1  # the source picture last encoded
        self.encoded_at = -math.inf  # when (seconds on the room's clock)

    def _open(self, width: int, height: int) -> av.VideoCodecContext:
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height = width, height
        codec.pix_fmt = "yuv420p"
        codec.bit_rate = self._bitrate
        codec.framerate = fractions.Fraction(self._fps, 1)
        codec.time_base = VIDEO_TIME_BASE
        codec.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
            "error-resilient": "1",
            "auto-alt-ref": "0",
            "static-thresh": "0",
            "undershoot-pct": "95",
        }
        codec.gop_size = 10_000  # key frames only when asked for (and every few seconds)
        codec.thread_count = 1
        codec.open()
        return codec

    def encode(self, frame: VideoFrame, now: float) -> list[AnyPacket]:
        """Encode ``frame`` (runs in a worker thread: libvpx releases the GIL)."""
        size = (frame.width, frame.height)
        if self._codec is None or size != self._size:
            self._codec, self._size = self._open(*size), size
            self.keyframe_wanted = True
        keyframe = self.keyframe_wanted or now - self._last_key >= KEYFRAME_SECONDS
        picture = VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        picture.pts = int(now * VIDEO_CLOCK)
        picture.time_base = VIDEO_TIME_BASE
        picture.pict_type = (
            av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        )
        if keyframe:
            self.keyframe_wanted = False
            self._last_key = now
        packets = list(self._codec.encode(picture))
        for packet in packets:
            packet.pts = picture.pts
            packet.time_base = VIDEO_TIME_BASE
        self.encoded += 1
        return packets


class EncodedVideoTrack(MediaStreamTrack):
    """What one listener sees: VP8 packets from the :class:`Vp8Stream` of the picture it is
    shown.  A picture loss the listener reports (RTCP PLI) asks that stream for a key frame.
    """

    kind = "video"

    def __init__(self, on_picture_loss: Callable[[], None]) -> None:
        super().__init__()
        self._queue: asyncio.Queue[AnyPacket | None] = asyncio.Queue(maxsize=OUTBOUND_VIDEO_PACKETS)
        self._on_picture_loss = on_picture_loss
        self.sender: object | None = None  # aiortc's RTCRtpSender, set once added
        self.frames_sent = 0

    def feed(self, packets: list[AnyPacket]) -> None:
        for packet in packets:
            if self._queue.full():
                self._queue.get_nowait()
                # A lost frame breaks the chain of references: start again from a key frame.
                self._on_picture_loss()
            self._queue.put_nowait(packet)

    async def recv(self) -> AnyPacket:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        # aiortc's sender marks a PLI for its own encoder, which pre-encoded media bypass:
        # read the mark (a private attribute of aiortc 1.x) and pass it to the shared one.
        if self.sender is not None and getattr(self.sender, _SENDER_KEYFRAME_FLAG, False):
            setattr(self.sender, _SENDER_KEYFRAME_FLAG, False)
            self._on_picture_loss()
        self.frames_sent += 1
        return packet

    def stop(self) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        super().stop()


def silence() -> Pcm:
    return np.zeros(FRAME_SAMPLES * 2, dtype=np.int16)
