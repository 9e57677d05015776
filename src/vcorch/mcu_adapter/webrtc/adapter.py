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
import itertools
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import aiortc
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

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
from vcorch.mcu_adapter.webrtc.addresses import offered_addresses, without_mdns_candidates
from vcorch.mcu_adapter.webrtc.inbound import read_audio, read_video
from vcorch.mcu_adapter.webrtc.media import EncodedAudioTrack, EncodedVideoTrack
from vcorch.mcu_adapter.webrtc.options import (
    DEFAULT_MAX_PER_CONFERENCE,
    DEFAULT_VIDEO,
    MediaLimits,
    builtin_config_options,
    positive_int,
    strings,
)
from vcorch.mcu_adapter.webrtc.room import LATE_TICK_SECONDS, Room, RoomStats, Session

__all__ = [
    "DEFAULT_MAX_PER_CONFERENCE",
    "DEFAULT_VIDEO",
    "LATE_TICK_SECONDS",
    "MAX_OFFER_BYTES",
    "Joined",
    "MediaLimits",
    "OfferRefused",
    "Room",
    "RoomStats",
    "Session",
    "WebRtcBridge",
    "builtin_config_options",
    "offered_addresses",
    "without_mdns_candidates",
]

if TYPE_CHECKING:
    from vcorch.config import BridgeConfig

log = logging.getLogger(__name__)

MAX_OFFER_BYTES = 64 * 1024


class OfferRefused(BridgeError):
    """The SDP offer cannot be used (malformed, no audio, nothing we can decode)."""


@dataclass(frozen=True)
class Joined:
    """The answer to a join: the session to delete on leaving, and what it replaced."""

    session_id: str
    participant_id: str
    answer_sdp: str
    replaced: str | None  # participant id of the connection this one replaced


class WebRtcBridge(Bridge):
    """The built-in browser bridge (aiortc), running inside this vcorch process."""

    type_name: ClassVar[str] = "webrtc"
    capabilities: Capabilities = Capabilities(
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
            max_per_conference=positive_int(
                options, "max_per_conference", DEFAULT_MAX_PER_CONFERENCE, config.name
            ),
            video_width=positive_int(options, "video_width", width, config.name),
            video_height=positive_int(options, "video_height", height, config.name),
            video_fps=positive_int(options, "video_fps", fps, config.name),
            connect_timeout=float(timeout),
        )
        self.host_addresses = strings(options, "host_addresses", config.name)
        self.stun_urls = strings(options, "stun_urls", config.name)
        self._rooms: dict[str, Room] = {}
        self._by_session: dict[str, Session] = {}
        self._reserved = 0
        self._lock = asyncio.Lock()
        self._numbers = itertools.count(1)
        self._background: set[asyncio.Task[None]] = set()

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
        audio_out = EncodedAudioTrack()
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
                self._spawn(session, read_audio(session, track), "audio-in")
            elif track.kind == "video":
                session.has_video = True
                self._spawn(session, read_video(room, session, track, self.limits), "video-in")

        @pc.on("datachannel")
        def _on_channel(channel: RTCDataChannel) -> None:
            session.channel = channel
            channel.add_listener("open", room.announce)
            if channel.readyState == "open":
                room.announce()

        try:
            offer = RTCSessionDescription(sdp=without_mdns_candidates(offer_sdp), type="offer")
            await pc.setRemoteDescription(offer)
            # The bridge sends what it encoded itself (Opus and VP8, shared between
            # listeners), so those are the only codecs it may answer with.
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "audio" and transceiver.sender.track is None:
                    transceiver.setCodecPreferences(_codecs("audio", "audio/opus"))
                    pc.addTrack(audio_out)
                    break
            for transceiver in pc.getTransceivers():
                if transceiver.kind == "video" and transceiver.sender.track is None:
                    transceiver.setCodecPreferences(_codecs("video", "video/VP8"))
                    video_out = EncodedVideoTrack(lambda: room.picture_lost(participant_id))
                    session.video_out = video_out
                    video_out.sender = pc.addTrack(video_out)
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
            room.active.forget(session.participant_id)
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


def _codecs(kind: str, mime_type: str) -> list[RTCRtpCodecCapability]:
    """aiortc's codec of that type, with its retransmission format (video)."""
    wanted = {mime_type.lower(), f"{kind}/rtx"}
    return [
        codec
        for codec in RTCRtpSender.getCapabilities(kind).codecs
        if codec.mimeType.lower() in wanted
    ]
