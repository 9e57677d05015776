"""One conference on the built-in bridge: its sessions, the mixing tick, the speaker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from aiortc import (
    RTCDataChannel,
    RTCPeerConnection,
)

from vcorch.mcu_adapter.webrtc.media import (
    EncodedAudioTrack,
    EncodedVideoTrack,
    OpusStream,
    VideoSource,
    Vp8Stream,
)
from vcorch.mcu_adapter.webrtc.mixer import (
    FRAME_SAMPLES,
    TICK_SECONDS,
    ActiveSpeakers,
    InboundAudio,
    SpeakerDetector,
    levels_of,
    mix_tick,
)

if TYPE_CHECKING:
    from vcorch.mcu_adapter.webrtc.adapter import WebRtcBridge

log = logging.getLogger(__name__)

# A tick that starts this late counts as "late": two frames behind, the point where a
# listener's jitter buffer starts to run dry (shorter delays are absorbed on the way).
LATE_TICK_SECONDS = 0.040


@dataclass(frozen=True)
class RoomStats:
    """How well a conference keeps real time (for health, tests and the benchmark)."""

    participants: int
    ticks: int
    late_ticks: int
    worst_lateness: float
    audio_dropped: int
    audio_encodes: int = 0  # Opus frames encoded (all streams): one per stream per tick
    video_encodes: int = 0  # VP8 pictures encoded (all streams)


# -- one participant ------------------------------------------------------------------------


@dataclass(eq=False)
class Session:
    session_id: str
    participant_id: str
    seat: str
    site_id: str | None
    display_name: str
    pc: RTCPeerConnection
    audio_out: EncodedAudioTrack
    video_out: EncodedVideoTrack | None
    room: Room
    created: float = field(default_factory=time.monotonic)
    joined_at: datetime | None = None
    muted: bool = False
    closed: bool = False
    audio_in: InboundAudio = field(default_factory=InboundAudio)
    video_in: VideoSource = field(default_factory=VideoSource)
    has_video: bool = False
    channel: RTCDataChannel | None = None  # the page's data channel, when it opened one
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Room:
    """One conference: its sessions, the mixing tick, the active speaker."""

    def __init__(self, conference_id: str, title: str, bridge: WebRtcBridge) -> None:
        self.conference_id = conference_id
        self.title = title
        self.bridge = bridge
        self.sessions: dict[str, Session] = {}  # by participant id
        self.seats: dict[str, Session] = {}
        self.reserved = 0
        self.speaker = SpeakerDetector()
        self.active = ActiveSpeakers()
        self.started = time.monotonic()
        self.ticks = 0
        self.late_ticks = 0
        self.worst_lateness = 0.0
        self._mixer: asyncio.Task[None] | None = None
        self._video: asyncio.Task[None] | None = None
        self._shared_audio = OpusStream()
        self._personal_audio: dict[str, OpusStream] = {}
        self._audio_encodes_done = 0
        self._pts = 0
        self._video_streams: dict[str, Vp8Stream] = {}  # by the participant shown
        self._shown: dict[str, str | None] = {}  # listener -> the participant it is shown
        self._video_encodes = 0

    # Tick bookkeeping is kept so that health and the benchmark can say "real time or not".
    def stats(self) -> RoomStats:
        return RoomStats(
            participants=len(self.sessions),
            ticks=self.ticks,
            late_ticks=self.late_ticks,
            worst_lateness=self.worst_lateness,
            audio_dropped=sum(s.audio_in.dropped for s in self.sessions.values()),
            audio_encodes=self._audio_encodes(),
            video_encodes=self._video_encodes,
        )

    def _audio_encodes(self) -> int:
        return (
            self._shared_audio.encoded
            + sum(stream.encoded for stream in self._personal_audio.values())
            + self._audio_encodes_done
        )

    def ensure_mixer(self) -> None:
        if self._mixer is None or self._mixer.done():
            self._mixer = asyncio.create_task(self._run_mixer(), name=f"mix-{self.conference_id}")
        if self._video is None or self._video.done():
            self._video = asyncio.create_task(self._run_video(), name=f"video-{self.conference_id}")

    async def stop_mixer(self) -> None:
        for task in (self._mixer, self._video):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._mixer = self._video = None

    async def _run_mixer(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            lateness = loop.time() - due
            self.ticks += 1
            if lateness > LATE_TICK_SECONDS:
                self.late_ticks += 1
                self.worst_lateness = max(self.worst_lateness, lateness)
            if lateness > 0.2:
                due = loop.time()  # far behind: start again rather than burst 10 ticks out
            try:
                self._tick()
            except Exception:
                log.exception("mixing tick failed in %s", self.conference_id)
            due += TICK_SECONDS
            await asyncio.sleep(max(0.0, due - loop.time()))

    def _tick(self) -> None:
        live = [s for s in self.sessions.values() if not s.closed]
        if not live:
            return
        inputs = {s.participant_id: s.audio_in.pop() for s in live}
        muted = frozenset(s.participant_id for s in live if s.muted)
        levels = levels_of(inputs)
        result = mix_tick(inputs, self.active.update(levels, muted), levels)
        pts = self._pts
        self._pts += FRAME_SAMPLES
        for gone in set(self._personal_audio) - set(result.personal):
            self._audio_encodes_done += self._personal_audio.pop(gone).encoded
        shared = None
        shared_done = False
        for session in live:
            who = session.participant_id
            if who in result.personal:
                stream = self._personal_audio.setdefault(who, OpusStream())
                packet = stream.encode(result.personal[who], pts)
            else:
                if not shared_done:
                    shared, shared_done = self._shared_audio.encode(result.shared, pts), True
                packet = shared
            if packet is not None:
                session.audio_out.feed(packet)
        if self.speaker.update(result.levels, muted):
            self.announce()

    # -- video: one encode per picture shown ------------------------------------------------

    async def _run_video(self) -> None:
        loop = asyncio.get_running_loop()
        # Looked at twice per picture interval, so a new picture waits at most half of one
        # (looking once per interval would beat against the senders' clocks and skip some).
        interval = 0.5 / self.bridge.limits.video_fps
        due = loop.time()
        while True:
            due += interval
            await asyncio.sleep(max(0.0, due - loop.time()))
            if loop.time() - due > 1.0:
                due = loop.time()
            try:
                await self._video_tick(loop)
            except Exception:
                log.exception("video tick failed in %s", self.conference_id)

    async def _video_tick(self, loop: asyncio.AbstractEventLoop) -> None:
        min_gap = 0.9 / self.bridge.limits.video_fps
        groups: dict[str, list[Session]] = {}
        for session in list(self.sessions.values()):
            if session.closed or session.video_out is None:
                continue
            shown = self.shown_to(session.participant_id)
            if self._shown.get(session.participant_id) != shown:
                self._shown[session.participant_id] = shown
                if shown in self._video_streams:
                    self._video_streams[shown].keyframe_wanted = True
            if shown is not None:
                groups.setdefault(shown, []).append(session)
        for gone in set(self._video_streams) - set(groups):
            del self._video_streams[gone]
        for shown, listeners in groups.items():
            source_session = self.sessions.get(shown)
            if source_session is None:
                continue
            source = source_session.video_in
            stream = self._video_streams.get(shown)
            if stream is None:
                stream = self._video_streams[shown] = Vp8Stream(self.bridge.limits.video_fps)
            picture = source.latest
            now = loop.time() - self.started
            fresh = source.seq != stream.source_seq and now - stream.encoded_at >= min_gap
            if picture is None or not (fresh or stream.keyframe_wanted):
                continue
            stream.source_seq, stream.encoded_at = source.seq, now
            packets = await loop.run_in_executor(None, stream.encode, picture, now)
            self._video_encodes += 1
            for listener in listeners:
                if listener.video_out is not None and not listener.closed:
                    listener.video_out.feed(packets)

    def picture_lost(self, listener: str) -> None:
        """A listener misses a picture (joined, lost packets): its stream sends a key frame."""
        shown = self._shown.get(listener)
        if shown is not None and shown in self._video_streams:
            self._video_streams[shown].keyframe_wanted = True

    # -- video routing --------------------------------------------------------------------

    def source_for(self, listener: str) -> VideoSource | None:
        """The speaker's picture; the speaker sees the previous speaker (or anyone else)."""
        wanted = self.shown_to(listener)
        session = self.sessions.get(wanted) if wanted else None
        return session.video_in if session is not None else None

    def shown_to(self, listener: str) -> str | None:
        for candidate in (self.speaker.current, self.speaker.previous):
            if candidate and candidate != listener and self._has_video(candidate):
                return candidate
        # Nobody has spoken yet: show the first one with a camera, so the screen is not black.
        for session in self.sessions.values():
            if session.participant_id != listener and session.has_video and not session.closed:
                return session.participant_id
        return None

    def _has_video(self, participant: str) -> bool:
        session = self.sessions.get(participant)
        return session is not None and session.has_video and not session.closed

    def watched(self, participant: str) -> bool:
        """Whether anyone is shown this participant now (only those pictures get scaled)."""
        return any(
            self.shown_to(other) == participant for other in self.sessions if other != participant
        )

    # -- the page's data channel ----------------------------------------------------------

    def announce(self) -> None:
        speaker = self.sessions.get(self.speaker.current or "")
        names = [s.display_name for s in self.sessions.values() if s.joined_at is not None]
        for session in self.sessions.values():
            channel = session.channel
            if channel is None or channel.readyState != "open":
                continue
            message = {
                "type": "state",
                "speaker": speaker.display_name if speaker else None,
                "speaker_is_you": speaker is session,
                "participants": names,
                "muted": session.muted,
            }
            with contextlib.suppress(Exception):
                channel.send(_json(message))


def _json(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
