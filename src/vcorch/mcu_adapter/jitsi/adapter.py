"""Jitsi Meet as a vcorch bridge: sites join with signed browser links.

Jitsi has no dial-out of its own (that needs Jigasi) and no HTTP call to mute, kick or end
for the token it trusts, so this bridge takes browsers only: ``webrtc_join_url`` signs a
room token per site; ``participants`` asks prosody's ``mod_muc_size``; joins and leaves
come from the ``event_sync`` component's POSTs; health from the videobridge's
``/about/health``, with its ``/colibri/stats`` (off by default) for load when it answers.

A site's participant id is ``site-<site id>``: its link's token carries the site id in
``context.user.id`` and a tag address ``<site id>@<site_email_domain>`` in
``context.user.email``, which the Jitsi client puts in its presence (``/room`` lists it)
and ``event_sync`` copies into its payload.  Other occupants keep their JID as id.

Options: ``domain`` (XMPP domain, required), ``app_id`` (token ``aud``/``iss``, required),
``prosody_url`` (mod_muc_size HTTP, required), ``jvb_url`` (videobridge REST, required),
``token_sub`` (default: ``domain``), ``room_prefix`` (``vcorch``),
``site_email_domain`` (``sites.vcorch.invalid``), ``room_size_token`` (true: sign the
queries, for ``enable_roomsize_token_verification``).  The app secret is ``secret_env`` /
``secret_file``; ``url`` is the public address of the Jitsi Meet web app.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote, unquote

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
    ConferenceRef,
    ConferenceSpec,
    DialTarget,
    InboundRequest,
    NotSupported,
    Participant,
    ParticipantRef,
)
from vcorch.mcu_adapter.jitsi.client import (
    JitsiApiError,
    JitsiClient,
    JitsiMalformed,
    JitsiSettings,
    Occupant,
)
from vcorch.mcu_adapter.jitsi.events import EventMalformed, parse_event_sync
from vcorch.mcu_adapter.jitsi.tokens import RoomUser, room_token, secret_is_short
from vcorch.mcu_adapter.retry import RetryPolicy

if TYPE_CHECKING:
    from vcorch.config import BridgeConfig

T = TypeVar("T")

log = logging.getLogger(__name__)

QUERY_TOKEN_LIFETIME = timedelta(minutes=5)


def _required_option(config: BridgeConfig, key: str) -> str:
    value = config.options.get(key)
    if not value or not isinstance(value, str):
        raise ConfigError(f"bridges.{config.name}.options.{key}: required (a string)")
    return value


class JitsiBridge(Bridge):
    type_name: ClassVar[str] = "jitsi"
    # Jitsi publishes no rate for prosody's mod_muc_size or the videobridge's REST API;
    # both are served by the deployment's own processes.  vcorch reads rooms (no dial-out
    # here), so 20 requests a second is plenty and light on them.
    default_request_budget: ClassVar[float | None] = 20.0
    capabilities: Capabilities = Capabilities(
        webrtc_join=True, events_pushed=True, events_polled=True
    )

    def __init__(self, config: BridgeConfig, context: BridgeContext) -> None:
        super().__init__(config, context)
        if not config.url:
            raise ConfigError(f"bridges.{config.name}.url: the Jitsi Meet address is required")
        secret = config.read_secret("secret")
        if not secret:
            raise ConfigError(f"bridges.{config.name}: set secret_env or secret_file (app secret)")
        if context.http is None:
            raise ConfigError(f"bridges.{config.name}: needs the shared HTTP session")
        self._secret = secret
        if secret_is_short(secret):
            log.warning(
                "bridge %s: the Jitsi app secret is shorter than 32 bytes; tokens signed with "
                "it are easier to forge (RFC 7518 section 3.2)",
                config.name,
            )
        self._domain = _required_option(config, "domain")
        self._app_id = _required_option(config, "app_id")
        self._subject = str(config.options.get("token_sub") or self._domain)
        self._room_prefix = str(config.options.get("room_prefix", "vcorch"))
        self._email_domain = str(config.options.get("site_email_domain", "sites.vcorch.invalid"))
        self._sign_queries = bool(config.options.get("room_size_token", True))
        self._client = JitsiClient(
            JitsiSettings(
                prosody_url=_required_option(config, "prosody_url"),
                jvb_url=_required_option(config, "jvb_url"),
                domain=self._domain,
                bridge=config.name,
                policy=RetryPolicy.from_config(config),
            ),
            context.http,
            budget=self.budget,
        )
        # Display names of the links handed out, per room, for occupants without a tag.
        self._named_sites: dict[str, dict[str, str]] = {}

    # -- error translation ---------------------------------------------------------------

    async def _jitsi(self, op: Callable[[], Awaitable[T]]) -> T:
        try:
            return await op()
        except JitsiMalformed as err:
            raise BridgeProtocolError(self.name, f"unexpected answer: {err}") from err
        except JitsiApiError as err:
            if err.status >= 500:
                raise BridgeUnavailable(self.name, str(err)) from err
            if err.status in (401, 403):
                raise BridgeUnavailable(
                    self.name, f"{err.what}: refused (check the app id and secret)"
                ) from err
            raise BridgeProtocolError(self.name, f"unexpected refusal: {err}") from err

    def _query_token(self, room: str) -> str | None:
        if not self._sign_queries:
            return None
        return room_token(
            secret=self._secret,
            app_id=self._app_id,
            subject=self._subject,
            room=room,
            user=RoomUser(user_id="vcorch", name="vcorch"),
            expires_at=self.context.clock() + QUERY_TOKEN_LIFETIME,
        )

    def room_name(self, key: str) -> str:
        """A room name for a conference key: stable, lower case, URL- and JID-safe."""
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
        return f"{self._room_prefix}-{digest}"

    def _site_of(self, room: str, email: str | None, display_name: str | None) -> str | None:
        suffix = "@" + self._email_domain
        if email and email.endswith(suffix):
            return unquote(email[: -len(suffix)])
        if display_name:
            return self._named_sites.get(room, {}).get(display_name)
        return None

    # -- contract ---------------------------------------------------------------------------

    async def health(self) -> BridgeHealth:
        probe_room = f"{self._room_prefix}-health"
        results: list[Any] = list(
            await asyncio.gather(
                self._jitsi(self._client.jvb_health),
                self._jitsi(self._client.jvb_version),
                self._jitsi(
                    lambda: self._client.room_size(probe_room, self._query_token(probe_room))
                ),
                self._jitsi(self._client.jvb_stats),
                return_exceptions=True,
            )
        )
        stats = results.pop()
        if isinstance(stats, BaseException) and not isinstance(stats, BridgeError):
            raise stats
        for result in results:
            if isinstance(result, BridgeBusy):
                # Busy is not down: it answered and asks us to come back later.
                return BridgeHealth(
                    reachable=True, ports_total=self.config.ports, detail=f"busy: {result.reason}"
                )
            if isinstance(result, BridgeError):
                return BridgeHealth(
                    reachable=False, ports_total=self.config.ports, detail=result.reason
                )
            if isinstance(result, BaseException):
                raise result
        (healthy, why), version, _ = results
        if not healthy:
            return BridgeHealth(
                reachable=False,
                version=version,
                ports_total=self.config.ports,
                detail=f"videobridge unhealthy: {why}",
            )
        if isinstance(stats, BridgeError):
            # Health is /about/health's answer; statistics only say how loaded it is.
            return BridgeHealth(
                reachable=True,
                version=version,
                ports_total=self.config.ports,
                detail=f"no statistics: {stats.reason}",
            )
        if stats is None:
            return BridgeHealth(reachable=True, version=version, ports_total=self.config.ports)
        in_use = stats.participants
        load = stats.stress_level
        if load is None and in_use is not None:
            load = min(1.0, in_use / self.config.ports)
        return BridgeHealth(
            reachable=True,
            version=version,
            ports_total=self.config.ports,
            ports_in_use=in_use,
            load=load,
            detail=f"{stats.conferences} conferences" if stats.conferences is not None else "",
        )

    async def create_conference(self, spec: ConferenceSpec) -> ConferenceRef:
        # Jitsi creates a room when the first person joins; asking for it here checks that
        # prosody answers, so a dead deployment fails over before links go out.
        room = self.room_name(spec.key)
        await self._jitsi(lambda: self._client.room_size(room, self._query_token(room)))
        return ConferenceRef(bridge=self.name, conference_id=room, extra={"room": room})

    async def end_conference(self, ref: ConferenceRef) -> None:
        room = ref.conference_id
        occupants = await self._jitsi(
            lambda: self._client.room_occupants(room, self._query_token(room))
        )
        self._named_sites.pop(room, None)
        if occupants:
            raise NotSupported(
                self.name,
                f"Jitsi cannot end a room over HTTP; {len(occupants)} still in it "
                "(their links stop working when they expire)",
            )

    async def dial_out(self, ref: ConferenceRef, target: DialTarget) -> ParticipantRef:
        raise NotSupported(self.name, "Jitsi takes browsers only: send the site a join link")

    async def participants(self, ref: ConferenceRef) -> list[Participant]:
        room = ref.conference_id
        occupants = await self._jitsi(
            lambda: self._client.room_occupants(room, self._query_token(room))
        )
        return [self._participant(room, occupant) for occupant in occupants or []]

    def _participant(self, room: str, occupant: Occupant) -> Participant:
        site_id = self._site_of(room, occupant.email, occupant.display_name)
        return Participant(
            participant_id=f"site-{site_id}" if site_id else occupant.jid,
            display_name=occupant.display_name or occupant.jid,
            address=None,
            site_id=site_id,
            connected=True,  # in the room means joined; mod_muc_size says nothing of media
            muted=False,  # not published over HTTP
            joined_at=None,
        )

    async def disconnect(self, ref: ConferenceRef, participant_id: str) -> None:
        raise NotSupported(self.name, "Jitsi has no HTTP call to remove a participant")

    async def mute(self, ref: ConferenceRef, participant_id: str, muted: bool) -> None:
        raise NotSupported(self.name, "Jitsi has no HTTP call to mute a participant")

    async def webrtc_join_url(
        self, ref: ConferenceRef, target: DialTarget, expires_at: datetime
    ) -> str:
        room = ref.conference_id
        token = room_token(
            secret=self._secret,
            app_id=self._app_id,
            subject=self._subject,
            room=room,
            user=RoomUser(
                user_id=target.site_id,
                name=target.display_name,
                email=f"{quote(target.site_id, safe='')}@{self._email_domain}",
            ),
            expires_at=expires_at,
        )
        self._named_sites.setdefault(room, {})[target.display_name] = target.site_id
        base = (self.config.url or "").rstrip("/")
        return f"{base}/{quote(room)}?jwt={token}"

    def parse_events(self, request: InboundRequest) -> list[BridgeEvent]:
        try:
            event = parse_event_sync(request.body)
        except EventMalformed as err:
            raise BridgeProtocolError(self.name, f"event not understood: {err}") from err
        if event is None or event.breakout:
            # vcorch meetings use no breakout rooms; a site in one is still in the meeting.
            return []
        site_id = self._site_of(event.room_name, event.email, event.name)
        participant_id = f"site-{site_id}" if site_id else (event.user_id or event.occupant_jid)
        return [
            BridgeEvent(
                kind=event.kind,
                conference_id=event.room_name,
                participant_id=participant_id,
                at=event.at,
                event_id=(
                    f"{self.name}:{event.room_jid}:{event.occupant_jid}:"
                    f"{event.joined_at}:{event.kind}"
                ),
                site_id=site_id,
                display_name=event.name,
                address=None,
            )
        ]
