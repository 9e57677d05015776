"""Janus as a bridge: AudioBridge (and VideoRoom) rooms driven through the Admin API.

Configuration (``[[bridges]]``, see docs/bridges.md, "Janus"):

- ``url``: the Janus HTTP API base, e.g. ``http://127.0.0.1:8088/janus``;
- ``secret_env`` / ``secret_file``: the Admin API ``admin_secret`` (required);
- ``options.admin_url``: the Admin API base (default: ``url``'s host, port 7088, ``/admin``);
- ``options.signalling_url``: the HTTP API base as browsers reach it (default ``url``);
- ``options.join_page_url``: the absolute URL of vcorch's join page the browser link points
  at (e.g. ``https://vcorch.example.vn/join/janus``); without it ``webrtc_join_url`` raises
  ``NotSupported``;
- ``options.presence``: plugins whose joins/leaves count (default ``["audiobridge"]``);
- ``options.join_on``: ``"media"`` (default: a join counts from ``webrtcup``) or ``"joined"``;
- ``options.kick_settle_seconds``: how long ``disconnect`` waits for Janus to drop the
  participant it kicked (default 2);
- ``options.hook_secret_env`` / ``hook_secret_file``: what the event handler presents (as
  the ``backend_pwd`` of basic auth, or ``?token=`` in its backend URL);
- ``options.admin_key_env`` / ``admin_key_file``: the AudioBridge/VideoRoom ``admin_key``
  (the plugins' ``general.admin_key``), for a Janus that lets only its holders create rooms;
- ``options.room_pin``: true gives every room a six-digit ``pin`` (derived from the admin
  secret and the room number, so a repeated create offers the same one); default false.

Dial-in (``dial_in``): the room number and its PIN, what a WebRTC client or a SIP gateway
in front of the AudioBridge asks for.  In-call control: ``mute_all`` is AudioBridge's
``mute_room``/``unmute_room``; ``lock`` is the rooms' token ACL (``allowed`` with action
``enable`` and no token: nobody new may join, those in stay; ``disable`` opens again).
Layouts are the browsers' own (VideoRoom forwards streams, it composes nothing) and there
is no on-screen message: both ``NotSupported``.

A conference is an AudioBridge room, plus a VideoRoom room with the same number unless
the spec is audio-only.  Room numbers derive from ``spec.key``, so creating again finds
the same room; rooms are private and carry a moderation secret derived from the admin
secret.  Janus does not dial SIP or H.323 here: a site joins with a browser (or any
WebRTC client) using the participant id ``dial_out`` reserved for it.
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from vcorch.config import ConfigError
from vcorch.mcu_adapter.base import (
    Bridge,
    BridgeBusy,
    BridgeContext,
    BridgeError,
    BridgeEvent,
    BridgeHealth,
    BridgeProtocolError,
    BridgeUnavailable,
    Capabilities,
    ConferenceNotFound,
    ConferenceRef,
    ConferenceSpec,
    DialIn,
    DialTarget,
    InboundRequest,
    NotSupported,
    Participant,
    ParticipantRef,
)
from vcorch.mcu_adapter.janus.client import (
    AUDIOBRIDGE,
    AUDIOBRIDGE_NO_SUCH_ROOM,
    AUDIOBRIDGE_ROOM_EXISTS,
    VIDEOROOM,
    VIDEOROOM_NO_SUCH_FEED,
    VIDEOROOM_NO_SUCH_ROOM,
    VIDEOROOM_ROOM_EXISTS,
    JanusClient,
)
from vcorch.mcu_adapter.janus.events import PLUGIN_SHORT, EventTracker
from vcorch.mcu_adapter.janus.naming import (
    join_url,
    participant_id_for,
    room_id_for,
    room_pin,
    room_secret,
    site_of_participant,
)
from vcorch.mcu_adapter.retry import RetryPolicy

if TYPE_CHECKING:
    from vcorch.config import BridgeConfig

DEFAULT_ADMIN_PORT = 7088
SITE_MEMORY = 10_000
KICK_POLL_SECONDS = 0.05
KICK_SETTLE_SECONDS = 2.0


def _default_admin_url(api_url: str) -> str:
    parts = urlsplit(api_url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit((parts.scheme or "http", f"{host}:{DEFAULT_ADMIN_PORT}", "/admin", "", ""))


def _option_str(config: BridgeConfig, key: str, default: str) -> str:
    value = config.options.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"bridges.{config.name}.options.{key}: must be a non-empty string")
    return value


def _option_seconds(config: BridgeConfig, key: str, default: float) -> float:
    value = config.options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 60:
        raise ConfigError(f"bridges.{config.name}.options.{key}: seconds between 0 and 60")
    return float(value)


def _join_page(config: BridgeConfig) -> str | None:
    value = config.options.get("join_page_url")
    if value is None:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in {"http", "https"}:
        raise ConfigError(f"bridges.{config.name}.options.join_page_url: an absolute http(s) URL")
    return value


def _option_secret(config: BridgeConfig, key: str) -> str | None:
    """``options.<key>_env`` / ``<key>_file``, read as the hook secret is (base.py)."""
    env_name = config.options.get(f"{key}_env")
    file_name = config.options.get(f"{key}_file")
    if env_name:
        value = os.environ.get(str(env_name))
        if not value:
            raise ConfigError(f"bridges.{config.name}.options.{key}_env: {env_name} is not set")
        return value
    if file_name:
        try:
            value = Path(str(file_name)).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(
                f"bridges.{config.name}.options.{key}_file: cannot read {file_name}: {err.strerror}"
            ) from err
        if not value:
            raise ConfigError(f"bridges.{config.name}.options.{key}_file: {file_name} is empty")
        return value
    return None


def _presence(config: BridgeConfig) -> frozenset[str]:
    value = config.options.get("presence", ["audiobridge"])
    names = [value] if isinstance(value, str) else value
    known = set(PLUGIN_SHORT.values())
    if not isinstance(names, list) or not names or not all(n in known for n in names):
        raise ConfigError(
            f"bridges.{config.name}.options.presence: a list drawn from {sorted(known)}"
        )
    return frozenset(names)


@dataclass(frozen=True)
class JanusBrowserRoom:
    """A browser's way into one Janus conference: always its AudioBridge room (the sound
    everyone hears, and what presence counts), and its VideoRoom room when it has one."""

    server: str  # the Janus HTTP API as browsers reach it (options.signalling_url)
    room: int
    participant_id: int
    display: str
    pin: str | None
    videoroom: int | None


class JanusBridge(Bridge):
    """Janus (Debian package ``janus``, 1.1) through its Admin API and sample event handler."""

    type_name: ClassVar[str] = "janus"
    # Janus publishes no request rate for its Admin API; it runs beside vcorch and answers
    # each request from its own threads.  50 requests a second keeps a room listing per
    # meeting every second and a launch's room creates well inside what one Janus takes.
    default_request_budget: ClassVar[float | None] = 50.0
    capabilities: Capabilities = Capabilities(
        dial_sip=False,
        dial_h323=False,
        webrtc_join=True,
        events_pushed=True,
        events_polled=True,
        mute=True,
        layouts=False,
        cascade=False,
        disconnect=True,
        dial_in_id=True,
        mute_all=True,
        lock=True,
    )

    def __init__(self, config: BridgeConfig, context: BridgeContext) -> None:
        super().__init__(config, context)
        if not config.url:
            raise ConfigError(f"bridges.{config.name}.url: the Janus HTTP API base is required")
        admin_secret = config.read_secret("secret")
        if not admin_secret:
            raise ConfigError(
                f"bridges.{config.name}: set secret_env or secret_file to Janus' admin_secret"
            )
        self._admin_secret = admin_secret
        # Only ``create`` needs it (measured on 1.1.2: edit and destroy take the room's
        # secret); like the admin secret it travels in request bodies only.
        self._plugin_admin_key = _option_secret(config, "admin_key")
        pin_rooms = config.options.get("room_pin", False)
        if not isinstance(pin_rooms, bool):
            raise ConfigError(f"bridges.{config.name}.options.room_pin: true or false")
        self._pin_rooms = pin_rooms
        self._api_url = config.url.rstrip("/")
        self._admin_url = _option_str(config, "admin_url", _default_admin_url(self._api_url))
        self._signalling_url = _option_str(config, "signalling_url", self._api_url)
        self._join_page = _join_page(config)
        join_on = config.options.get("join_on", "media")
        if join_on not in {"media", "joined"}:
            raise ConfigError(f"bridges.{config.name}.options.join_on: 'media' or 'joined'")
        self._policy = RetryPolicy.from_config(config)
        self._kick_settle = _option_seconds(config, "kick_settle_seconds", KICK_SETTLE_SECONDS)
        self._sites: dict[tuple[str, str], str] = {}
        self._tracker = EventTracker(
            config.name,
            presence_plugins=_presence(config),
            join_on_media=join_on == "media",
            site_of=self._site_of,
        )
        self._own_http: aiohttp.ClientSession | None = None
        self._client_cache: JanusClient | None = None

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self.context.http is None and self._own_http is None:
            self._own_http = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._own_http is not None:
            await self._own_http.close()
            self._own_http = None
        self._client_cache = None

    def _client(self) -> JanusClient:
        http = self.context.http or self._own_http
        if http is None:
            raise BridgeUnavailable(self.name, "no HTTP session (start() was not called)")
        if self._client_cache is None or self._client_cache.http is not http:
            self._client_cache = JanusClient(
                http,
                bridge=self.name,
                api_url=self._api_url,
                admin_url=self._admin_url,
                admin_secret=self._admin_secret,
                policy=self._policy,
                budget=self.budget,
            )
        return self._client_cache

    # -- helpers ------------------------------------------------------------------------

    def _room(self, ref: ConferenceRef) -> int:
        if ref.bridge != self.name:
            raise ConferenceNotFound(self.name, f"conference of another bridge ({ref.bridge})")
        return self._number(ref.conference_id, "conference")

    def _number(self, text: str, what: str) -> int:
        if not text.isdigit() or not 0 < int(text) < 2**63:
            raise ConferenceNotFound(self.name, f"no such {what} {text!r} on Janus")
        return int(text)

    def _has_video(self, ref: ConferenceRef) -> bool:
        return ref.extra.get("videoroom") is not None

    def _site_of(self, room: str, participant: str) -> str | None:
        """The site of a participant: remembered, else read from its reserved id (so after
        a restart too)."""
        return self._sites.get((room, participant)) or site_of_participant(participant)

    def _remember_site(self, room: int, participant: int, site_id: str) -> None:
        if len(self._sites) >= SITE_MEMORY:
            self._sites.pop(next(iter(self._sites)))
        self._sites[(str(room), str(participant))] = site_id

    async def _exists(self, plugin: str, room: int) -> bool:
        response = await self._client().message_plugin(
            plugin, {"request": "exists", "room": room}, idempotent=True
        )
        exists = response.get("exists")
        if not isinstance(exists, bool):
            raise BridgeProtocolError(self.name, f"{plugin} exists: no boolean 'exists'")
        return exists

    # -- the contract -------------------------------------------------------------------

    async def health(self) -> BridgeHealth:
        try:
            client = self._client()
            await client.ping()
            info = await client.admin_info()
            sessions = await client.list_sessions()
        except BridgeBusy as err:
            # Busy is not down: it answered (through a proxy) and asks us to come back.
            return BridgeHealth(
                reachable=True, ports_total=self.config.ports, detail=f"busy: {err.reason}"
            )
        except BridgeError as err:
            return BridgeHealth(reachable=False, detail=err.reason)
        plugins = info.get("plugins")
        loaded = set(plugins) if isinstance(plugins, Mapping) else set()
        version = info.get("version_string")
        in_use = len(sessions)
        if AUDIOBRIDGE not in loaded:
            reachable, detail = False, "AudioBridge plugin not loaded"
        elif VIDEOROOM not in loaded:
            reachable, detail = True, "VideoRoom plugin not loaded: audio only"
        else:
            reachable, detail = True, ""
        return BridgeHealth(
            reachable=reachable,
            version=str(version) if version is not None else None,
            ports_total=self.config.ports,
            # Each participant holds one Janus session; idle sessions count too.
            ports_in_use=in_use,
            load=min(1.0, in_use / self.config.ports),
            detail=detail,
        )

    async def create_conference(self, spec: ConferenceSpec) -> ConferenceRef:
        room = room_id_for(spec.key)
        pin = spec.pin or (room_pin(self._admin_secret, room) if self._pin_rooms else None)
        common: dict[str, Any] = {
            "request": "create",
            "room": room,
            "description": unicodedata.normalize("NFC", spec.title),
            "secret": room_secret(self._admin_secret, room),
            "is_private": True,
            "permanent": False,
        }
        if pin:
            common["pin"] = pin
        if self._plugin_admin_key is not None:
            common["admin_key"] = self._plugin_admin_key
        client = self._client()
        # A fixed room number makes a repeated create harmless: Janus answers "exists".
        if not await self._exists(AUDIOBRIDGE, room):
            await client.message_plugin(
                AUDIOBRIDGE,
                {**common, "sampling_rate": 16000},
                idempotent=True,
                tolerate={AUDIOBRIDGE_ROOM_EXISTS},
            )
        extra = {"audiobridge": str(room)}
        if pin:
            # The join link needs it; it is the meeting's PIN, not a credential of vcorch.
            extra["pin"] = pin
        if not spec.audio_only:
            if not await self._exists(VIDEOROOM, room):
                await client.message_plugin(
                    VIDEOROOM,
                    {**common, "publishers": max(spec.expected_sites, 1)},
                    idempotent=True,
                    tolerate={VIDEOROOM_ROOM_EXISTS},
                )
            extra["videoroom"] = str(room)
        return ConferenceRef(bridge=self.name, conference_id=str(room), extra=extra)

    async def end_conference(self, ref: ConferenceRef) -> None:
        room = self._room(ref)
        request = {
            "request": "destroy",
            "room": room,
            "secret": room_secret(self._admin_secret, room),
        }
        client = self._client()
        if self._has_video(ref):
            await client.message_plugin(
                VIDEOROOM, request, idempotent=True, tolerate={VIDEOROOM_NO_SUCH_ROOM}
            )
        await client.message_plugin(
            AUDIOBRIDGE, request, idempotent=True, tolerate={AUDIOBRIDGE_NO_SUCH_ROOM}
        )

    async def dial_out(self, ref: ConferenceRef, target: DialTarget) -> ParticipantRef:
        if target.kind != "webrtc":
            raise NotSupported(self.name, f"Janus does not dial {target.kind} endpoints here")
        room = self._room(ref)
        if not await self._exists(AUDIOBRIDGE, room):
            raise ConferenceNotFound(self.name, f"no AudioBridge room {room}")
        participant = participant_id_for(room, target.site_id)
        self._remember_site(room, participant, target.site_id)
        return ParticipantRef(conference_id=ref.conference_id, participant_id=str(participant))

    async def participants(self, ref: ConferenceRef) -> list[Participant]:
        room = self._room(ref)
        response = await self._client().message_plugin(
            AUDIOBRIDGE,
            {"request": "listparticipants", "room": room},
            idempotent=True,
            urgent=False,
        )
        listed = response.get("participants")
        if not isinstance(listed, list):
            raise BridgeProtocolError(self.name, "listparticipants: no participant list")
        return [self._participant(str(room), item) for item in listed]

    def _participant(self, room: str, item: object) -> Participant:
        if not isinstance(item, dict):
            raise BridgeProtocolError(self.name, "listparticipants: an entry is not an object")
        raw_id = item.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, int | str):
            raise BridgeProtocolError(self.name, "listparticipants: an entry has no id")
        setup, muted = item.get("setup"), item.get("muted")
        if not isinstance(setup, bool) or not isinstance(muted, bool):
            raise BridgeProtocolError(self.name, "listparticipants: setup/muted not booleans")
        display = item.get("display")
        participant = str(raw_id)
        return Participant(
            participant_id=participant,
            display_name=display if isinstance(display, str) else "",
            address=None,
            site_id=self._site_of(room, participant),
            connected=setup,
            muted=muted,
            joined_at=self._tracker.joined_at(room, participant),
        )

    async def disconnect(self, ref: ConferenceRef, participant_id: str) -> None:
        """Kick the participant; returns once Janus no longer lists it (at most
        ``options.kick_settle_seconds`` later: Janus accepted the kick, the connection is
        closing)."""
        room = self._room(ref)
        participant = self._number(participant_id, "participant")
        request = {
            "request": "kick",
            "room": room,
            "id": participant,
            "secret": room_secret(self._admin_secret, room),
        }
        client = self._client()
        # Not repeated once sent: a second kick would report the first one's success as
        # "no such user".
        await client.message_plugin(AUDIOBRIDGE, request, idempotent=False)
        if self._has_video(ref):
            await client.message_plugin(
                VIDEOROOM,
                request,
                idempotent=False,
                tolerate={VIDEOROOM_NO_SUCH_ROOM, VIDEOROOM_NO_SUCH_FEED},
            )
        # Janus answers the kick at once but drops the participant only when the
        # PeerConnection is torn down (0.3-0.4 s measured on 1.1.2).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._kick_settle
        while loop.time() < deadline:
            try:
                listed = await self.participants(ref)
            except ConferenceNotFound:
                return
            if all(p.participant_id != participant_id for p in listed):
                return
            await asyncio.sleep(KICK_POLL_SECONDS)

    async def mute(self, ref: ConferenceRef, participant_id: str, muted: bool) -> None:
        room = self._room(ref)
        await self._client().message_plugin(
            AUDIOBRIDGE,
            {
                "request": "mute" if muted else "unmute",
                "room": room,
                "id": self._number(participant_id, "participant"),
                "secret": room_secret(self._admin_secret, room),
            },
            idempotent=True,
        )

    async def dial_in(self, ref: ConferenceRef) -> DialIn:
        room = self._room(ref)
        if not await self._exists(AUDIOBRIDGE, room):
            raise ConferenceNotFound(self.name, f"no AudioBridge room {room}")
        return DialIn(number=str(room), pin=ref.extra.get("pin"))

    async def mute_all(self, ref: ConferenceRef, muted: bool) -> None:
        room = self._room(ref)
        await self._client().message_plugin(
            AUDIOBRIDGE,
            {
                "request": "mute_room" if muted else "unmute_room",
                "room": room,
                "secret": room_secret(self._admin_secret, room),
            },
            idempotent=True,
        )

    async def lock(self, ref: ConferenceRef, locked: bool) -> None:
        room = self._room(ref)
        request = {
            "request": "allowed",
            "room": room,
            "secret": room_secret(self._admin_secret, room),
            "action": "enable" if locked else "disable",
            "allowed": [],
        }
        client = self._client()
        await client.message_plugin(AUDIOBRIDGE, request, idempotent=True)
        if self._has_video(ref):
            await client.message_plugin(
                VIDEOROOM, request, idempotent=True, tolerate={VIDEOROOM_NO_SUCH_ROOM}
            )

    async def webrtc_join_url(
        self, ref: ConferenceRef, target: DialTarget, expires_at: datetime
    ) -> str:
        if self._join_page is None:
            raise NotSupported(self.name, "options.join_page_url is not configured")
        room = self._room(ref)
        participant = participant_id_for(room, target.site_id)
        self._remember_site(room, participant, target.site_id)
        return join_url(
            self._join_page,
            bridge=self.name,
            signalling=self._signalling_url,
            room=room,
            participant_id=participant,
            display=unicodedata.normalize("NFC", target.display_name),
            video=self._has_video(ref),
            expires_at=expires_at,
            pin=ref.extra.get("pin"),
        )

    @property
    def browser_api_url(self) -> str:
        """The Janus HTTP API as browsers reach it (``options.signalling_url``)."""
        return self._signalling_url

    def browser_room(self, ref: ConferenceRef, target: DialTarget) -> JanusBrowserRoom:
        """What vcorch's join page needs to join the site's browser to this conference with
        Janus' own JavaScript library (``GET /api/join/{token}``, mode ``janus``).

        The participant id is the one reserved for the site, remembered here so that the
        plugin's events for it map back to the site (the live view's channel ``browser``).
        """
        room = self._room(ref)
        participant = participant_id_for(room, target.site_id)
        self._remember_site(room, participant, target.site_id)
        return JanusBrowserRoom(
            server=self._signalling_url,
            room=room,
            participant_id=participant,
            display=unicodedata.normalize("NFC", target.display_name),
            pin=ref.extra.get("pin"),
            videoroom=room if self._has_video(ref) else None,
        )

    def parse_events(self, request: InboundRequest) -> list[BridgeEvent]:
        return self._tracker.parse(request.body, request.header("Content-Encoding"))
