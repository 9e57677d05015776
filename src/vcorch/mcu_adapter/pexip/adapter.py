"""Pexip Infinity as a vcorch bridge: the contract mapped onto :class:`PexipClient`.

A conference is a Virtual Meeting Room (configuration API) whose ``name`` is derived from
``spec.key`` (so creating is idempotent: find by name first); ``conference_id`` is that name,
which the status API filters participants by (``?conference=``) and event sink messages carry
(``data.conference``); ``extra["vmr"]`` is the VMR's configuration id.  The VMR's aliases are
its name (what the dial command names as ``conference_alias``), ``name@sip_domain`` when a SIP
domain is configured, and a numeric alias (what a room system types to dial in).  A dial-out
is ``participant/dial``; joins and leaves come from the event sink (``parse_events``) and are
reconciled with the paged status listing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar

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
    CapacityExceeded,
    ConferenceNotFound,
    ConferenceRef,
    ConferenceSpec,
    DialFailed,
    DialIn,
    DialTarget,
    InboundRequest,
    ListingUnreliable,
    NotSupported,
    Participant,
    ParticipantRef,
)
from vcorch.mcu_adapter.pexip.client import (
    PAGE_LIMIT,
    PexipApiError,
    PexipClient,
    PexipListingChanged,
    PexipMalformed,
    PexipParticipant,
    PexipSettings,
    PexipVmr,
)
from vcorch.mcu_adapter.pexip.events import IN_CONFERENCE, SinkEvent, SinkMalformed, parse_sink_body
from vcorch.mcu_adapter.retry import RetryPolicy

if TYPE_CHECKING:
    from vcorch.config import BridgeConfig

T = TypeVar("T")

# vcorch's layout names -> Pexip layout names ("1:0" full-screen speaker, "1:7" speaker and
# seven small, "1:21", "2:21", "4:0" 2x2, "9:0" 3x3, "16:0" 4x4, "25:0" 5x5, "ac" Adaptive
# Composition), as the transform_layout command and the client API's available_layouts name
# them.
LAYOUTS: dict[str, str] = {
    # The contract's vendor-neutral names (base.LAYOUTS) onto transform_layout's values.
    "speaker": "1:0",  # the speaker alone
    "grid": "4:0",  # four the same size
    "presentation": "1:7",  # one large pane, seven small beneath it
    "automatic": "ac",  # Pexip's adaptive composition
}
_REMEMBERED = 20_000  # participant -> site notes kept (bounded)
_DIAL_PROTOCOL = {"sip": "sip", "h323": "h323"}


class PexipBridge(Bridge):
    """Options: ``system_location`` (where dial-outs are placed from; required unless
    ``routing = "routing_rule"``), ``routing`` (``manual``, the default, or
    ``routing_rule``), ``vmr_prefix`` (default ``vcorch-``), ``sip_domain`` (adds the alias
    ``<name>@<domain>``: a SIP address gateways and rooms can call), ``numeric_prefix``
    (first digit(s) of the numeric dial-in alias, default ``8``), ``guests`` (``false``: every
    site is a Host, the meeting PIN is the VMR's PIN; ``true``: sites are Guests, the PIN is
    the Guest PIN and mute-all is one ``mute_guests`` command), ``busy_retries`` (default 4);
    hook auth as in the base class (set the event sink's username/password to
    ``hook_username`` and the hook secret)."""

    type_name: ClassVar[str] = "pexip"
    # A safe pace for one Management Node: Pexip's event sink guide advises event sinks
    # over frequent status polling because polling loads the Management Node.  Its public
    # reference states no figure; 10 a second stays under the 1000 requests a minute that
    # third-party integrations report as the node's API limit (not confirmed by Pexip).
    default_request_budget: ClassVar[float | None] = 10.0
    capabilities: Capabilities = Capabilities(
        dial_sip=True,
        dial_h323=True,
        events_pushed=True,
        events_polled=True,
        mute=True,
        layouts=True,
        disconnect=True,
        dial_in_id=True,
        layout_names=tuple(LAYOUTS),
        mute_all=True,
        lock=True,
    )

    def __init__(self, config: BridgeConfig, context: BridgeContext) -> None:
        super().__init__(config, context)
        if not config.url:
            raise ConfigError(f"bridges.{config.name}.url: the Management Node address is required")
        if not config.username:
            raise ConfigError(f"bridges.{config.name}.username: the API user is required")
        password = config.read_secret("password")
        if password is None:
            raise ConfigError(
                f"bridges.{config.name}: set password_env or password_file for the API user"
            )
        if context.http is None:
            raise ConfigError(f"bridges.{config.name}: needs the shared HTTP session")
        options = config.options
        self._routing = str(options.get("routing", "manual"))
        if self._routing not in ("manual", "routing_rule"):
            raise ConfigError(f"bridges.{config.name}.options.routing: manual or routing_rule")
        self._location = str(options.get("system_location") or "") or None
        if self._routing == "manual" and self._location is None:
            raise ConfigError(
                f"bridges.{config.name}.options.system_location: the system location to dial "
                'out from (or routing = "routing_rule")'
            )
        self._prefix = str(options.get("vmr_prefix", "vcorch-"))
        self._numeric_prefix = str(options.get("numeric_prefix", "8"))
        if not self._numeric_prefix.isdigit() or len(self._numeric_prefix) > 4:
            raise ConfigError(f"bridges.{config.name}.options.numeric_prefix: 1 to 4 digits")
        self._sip_domain = str(options.get("sip_domain") or "") or None
        self._guests = bool(options.get("guests", False))
        busy_retries = int(options.get("busy_retries", 4))
        self._client = PexipClient(
            PexipSettings(
                base_url=config.url,
                username=config.username,
                password=password,
                bridge=config.name,
                policy=RetryPolicy.from_config(config),
                busy_retries=max(0, min(busy_retries, 20)),
            ),
            context.http,
            self.budget,
        )
        self._sites: OrderedDict[str, str] = OrderedDict()
        self._joined: OrderedDict[str, None] = OrderedDict()
        if self._sip_domain is not None:
            self.capabilities = dataclasses.replace(type(self).capabilities, sip_dial_in=True)

    # -- error translation ---------------------------------------------------------------

    async def _pexip(
        self, op: Callable[[], Awaitable[T]], *, dialing: DialTarget | None = None
    ) -> T:
        try:
            return await op()
        except PexipMalformed as err:
            raise BridgeProtocolError(self.name, f"unexpected answer: {err}") from err
        except PexipListingChanged as err:
            raise ListingUnreliable(self.name, str(err)) from err
        except PexipApiError as err:
            raise self._translate(err, dialing) from err

    def _translate(self, err: PexipApiError, dialing: DialTarget | None) -> BridgeError:
        reason = str(err)
        if err.status in (401, 403):
            return BridgeUnavailable(
                self.name, f"{err.what}: the Management Node refused the API credentials"
            )
        if err.busy:
            return BridgeBusy(self.name, reason, retry_after=err.retry_after)
        if err.status == 404:
            return ConferenceNotFound(self.name, reason)
        if err.status >= 500:
            return BridgeUnavailable(self.name, reason)
        detail = (err.detail or "").lower()
        if "licen" in detail or "capacity" in detail:
            return CapacityExceeded(self.name, reason)
        if dialing is not None:
            return DialFailed(self.name, reason, site_id=dialing.site_id)
        return BridgeProtocolError(self.name, f"unexpected refusal: {reason}")

    def _note(self, notes: OrderedDict[str, T], key: str, value: T) -> None:
        notes.pop(key, None)
        notes[key] = value
        while len(notes) > _REMEMBERED:
            notes.popitem(last=False)

    def _pin(self, pin: str | None) -> str:
        """A PIN as the reference allows one: 4-20 digits, a terminal ``#`` allowed."""
        if not pin:
            return ""
        if not pin.removesuffix("#").isdigit() or not 4 <= len(pin) <= 20:
            raise NotSupported(self.name, "a Pexip PIN is 4 to 20 digits")
        return pin

    # -- names -----------------------------------------------------------------------------

    def vmr_name(self, key: str) -> str:
        """The VMR name (and first alias) for a conference key: stable, short, dialable."""
        return f"{self._prefix}{hashlib.sha256(key.encode('utf-8')).hexdigest()[:20]}"

    def numeric_alias(self, key: str) -> str:
        """A numeric alias (9 digits) a room system's remote control can type."""
        digest = int(hashlib.sha256(f"numeric:{key}".encode()).hexdigest(), 16)
        width = 9 - len(self._numeric_prefix)
        return f"{self._numeric_prefix}{digest % 10**width:0{width}d}"

    # -- contract ---------------------------------------------------------------------------

    async def health(self) -> BridgeHealth:
        try:
            licensing = await self._pexip(self._client.licensing)
        except BridgeBusy as err:
            # It answered, busy: up and loaded, not down (only a failed health check counts
            # toward fail-over).
            return BridgeHealth(
                reachable=True,
                ports_total=self.config.ports,
                load=1.0,
                detail=f"busy: {err.reason}",
            )
        except BridgeError as err:
            return BridgeHealth(reachable=False, ports_total=self.config.ports, detail=err.reason)
        in_use = licensing.port_count
        total = licensing.port_total
        load = None
        if in_use is not None and total:
            load = min(1.0, in_use / total)
        return BridgeHealth(
            reachable=True,
            ports_total=self.config.ports,
            ports_in_use=min(in_use, self.config.ports) if in_use is not None else None,
            load=load,
            detail=f"licences {in_use}/{total}" if total is not None else "",
        )

    async def create_conference(self, spec: ConferenceSpec) -> ConferenceRef:
        name = self.vmr_name(spec.key)
        numeric = self.numeric_alias(spec.key)
        vmr = await self._pexip(lambda: self._client.find_vmr(name))
        if vmr is not None:
            vmr_id = vmr.vmr_id
        else:
            aliases = [name, numeric]
            if self._sip_domain is not None:
                aliases.append(f"{name}@{self._sip_domain}")
            pin = self._pin(spec.pin)
            if self._guests:
                # Hosts need a PIN of their own once guests are allowed (reference: allow_guests);
                # nobody is told it: vcorch dials every site as a Guest.
                host_pin, guest_pin = f"{secrets.randbelow(10**8):08d}", pin
            else:
                host_pin, guest_pin = pin, ""
            try:
                vmr_id = await self._pexip(
                    lambda: self._client.create_vmr(
                        name=name,
                        aliases=tuple(aliases),
                        description=spec.title[:250],
                        tag=spec.key[:250],
                        pin=host_pin,
                        guest_pin=guest_pin,
                        allow_guests=self._guests,
                    )
                )
            except BridgeProtocolError:
                # Another vcorch process may have created it first (the name is unique).
                found = await self._pexip(lambda: self._client.find_vmr(name))
                if found is None:
                    raise
                vmr_id = found.vmr_id
        return ConferenceRef(
            bridge=self.name,
            conference_id=name,
            extra={"vmr": vmr_id, "alias": name, "numeric": numeric},
        )

    async def dial_in(self, ref: ConferenceRef) -> DialIn:
        vmr = await self._vmr_of(ref)
        numeric = next((alias for alias in vmr.aliases if alias.isdigit()), None)
        if numeric is None:
            raise NotSupported(self.name, f"VMR {ref.conference_id} has no numeric alias")
        pin = (vmr.guest_pin if vmr.allow_guests else vmr.pin) or None
        uri = f"sip:{ref.conference_id}@{self._sip_domain}" if self._sip_domain else None
        return DialIn(number=numeric, pin=pin, uri=uri)

    async def dial_in_uri(self, ref: ConferenceRef) -> str:
        if self._sip_domain is None:
            return await super().dial_in_uri(ref)
        return f"sip:{ref.conference_id}@{self._sip_domain}"

    async def _vmr_of(self, ref: ConferenceRef) -> PexipVmr:
        vmr_id = ref.extra.get("vmr")
        vmr = (
            await self._pexip(lambda: self._client.get_vmr(vmr_id))
            if vmr_id
            else await self._pexip(lambda: self._client.find_vmr(ref.conference_id))
        )
        if vmr is None:
            raise ConferenceNotFound(self.name, f"no VMR {ref.conference_id}")
        return vmr

    async def end_conference(self, ref: ConferenceRef) -> None:
        # Drop everyone (the running conference instance), then remove the VMR itself.
        # Either may be gone already (ended by hand, or an earlier attempt got this far).
        status = await self._pexip(lambda: self._client.conference_status(ref.conference_id))
        if status is not None:
            with contextlib.suppress(ConferenceNotFound):
                await self._pexip(
                    lambda: self._client.conference_command("disconnect", status.conference_id)
                )
        vmr_id = ref.extra.get("vmr")
        if not vmr_id:
            found = await self._pexip(lambda: self._client.find_vmr(ref.conference_id))
            vmr_id = found.vmr_id if found is not None else None
        if vmr_id:
            with contextlib.suppress(ConferenceNotFound):
                await self._pexip(lambda: self._client.delete_vmr(vmr_id))

    async def dial_out(self, ref: ConferenceRef, target: DialTarget) -> ParticipantRef:
        protocol = _DIAL_PROTOCOL.get(target.kind)
        if protocol is None:
            raise NotSupported(self.name, f"Pexip does not dial {target.kind} endpoints")
        destination = target.address.removeprefix(f"{target.kind}:").strip()
        if not destination:
            raise DialFailed(self.name, "empty address", site_id=target.site_id)
        alias = ref.extra.get("alias") or ref.conference_id
        participant_id = await self._pexip(
            lambda: self._client.dial(
                conference_alias=alias,
                destination=destination,
                protocol=protocol,
                role="guest" if self._guests else "chair",
                remote_display_name=target.display_name[:250],
                routing=self._routing,
                system_location=self._location,
            ),
            dialing=target,
        )
        self._note(self._sites, participant_id, target.site_id)
        return ParticipantRef(conference_id=ref.conference_id, participant_id=participant_id)

    def listing_cost(self, expected_participants: int) -> int:
        # One request a page, plus the first page read again when there is more than one
        # (how the client tells a listing that moved while it was paged).
        pages = max(1, math.ceil(expected_participants / PAGE_LIMIT))
        return pages + 1 if pages > 1 else 1

    async def participants(self, ref: ConferenceRef) -> list[Participant]:
        found = await self._pexip(lambda: self._client.participants(ref.conference_id))
        return [self._participant(item) for item in found]

    async def participant(self, ref: ConferenceRef, participant_id: str) -> Participant | None:
        found = await self._pexip(lambda: self._client.participant(participant_id))
        if found is None or found.conference != ref.conference_id:
            return None
        return self._participant(found)

    def _participant(self, item: PexipParticipant) -> Participant:
        connected = item.service_type in IN_CONFERENCE and item.has_media
        address = item.destination_alias if item.call_direction == "out" else item.source_alias
        return Participant(
            participant_id=item.participant_id,
            display_name=item.display_name or address or item.participant_id,
            address=address,
            site_id=self._sites.get(item.participant_id),
            connected=connected,
            muted=item.is_muted,
            joined_at=item.connect_time if connected else None,
        )

    async def disconnect(self, ref: ConferenceRef, participant_id: str) -> None:
        await self._pexip(lambda: self._client.participant_command("disconnect", participant_id))

    async def mute(self, ref: ConferenceRef, participant_id: str, muted: bool) -> None:
        command = "mute" if muted else "unmute"
        await self._pexip(lambda: self._client.participant_command(command, participant_id))

    # -- in-call controls ------------------------------------------------------------------

    async def _running(self, ref: ConferenceRef) -> str:
        """The running conference's status id (what conference commands take)."""
        status = await self._pexip(lambda: self._client.conference_status(ref.conference_id))
        if status is None:
            raise ConferenceNotFound(self.name, f"{ref.conference_id} is not running")
        return status.conference_id

    async def set_layout(self, ref: ConferenceRef, layout: str) -> None:
        pexip_layout = LAYOUTS.get(layout)
        if pexip_layout is None:
            raise NotSupported(self.name, f"no layout {layout!r} (known: {', '.join(LAYOUTS)})")
        conference_id = await self._running(ref)
        await self._pexip(
            lambda: self._client.conference_command(
                "transform_layout", conference_id, {"layout": pexip_layout}
            )
        )

    async def mute_all(self, ref: ConferenceRef, muted: bool) -> None:
        if self._guests:
            conference_id = await self._running(ref)
            command = "mute_guests" if muted else "unmute_guests"
            await self._pexip(lambda: self._client.conference_command(command, conference_id))
            return
        # Every site is a Host here, and mute_guests leaves Hosts alone: one command each.
        for participant in await self.participants(ref):
            with contextlib.suppress(ConferenceNotFound):  # left meanwhile
                await self.mute(ref, participant.participant_id, muted)

    async def lock(self, ref: ConferenceRef, locked: bool) -> None:
        conference_id = await self._running(ref)
        command = "lock" if locked else "unlock"
        await self._pexip(lambda: self._client.conference_command(command, conference_id))

    # -- events ----------------------------------------------------------------------------

    def parse_events(self, request: InboundRequest) -> list[BridgeEvent]:
        try:
            messages = parse_sink_body(request.body)
        except SinkMalformed as err:
            raise BridgeProtocolError(
                self.name, f"event sink message not understood: {err}"
            ) from err
        events: list[BridgeEvent] = []
        for message in messages:
            event = self._event_of(message)
            if event is not None:
                events.append(event)
        return events

    def _event_of(self, message: SinkEvent) -> BridgeEvent | None:
        kind: Literal["join", "leave"]
        if message.kind == "disconnected":
            kind = "leave"
            self._joined.pop(message.participant_id, None)
        elif message.in_conference and message.participant_id not in self._joined:
            kind = "join"
            self._note(self._joined, message.participant_id, None)
        else:
            return None
        return BridgeEvent(
            kind=kind,
            conference_id=message.conference,
            participant_id=message.participant_id,
            at=message.time,
            # seq restarts with the sink; with the node and the message's own time the id is
            # still stable for the same report and distinct across reports.
            event_id=f"{self.name}:{message.node}:{message.seq}:{message.time.timestamp():.6f}",
            site_id=self._sites.get(message.participant_id),
            display_name=message.display_name,
            address=message.address,
            reason=message.reason,
        )
