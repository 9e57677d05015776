"""vcorch's own bridge: browsers (or any WebRTC client) join over WHIP-style signalling.

Every participant is one aiortc ``RTCPeerConnection`` in this process.  Audio: every
received stream is decoded, a 20 ms tick mixes them once per conference and each listener
gets the mix minus its own voice, encoded once per listener.  Video: every received stream
is decoded (aiortc always does), only the pictures someone is shown are scaled (to the
configured cap), and each listener's encoder gets the active speaker's picture (the speaker
gets the previous speaker's) at most ``video_fps`` times a second.

The cost grows with participants (decodes) and listeners (encodes), so the bridge refuses a
participant beyond ``ports`` in the process or ``options.max_per_conference`` in one
conference (:class:`CapacityExceeded`) rather than degrade everyone; docs/webrtc-fallback.md
gives the measured figures.

Options (``[bridges.options]``, all optional; the built-in instance gets them from the
``VCORCH_WEBRTC_*`` settings): ``max_per_conference``, ``video_width``, ``video_height``,
``video_fps``, ``host_addresses`` (the addresses offered as host candidates; default: every
interface but loopback, aioice's choice), ``stun_urls`` (for the bridge's own
server-reflexive candidates), ``connect_timeout_seconds`` (a participant whose media is not
up by then is dropped, default 30).

A connection is held by a *seat* (the join link's site): a second join on the same seat
replaces the first, which leaves with reason ``replaced``.  Joins (when media is up) and
leaves go to ``context.emit`` as :class:`BridgeEvent` with the seat's ``site_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import aioice.ice
import aiortc
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler, VideoFrame

from vcorch.config import ConfigError
from vcorch.mcu_adapter.base import (
    Bridge,
    BridgeContext,
    BridgeError,
    BridgeEvent,
    BridgeHealth,
    Capabilities,
    CapacityExceeded,
    ConferenceNotFound,
    ConferenceRef,
    ConferenceSpec,
    DialTarget,
    NotSupported,
    Participant,
    ParticipantRef,
)
from vcorch.mcu_adapter.webrtc.media import (
    MixedAudioTrack,
    SpeakerVideoTrack,
    VideoSource,
    scale_frame,
    use_fast_audio_level,
)
from vcorch.mcu_adapter.webrtc.mixer import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    TICK_SECONDS,
    InboundAudio,
    SpeakerDetector,
    mix_tick,
)

if TYPE_CHECKING:
    from vcorch.config import BridgeConfig

log = logging.getLogger(__name__)

DEFAULT_MAX_PER_CONFERENCE = 4  # see benchmarks/webrtc_bridge.py and docs/webrtc-fallback.md
DEFAULT_VIDEO = (640, 360, 15)
MAX_OFFER_BYTES = 64 * 1024
# A tick that starts this late counts as "late": two frames behind, the point where a
# listener's jitter buffer starts to run dry (shorter delays are absorbed on the way).
LATE_TICK_SECONDS = 0.040


class OfferRefused(BridgeError):
    """The SDP offer cannot be used (malformed, no audio, nothing we can decode)."""


@dataclass(frozen=True)
class Joined:
    """The answer to a join: the session to delete on leaving, and what it replaced."""

    session_id: str
    participant_id: str
    answer_sdp: str
    replaced: str | None  # participant id of the connection this one replaced


@dataclass(frozen=True)
class RoomStats:
    """How well a conference keeps real time (for health, tests and the benchmark)."""

    participants: int
    ticks: int
    late_ticks: int
    worst_lateness: float
    audio_dropped: int


# -- which addresses aioice offers ----------------------------------------------------------

_HOST_ADDRESSES: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "vcorch_webrtc_host_addresses", default=None
)


def _install_host_address_hook() -> None:
    """Let a context choose the host candidates aioice gathers (it reads a module function).

    Outside such a context aioice behaves as it always does; checked at every join since
    other code (test harnesses) may swap the function too.
    """
    current = aioice.ice.get_host_addresses
    if getattr(current, "vcorch_hook", False):
        return

    def chosen_or_default(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        chosen = _HOST_ADDRESSES.get()
        if chosen is None:
            return list(current(use_ipv4, use_ipv6))
        return [a for a in chosen if (use_ipv6 if ":" in a else use_ipv4)]

    chosen_or_default.vcorch_hook = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = chosen_or_default


@contextlib.contextmanager
def offered_addresses(addresses: Sequence[str] | None) -> Iterator[None]:
    """Within this block, peer connections gather host candidates on ``addresses`` only."""
    if not addresses:
        yield
        return
    _install_host_address_hook()
    token = _HOST_ADDRESSES.set(tuple(addresses))
    try:
        yield
    finally:
        _HOST_ADDRESSES.reset(token)


_MDNS_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ \S+\.local \d+ .*$", re.MULTILINE)


def without_mdns_candidates(sdp: str) -> str:
    """Drop ``.local`` host candidates: resolving them multicasts on the bridge's network and
    a browser's LAN name is never reachable from the bridge anyway (its server-reflexive or
    relay candidates are)."""
    return re.sub(r"\r?\n(?=\r?\n)", "", _MDNS_CANDIDATE.sub("", sdp))


# -- one participant ------------------------------------------------------------------------


@dataclass(eq=False)
class Session:
    session_id: str
    participant_id: str
    seat: str
    site_id: str | None
    display_name: str
    pc: RTCPeerConnection
    audio_out: MixedAudioTrack
    video_out: SpeakerVideoTrack | None
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
        self.started = time.monotonic()
        self.ticks = 0
        self.late_ticks = 0
        self.worst_lateness = 0.0
        self._mixer: asyncio.Task[None] | None = None

    # Tick bookkeeping is kept so that health and the benchmark can say "real time or not".
    def stats(self) -> RoomStats:
        return RoomStats(
            participants=len(self.sessions),
            ticks=self.ticks,
            late_ticks=self.late_ticks,
            worst_lateness=self.worst_lateness,
            audio_dropped=sum(s.audio_in.dropped for s in self.sessions.values()),
        )

    def ensure_mixer(self) -> None:
        if self._mixer is None or self._mixer.done():
            self._mixer = asyncio.create_task(self._run_mixer(), name=f"mix-{self.conference_id}")

    async def stop_mixer(self) -> None:
        if self._mixer is not None:
            self._mixer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mixer
            self._mixer = None

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
        result = mix_tick(inputs, (s.participant_id for s in live), muted)
        for session in live:
            session.audio_out.feed(result.outputs[session.participant_id])
        if self.speaker.update(result.levels, muted):
            self.announce()

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


# -- the bridge -----------------------------------------------------------------------------


def _positive_int(options: dict[str, Any], key: str, default: int, name: str) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"bridges.{name}.options.{key}: must be a positive integer")
    return value


def _strings(options: dict[str, Any], key: str, name: str) -> tuple[str, ...]:
    value = options.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"bridges.{name}.options.{key}: must be a list of strings")
    return tuple(value)


@dataclass(frozen=True)
class MediaLimits:
    max_per_conference: int
    video_width: int
    video_height: int
    video_fps: int
    connect_timeout: float


class WebRtcBridge(Bridge):
    """The built-in browser bridge (aiortc), running inside this vcorch process."""

    type_name: ClassVar[str] = "webrtc"
    capabilities: ClassVar[Capabilities] = Capabilities(
        webrtc_join=True, events_pushed=True, mute=True, disconnect=True
    )

    def __init__(self, config: BridgeConfig, context: BridgeContext) -> None:
        super().__init__(config, context)
        options = config.options
        known = {
            "max_per_conference",
            "video_width",
            "video_height",
            "video_fps",
            "host_addresses",
            "stun_urls",
            "connect_timeout_seconds",
        }
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(f"bridges.{config.name}.options: unknown keys {', '.join(unknown)}")
        width, height, fps = DEFAULT_VIDEO
        timeout = options.get("connect_timeout_seconds", 30)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"bridges.{config.name}.options.connect_timeout_seconds: must be > 0")
        self.limits = MediaLimits(
            max_per_conference=_positive_int(
                options, "max_per_conference", DEFAULT_MAX_PER_CONFERENCE, config.name
            ),
            video_width=_positive_int(options, "video_width", width, config.name),
            video_height=_positive_int(options, "video_height", height, config.name),
            video_fps=_positive_int(options, "video_fps", fps, config.name),
            connect_timeout=float(timeout),
        )
        self.host_addresses = _strings(options, "host_addresses", config.name)
        self.stun_urls = _strings(options, "stun_urls", config.name)
        self._rooms: dict[str, Room] = {}
        self._by_session: dict[str, Session] = {}
        self._reserved = 0
        self._lock = asyncio.Lock()
        self._numbers = itertools.count(1)
        self._background: set[asyncio.Task[None]] = set()
        use_fast_audio_level()

    # -- life cycle ----------------------------------------------------------------------

    async def close(self) -> None:
        for room in list(self._rooms.values()):
            await self._end(room, "the bridge stopped")
        self._rooms.clear()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- contract ------------------------------------------------------------------------

    async def health(self) -> BridgeHealth:
        in_use = len(self._by_session)
        late = sum(room.late_ticks for room in self._rooms.values())
        ticks = sum(room.ticks for room in self._rooms.values())
        return BridgeHealth(
            reachable=True,
            version=f"aiortc {aiortc.__version__}",
            ports_total=self.config.ports,
            ports_in_use=in_use,
            load=min(1.0, in_use / self.config.ports),
            detail=f"{len(self._rooms)} conferences; {late} of {ticks} mixing ticks late",
        )

    async def create_conference(self, spec: ConferenceSpec) -> ConferenceRef:
        room = self._rooms.get(spec.key)
        if room is None:
            room = Room(spec.key, spec.title, self)
            self._rooms[spec.key] = room
        return ConferenceRef(bridge=self.name, conference_id=spec.key)

    async def end_conference(self, ref: ConferenceRef) -> None:
        room = self._rooms.pop(ref.conference_id, None)
        if room is not None:
            await self._end(room, "the conference ended")

    async def dial_out(self, ref: ConferenceRef, target: DialTarget) -> ParticipantRef:
        raise NotSupported(self.name, "the built-in bridge cannot call out; sites join by link")

    async def participants(self, ref: ConferenceRef) -> list[Participant]:
        room = self._room(ref.conference_id)
        return [
            Participant(
                participant_id=s.participant_id,
                display_name=s.display_name,
                address=None,
                site_id=s.site_id,
                connected=s.joined_at is not None and not s.closed,
                muted=s.muted,
                joined_at=s.joined_at,
            )
            for s in room.sessions.values()
        ]

    async def disconnect(self, ref: ConferenceRef, participant_id: str) -> None:
        room = self._room(ref.conference_id)
        session = room.sessions.get(participant_id)
        if session is None:
            raise ConferenceNotFound(self.name, "no such participant")
        await self._close(session, "disconnected by an operator")

    async def mute(self, ref: ConferenceRef, participant_id: str, muted: bool) -> None:
        room = self._room(ref.conference_id)
        session = room.sessions.get(participant_id)
        if session is None:
            raise ConferenceNotFound(self.name, "no such participant")
        session.muted = muted
        room.announce()

    async def webrtc_join_url(
        self, ref: ConferenceRef, target: DialTarget, expires_at: datetime
    ) -> str:
        # Links to this bridge are vcorch's own signed join links (conference/join_links.py),
        # made where the signing key is; the bridge itself holds no key.
        raise NotSupported(self.name, "links to the built-in bridge are issued by vcorch")

    # -- beyond the contract: joining and leaving ----------------------------------------

    def conference_exists(self, conference_id: str) -> bool:
        return conference_id in self._rooms

    def room_stats(self, conference_id: str) -> RoomStats:
        return self._room(conference_id).stats()

    def session_info(self, session_id: str) -> Session | None:
        return self._by_session.get(session_id)

    async def join(
        self,
        conference_id: str,
        *,
        seat: str,
        site_id: str | None,
        display_name: str,
        offer_sdp: str,
    ) -> Joined:
        """Answer a WHIP offer.  Raises :class:`ConferenceNotFound`, :class:`CapacityExceeded`
        (nothing changes then) or :class:`OfferRefused`."""
        if len(offer_sdp.encode("utf-8")) > MAX_OFFER_BYTES:
            raise OfferRefused(self.name, "the offer is too large")
        if "m=audio" not in offer_sdp:
            raise OfferRefused(self.name, "the offer has no audio")
        async with self._lock:
            room = self._room(conference_id)
            self._check_capacity(room, seat)
            self._reserved += 1
            room.reserved += 1
        try:
            session = await self._negotiate(room, seat, site_id, display_name, offer_sdp)
        finally:
            self._reserved -= 1
            room.reserved -= 1
        async with self._lock:
            if room.conference_id not in self._rooms:
                await self._discard(session)
                raise ConferenceNotFound(self.name, "the conference ended meanwhile")
            previous = room.seats.get(seat)
            room.seats[seat] = session
            room.sessions[session.participant_id] = session
            self._by_session[session.session_id] = session
            room.ensure_mixer()
        self._watch(session, room)
        replaced = None
        if previous is not None and not previous.closed:
            replaced = previous.participant_id
            await self._close(previous, "replaced by a new connection of the same link")
        answer = session.pc.localDescription
        return Joined(session.session_id, session.participant_id, answer.sdp, replaced)

    async def leave(self, session_id: str, reason: str = "left") -> bool:
        """End a session (the page's ``DELETE``); False when there is no such session."""
        session = self._by_session.get(session_id)
        if session is None:
            return False
        await self._close(session, reason)
        return True

    # -- internals -----------------------------------------------------------------------

    def _room(self, conference_id: str) -> Room:
        room = self._rooms.get(conference_id)
        if room is None:
            raise ConferenceNotFound(self.name, "no such conference on the built-in bridge")
        return room

    def _check_capacity(self, room: Room, seat: str) -> None:
        # The connection this one replaces frees its place: a reconnect is never refused
        # for the room it already holds.
        replacing = 1 if seat in room.seats and not room.seats[seat].closed else 0
        in_process = len(self._by_session) + self._reserved - replacing
        if in_process >= self.config.ports:
            raise CapacityExceeded(
                self.name,
                f"the built-in bridge carries at most {self.config.ports} participants "
                "in this process, and all are taken",
            )
        in_room = len(room.sessions) + room.reserved - replacing
        if in_room >= self.limits.max_per_conference:
            raise CapacityExceeded(
                self.name,
                f"this meeting already has {in_room} browser participants, the most "
                f"the built-in bridge carries in one meeting ({self.limits.max_per_conference})",
            )

    def _configuration(self) -> RTCConfiguration:
        servers = [RTCIceServer(urls=list(self.stun_urls))] if self.stun_urls else []
        # An empty list matters: without one aiortc adds a public STUN server of its own.
        return RTCConfiguration(iceServers=servers)

    async def _negotiate(
        self, room: Room, seat: str, site_id: str | None, display_name: str, offer_sdp: str
    ) -> Session:
        pc = RTCPeerConnection(self._configuration())
        number = next(self._numbers)
        participant_id = f"{seat}.{number}"
        audio_out = MixedAudioTrack()
        session = Session(
            session_id=secrets.token_urlsafe(18),
            participant_id=participant_id,
            seat=seat,
            site_id=site_id,
            display_name=display_name,
            pc=pc,
            audio_out=audio_out,
            video_out=None,
            room=room,
        )

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self._spawn(session, self._read_audio(session, track), "audio-in")
            elif track.kind == "video":
                session.has_video = True
                self._spawn(session, self._read_video(room, session, track), "video-in")

        @pc.on("datachannel")
        def _on_channel(channel: RTCDataChannel) -> None:
            session.channel = channel
            channel.add_listener("open", room.announce)
            if channel.readyState == "open":
                room.announce()

        try:
            offer = RTCSessionDescription(sdp=without_mdns_candidates(offer_sdp), type="offer")
            await pc.setRemoteDescription(offer)
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "audio" and transceiver.sender.track is None:
                    pc.addTrack(audio_out)
                    break
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video" and transceiver.sender.track is None:
                    video_out = SpeakerVideoTrack(
                        lambda: room.source_for(participant_id), self.limits.video_fps
                    )
                    session.video_out = video_out
                    pc.addTrack(video_out)
                    break
            answer = await pc.createAnswer()
            with offered_addresses(self.host_addresses):
                await pc.setLocalDescription(answer)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as err:
            # aiortc raises these for offers it cannot parse or cannot answer.
            await self._discard(session)
            raise OfferRefused(self.name, f"the offer cannot be answered: {err}") from err
        except Exception:
            await self._discard(session)
            raise
        if "a=candidate:" not in pc.localDescription.sdp:
            await self._discard(session)
            raise OfferRefused(self.name, "the bridge found no network address to offer")
        return session

    def _watch(self, session: Session, room: Room) -> None:
        pc = session.pc

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            state = pc.connectionState
            if state == "connected" and session.joined_at is None and not session.closed:
                session.joined_at = self.context.clock()
                await self._emit(room, session, "join", None)
                room.announce()
            elif state in ("failed", "closed") and not session.closed:
                await self._close(session, "connection lost" if state == "failed" else "left")

        self._spawn(session, self._connect_deadline(session), "connect-deadline")

    async def _connect_deadline(self, session: Session) -> None:
        await asyncio.sleep(self.limits.connect_timeout)
        if session.joined_at is None and not session.closed:
            task = asyncio.create_task(self._close(session, "media never connected"))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _spawn(self, session: Session, work: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(
            work, name=f"{name}-{session.participant_id}"
        )
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    async def _read_audio(self, session: Session, track: MediaStreamTrack) -> None:
        # Whatever the codec's rate and layout, frames become 20 ms of 48 kHz mono.
        resampler = AudioResampler(
            format="s16", layout="mono", rate=SAMPLE_RATE, frame_size=FRAME_SAMPLES
        )
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, AudioFrame):
                    continue
                for piece in resampler.resample(frame):
                    pcm = piece.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                    if pcm.size == FRAME_SAMPLES:
                        session.audio_in.push(pcm)

    async def _read_video(self, room: Room, session: Session, track: MediaStreamTrack) -> None:
        # Every frame must be read (aiortc decodes it anyway, and an unread queue grows);
        # only pictures someone is shown are scaled, at most video_fps a second.
        interval = 0.9 / self.limits.video_fps
        source = session.video_in
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, VideoFrame):
                    continue
                now = time.monotonic()
                if now - source.scaled_at < interval or not room.watched(session.participant_id):
                    continue
                source.latest = scale_frame(
                    frame,
                    self.limits.video_width,
                    self.limits.video_height,
                    now - room.started,
                )
                source.seq += 1
                source.scaled_at = now

    async def _close(self, session: Session, reason: str) -> None:
        if session.closed:
            return
        session.closed = True
        room: Room | None = session.room
        self._by_session.pop(session.session_id, None)
        if room is not None:
            room.sessions.pop(session.participant_id, None)
            if room.seats.get(session.seat) is session:
                del room.seats[session.seat]
            room.speaker.forget(session.participant_id)
        await self._discard(session)
        if room is not None:
            if session.joined_at is not None:
                await self._emit(room, session, "leave", reason)
            room.announce()
            if not room.sessions:
                await room.stop_mixer()
        log.info(
            "built-in bridge: %s left %s (%s)",
            session.participant_id,
            room.conference_id if room else "?",
            reason,
        )

    async def _discard(self, session: Session) -> None:
        session.closed = True
        current = asyncio.current_task()
        for task in list(session.tasks):
            if task is not current:
                task.cancel()
        session.audio_out.stop()
        if session.video_out is not None:
            session.video_out.stop()
        await session.pc.close()

    async def _end(self, room: Room, reason: str) -> None:
        for session in list(room.sessions.values()):
            await self._close(session, reason)
        await room.stop_mixer()

    async def _emit(
        self, room: Room, session: Session, kind: Literal["join", "leave"], reason: str | None
    ) -> None:
        if self.context.emit is None:
            return
        event = BridgeEvent(
            kind=kind,
            conference_id=room.conference_id,
            participant_id=session.participant_id,
            at=self.context.clock(),
            event_id=f"{self.name}:{room.conference_id}:{session.participant_id}:{kind}",
            site_id=session.site_id,
            display_name=session.display_name,
            reason=reason,
        )
        try:
            await self.context.emit(self.name, [event])
        except Exception:
            # Media must not stop because the event store hiccuped; the gap is logged.
            log.exception(
                "built-in bridge: could not store the %s of %s", kind, session.participant_id
            )


def builtin_config_options(
    *,
    max_per_conference: int,
    video_width: int,
    video_height: int,
    video_fps: int,
    host_addresses: Sequence[str],
    stun_urls: Sequence[str],
) -> dict[str, Any]:
    """The ``options`` of the built-in instance, from the typed settings."""
    return {
        "max_per_conference": max_per_conference,
        "video_width": video_width,
        "video_height": video_height,
        "video_fps": video_fps,
        "host_addresses": list(host_addresses),
        "stun_urls": list(stun_urls),
    }
