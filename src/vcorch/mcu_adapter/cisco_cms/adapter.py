"""Cisco Meeting Server as a vcorch bridge: the contract mapped onto :class:`CmsClient`.

A conference is a coSpace (found again by a URI derived from ``spec.key``, so creating is
idempotent) plus the active call instantiated from it; ``conference_id`` is the call id,
``extra["coSpace"]`` the coSpace id.  A dial-out is a call leg; joins and leaves come from
the CDR receiver (``parse_events``) and can be polled with ``participants``.

Polling is by list calls: the call's leg list pages (``listing_cost``).  The list does not
give a leg's state, so a leg is looked at directly (``GET /callLegs/<id>``) only while this
process does not know it connected (from a ``callLegUpdate`` CDR or an earlier look):
in steady state a poll costs its pages only.

Site tag: a dialled leg carries its vcorch site in ``ownerId`` (:func:`owner_id_of_site`),
which the Meeting Server returns in the leg's detail and writes into the leg's
``callLegStart``/``callLegUpdate`` CDRs, so records map to sites after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar
from urllib.parse import quote, urlencode, urlsplit

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
from vcorch.mcu_adapter.cisco_cms.cdr import CdrMalformed, CdrRecord, parse_cdr
from vcorch.mcu_adapter.cisco_cms.client import (
    CmsApiError,
    CmsCallLeg,
    CmsCallLegSummary,
    CmsClient,
    CmsListingShifted,
    CmsMalformed,
    CmsSettings,
)
from vcorch.mcu_adapter.retry import RetryPolicy

if TYPE_CHECKING:
    from vcorch.config import BridgeConfig

T = TypeVar("T")

# failureDetails reason codes (API reference, "Failure Reasons") sorted by what they mean to us.
_GONE = frozenset(
    {"callDoesNotExist", "callLegDoesNotExist", "coSpaceDoesNotExist", "participantDoesNotExist"}
)
_FULL = frozenset(
    {
        "participantLimitReached",
        "tenantParticipantLimitReached",
        "callBridgeUnavailable",
        "callBridgeGroupUnavailable",
        "loadBalancingDisabled",
    }
)
# Vendor-neutral layouts onto the API's ``layout``/``defaultLayout`` values (API reference,
# coSpace "defaultLayout" and "Default layout options"): ``speakerOnly`` the active speaker
# full screen, ``allEqual`` everyone the same size, ``onePlusN`` one large pane (the speaker
# or the presentation) with the others small beneath it, ``automatic`` the server's choice.
CMS_LAYOUTS: dict[str, str] = {
    "speaker": "speakerOnly",
    "grid": "allEqual",
    "presentation": "onePlusN",
    "automatic": "automatic",
}
# messagePosition: top | middle | bottom ("Modifying a call"); the bottom band hides least.
_MESSAGE_POSITION = "bottom"
_REMEMBERED_LEGS = 20_000  # leg → call/site notes kept for CDRs that do not name the call
_DETAIL_CONCURRENCY = 8  # GET /callLegs/<id> requests in flight for one participants() call
_REREAD_WAIT = 1.0  # a shifted listing is read again if the budget has room within this (s)

# ownerId is an "ID" in the API reference (a GUID like every object id there), so the site
# tag is packed into one: the bytes "vc", the tag's length, the tag (UTF-8), zeros.
_OWNER_MARK = b"vc"
_OWNER_MAX_TAG = 16 - len(_OWNER_MARK) - 1


def owner_id_of_site(site_id: str) -> str | None:
    """The ``ownerId`` a leg dialled for ``site_id`` carries (``None``: tag too long)."""
    raw = site_id.encode("utf-8")
    if not raw or len(raw) > _OWNER_MAX_TAG:
        return None
    packed = _OWNER_MARK + bytes([len(raw)]) + raw
    return str(uuid.UUID(bytes=packed.ljust(16, b"\0")))


def site_of_owner_id(owner_id: str | None) -> str | None:
    """The vcorch site an ``ownerId`` names, if vcorch set it (else ``None``)."""
    if not owner_id:
        return None
    try:
        raw = uuid.UUID(owner_id.strip()).bytes
    except ValueError:
        return None
    if not raw.startswith(_OWNER_MARK):
        return None
    length = raw[len(_OWNER_MARK)]
    start = len(_OWNER_MARK) + 1
    if not 0 < length <= _OWNER_MAX_TAG or raw[start + length :].strip(b"\0"):
        return None
    try:
        return raw[start : start + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclasses.dataclass
class _Leg:
    """What this process knows of one call leg (learned from dial-outs, CDRs, looks)."""

    call_id: str | None = None
    site_id: str | None = None
    state: str | None = None  # the last state seen; "connected" spares a direct look
    connected_at: datetime | None = None
    muted: bool = False
    incoming: bool | None = None  # the leg called in (callLeg "direction"); None: not known


class CiscoCmsBridge(Bridge):
    """Options: ``cospace_uri_prefix`` (default ``vcorch-``); ``webapp_url`` (the CMS web
    app's address as browsers reach it: with it, a fallen-back site's browser joins the
    meeting's own coSpace there); ``sip_domain`` (coSpaces' SIP domain, for a gateway to
    dial); ``dial_in_pin`` (default true: every coSpace gets a six-digit passcode, derived
    from the API password and the conference key, which room systems dialling in by call ID
    type; false leaves coSpaces without one); hook auth as in the base class."""

    type_name: ClassVar[str] = "cisco_cms"
    # Cisco publishes no request rate for the Meeting Server API: the API reference only
    # says it answers 503 when busy ("re-attempt the same method later").  The API is
    # served by the Web Admin process the operators also use, so the default is modest:
    # 20 requests a second (a 700-leg listing at the server's 10-a-page cap is 78 pages,
    # about 4 s of budget).  Raise it with options.request_budget_per_second.
    default_request_budget: ClassVar[float | None] = 20.0
    capabilities: Capabilities = Capabilities(
        dial_sip=True,
        events_pushed=True,
        events_polled=True,
        mute=True,
        layouts=True,
        disconnect=True,
        dial_in_id=True,
        layout_names=tuple(CMS_LAYOUTS),
        mute_all=True,
        lock=True,
        message=True,
    )

    def __init__(self, config: BridgeConfig, context: BridgeContext) -> None:
        super().__init__(config, context)
        if not config.url:
            raise ConfigError(f"bridges.{config.name}.url: the API address is required")
        if not config.username:
            raise ConfigError(f"bridges.{config.name}.username: the API user is required")
        password = config.read_secret("password")
        if password is None:
            raise ConfigError(
                f"bridges.{config.name}: set password_env or password_file for the API user"
            )
        if context.http is None:
            raise ConfigError(f"bridges.{config.name}: needs the shared HTTP session")
        self._policy = RetryPolicy.from_config(config)
        self._client = CmsClient(
            CmsSettings(
                base_url=config.url,
                username=config.username,
                password=password,
                bridge=config.name,
                policy=self._policy,
            ),
            context.http,
            budget=self.budget,
            page_size=int(config.options.get("api_page_size", 10)),
        )
        self._uri_prefix = str(config.options.get("cospace_uri_prefix", "vcorch-"))
        self._legs: OrderedDict[str, _Leg] = OrderedDict()
        dial_in_pin = config.options.get("dial_in_pin", True)
        if not isinstance(dial_in_pin, bool):
            raise ConfigError(f"bridges.{config.name}.options.dial_in_pin: true or false")
        # The PIN is derived, not drawn, so that creating again under the same key (another
        # process, a retry) offers the same passcode; the API password keeps it unguessable.
        self._pin_key: bytes | None = password.encode("utf-8") if dial_in_pin else None
        # (call id, display name) -> site id of the web-app guest links given out: a web
        # app guest's leg carries only the name the link set, so that name maps it back.
        self._web_guests: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._webapp_url = _webapp_url(config)
        if self._webapp_url is not None:
            # Browsers join through the CMS web app only where an operator said where it is.
            self.capabilities = dataclasses.replace(type(self).capabilities, webrtc_join=True)
        # Option ``sip_domain``: the domain SIP systems dial coSpaces at (the Call Bridge's
        # dial plan); with it, a WebRTC-to-SIP gateway can call a meeting's coSpace.
        self._sip_domain = str(config.options.get("sip_domain") or "") or None
        if self._sip_domain is not None:
            self.capabilities = dataclasses.replace(self.capabilities, sip_dial_in=True)

    # -- error translation ---------------------------------------------------------------

    async def _cms(self, op: Callable[[], Awaitable[T]], *, dialing: DialTarget | None = None) -> T:
        try:
            return await op()
        except CmsMalformed as err:
            raise BridgeProtocolError(self.name, f"unexpected answer: {err}") from err
        except CmsApiError as err:
            raise self._translate(err, dialing) from err

    def _translate(self, err: CmsApiError, dialing: DialTarget | None) -> BridgeError:
        reason = str(err)
        if err.status in (401, 403):
            return BridgeUnavailable(self.name, f"{err.what}: the API refused the credentials")
        if err.failure in _GONE or err.status == 404:
            return ConferenceNotFound(self.name, reason)
        if err.failure in _FULL:
            return CapacityExceeded(self.name, reason)
        if err.status >= 500:
            return BridgeUnavailable(self.name, reason)
        if dialing is not None:
            return DialFailed(self.name, reason, site_id=dialing.site_id)
        return BridgeProtocolError(self.name, f"unexpected refusal: {reason}")

    def _note_leg(self, leg_id: str, call_id: str | None, site_id: str | None) -> _Leg:
        note = self._legs.pop(leg_id, None) or _Leg()
        note.call_id = call_id or note.call_id
        note.site_id = site_id or note.site_id
        self._legs[leg_id] = note
        while len(self._legs) > _REMEMBERED_LEGS:
            self._legs.popitem(last=False)
        return note

    # -- contract ---------------------------------------------------------------------------

    async def health(self) -> BridgeHealth:
        try:
            status = await self._cms(self._client.system_status)
        except BridgeBusy as err:
            # Busy is not down: it answered, it asks us to come back later.
            return BridgeHealth(
                reachable=True, ports_total=self.config.ports, detail=f"busy: {err.reason}"
            )
        except BridgeError as err:
            return BridgeHealth(reachable=False, ports_total=self.config.ports, detail=err.reason)
        in_use = status.call_legs_active
        return BridgeHealth(
            reachable=True,
            version=status.software_version,
            ports_total=self.config.ports,
            ports_in_use=in_use,
            load=min(1.0, in_use / self.config.ports) if in_use is not None else None,
            detail=f"cdrTime {status.cdr_time}" if status.cdr_time else "",
        )

    def cospace_uri(self, key: str) -> str:
        """The coSpace URI user part for a conference key: stable, short, dialable."""
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
        return f"{self._uri_prefix}{digest}"

    async def create_conference(self, spec: ConferenceSpec) -> ConferenceRef:
        uri = self.cospace_uri(spec.key)
        cospace = await self._cms(lambda: self._client.find_cospace_by_uri(uri))
        if cospace is not None:
            cospace_id = cospace.cospace_id
        else:
            try:
                cospace_id = await self._cms(
                    lambda: self._client.create_cospace(
                        name=spec.title,
                        uri=uri,
                        cdr_tag=spec.key[:100],
                        passcode=spec.pin or self._derived_pin(spec.key),
                    )
                )
            except BridgeProtocolError:
                # Another vcorch process may have created it first (duplicateCoSpaceUri).
                found = await self._cms(lambda: self._client.find_cospace_by_uri(uri))
                if found is None:
                    raise
                cospace_id = found.cospace_id
        calls = await self._cms(lambda: self._client.calls_of_cospace(cospace_id))
        if calls:
            call_id = calls[0].call_id
        else:
            call_id = await self._cms(lambda: self._client.create_call(cospace_id))
        return ConferenceRef(
            bridge=self.name, conference_id=call_id, extra={"coSpace": cospace_id, "uri": uri}
        )

    def _derived_pin(self, key: str) -> str | None:
        if self._pin_key is None:
            return None
        digest = hmac.new(self._pin_key, f"pin:{key}".encode(), hashlib.sha256).digest()
        return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"

    async def dial_in(self, ref: ConferenceRef) -> DialIn:
        """The coSpace's ``callId`` ("the numeric ID that a user would enter at the IVR") and
        ``passcode`` (API reference, GET ``/coSpaces/<id>``); a coSpace without a callId is
        given one (``requireCallId=true``)."""
        cospace_id = ref.extra.get("coSpace")
        if not cospace_id:
            raise ConferenceNotFound(self.name, "the conference names no coSpace")
        access = await self._cms(lambda: self._client.cospace_access(cospace_id))
        if access.call_id is None:
            await self._cms(lambda: self._client.require_call_id(cospace_id))
            access = await self._cms(lambda: self._client.cospace_access(cospace_id))
        if access.call_id is None or not access.call_id.isdigit():
            raise BridgeProtocolError(self.name, f"coSpace {cospace_id} has no numeric callId")
        uri = ref.extra.get("uri")
        return DialIn(
            number=access.call_id,
            pin=access.passcode,
            uri=f"sip:{uri}@{self._sip_domain}" if uri and self._sip_domain else None,
        )

    async def set_layout(self, ref: ConferenceRef, layout: str) -> None:
        """Every participant now (``layout`` on ``/calls/<id>/participants/*``) and every
        later one (the coSpace's ``defaultLayout``)."""
        value = CMS_LAYOUTS.get(layout)
        if value is None:
            raise NotSupported(self.name, f"no layout {layout!r} here")
        await self._cms(
            lambda: self._client.update_all_participants(ref.conference_id, {"layout": value})
        )
        cospace_id = ref.extra.get("coSpace")
        if cospace_id:
            await self._cms(
                lambda: self._client.update_cospace(cospace_id, {"defaultLayout": value})
            )

    async def mute_all(self, ref: ConferenceRef, muted: bool) -> None:
        """``rxAudioMute`` on every participant (the others stop hearing them), and
        ``joinAudioMuteOverride`` so that those who join later come in muted too."""
        value = "true" if muted else "false"
        await self._cms(
            lambda: self._client.update_all_participants(ref.conference_id, {"rxAudioMute": value})
        )
        await self._cms(
            lambda: self._client.update_call(ref.conference_id, {"joinAudioMuteOverride": value})
        )

    async def lock(self, ref: ConferenceRef, locked: bool) -> None:
        """The call's ``locked``: newcomers that need activation (guests) wait in the lobby
        until it is unlocked; those already in stay (API reference, "Modifying a call")."""
        value = "true" if locked else "false"
        await self._cms(lambda: self._client.update_call(ref.conference_id, {"locked": value}))

    async def show_message(self, ref: ConferenceRef, text: str, seconds: int) -> None:
        """``messageText`` for ``messageDuration`` seconds on every participant's screen."""
        form = {
            "messageText": unicodedata.normalize("NFC", text),
            "messagePosition": _MESSAGE_POSITION,
            "messageDuration": str(seconds),
        }
        await self._cms(lambda: self._client.update_call(ref.conference_id, form))

    async def dial_in_uri(self, ref: ConferenceRef) -> str:
        # API Reference Guide (Release 2.0+), coSpace: ``uri`` is the "URI user part ... that a
        # SIP system would use to dial in to this coSpace"; the domain is the dial plan's.
        uri = ref.extra.get("uri")
        if self._sip_domain is None or not uri:
            return await super().dial_in_uri(ref)
        return f"sip:{uri}@{self._sip_domain}"

    async def end_conference(self, ref: ConferenceRef) -> None:
        # Either may be gone already (ended by hand, or an earlier attempt got this far).
        with contextlib.suppress(ConferenceNotFound):
            await self._cms(lambda: self._client.delete_call(ref.conference_id))
        cospace_id = ref.extra.get("coSpace")
        if cospace_id:
            with contextlib.suppress(ConferenceNotFound):
                await self._cms(lambda: self._client.delete_cospace(cospace_id))

    async def dial_out(self, ref: ConferenceRef, target: DialTarget) -> ParticipantRef:
        if target.kind != "sip":
            raise NotSupported(self.name, f"dialling {target.kind} endpoints is not configured")
        remote = target.address.removeprefix("sip:").strip()
        if not remote:
            raise DialFailed(self.name, "empty address", site_id=target.site_id)
        owner_id = owner_id_of_site(target.site_id)
        leg_id = await self._cms(
            lambda: self._client.create_call_leg(
                ref.conference_id,
                remote_party=remote,
                name=target.display_name,
                owner_id=owner_id,
            ),
            dialing=target,
        )
        self._note_leg(leg_id, ref.conference_id, target.site_id)
        return ParticipantRef(conference_id=ref.conference_id, participant_id=leg_id)

    def listing_cost(self, expected_participants: int) -> int:
        """Pages of ``/calls/<id>/callLegs`` for that many legs, at the server's page cap as
        seen (``options.api_page_size`` until a listing shows it); pages overlap by one.
        Legs this process does not yet know connected cost one direct look each on top."""
        return self._client.listing_requests(max(0, expected_participants))

    async def _leg_list(self, call_id: str) -> list[CmsCallLegSummary]:
        """One consistent listing; a shifted one is read again once if the budget has room
        for it now, else (or if it shifts again) :class:`ListingUnreliable`."""
        for attempt in range(2):
            try:
                return await self._cms(lambda: self._client.call_legs_of_call(call_id))
            except CmsListingShifted as err:
                known = sum(1 for note in self._legs.values() if note.call_id == call_id)
                cost = self.listing_cost(known)
                if attempt or not self.budget.can_spend(cost, within=_REREAD_WAIT):
                    raise ListingUnreliable(self.name, str(err)) from err
        raise AssertionError("unreachable")  # pragma: no cover

    async def participants(self, ref: ConferenceRef) -> list[Participant]:
        summaries = await self._leg_list(ref.conference_id)
        limit = asyncio.Semaphore(_DETAIL_CONCURRENCY)

        async def detail(leg_id: str) -> CmsCallLeg | None:
            async with limit:
                try:
                    return await self._cms(lambda: self._client.get_call_leg(leg_id))
                except ConferenceNotFound:
                    return None  # left between the list and this look

        # A leg is looked at while vcorch does not know it connected, and once if it carries
        # no site and its direction is unknown (a room calling in: CDRs do not say which).
        unknown = [
            summary.leg_id
            for summary in summaries
            if (note := self._legs.get(summary.leg_id)) is None
            or note.state != "connected"
            or (note.site_id is None and note.incoming is None)
        ]
        looked = await asyncio.gather(*(detail(leg_id) for leg_id in unknown))
        now = self.context.clock()
        gone: set[str] = set()
        for leg_id, leg in zip(unknown, looked, strict=True):
            if leg is None:
                gone.add(leg_id)  # its note stays: the leave CDR may come after this
            else:
                self._learn(leg, now)
        return [
            self._participant(ref, summary.leg_id, summary.name, summary.remote_party)
            for summary in summaries
            if summary.leg_id not in gone
        ]

    async def participant(self, ref: ConferenceRef, participant_id: str) -> Participant | None:
        """One ``GET /callLegs/<id>``: the leg now, or ``None`` when it is gone (or in
        another call)."""
        try:
            leg = await self._cms(lambda: self._client.get_call_leg(participant_id))
        except ConferenceNotFound:
            return None
        if leg.call_id and leg.call_id != ref.conference_id:
            return None
        self._learn(leg, self.context.clock())
        return self._participant(ref, leg.leg_id, leg.name, leg.remote_party)

    def _learn(self, leg: CmsCallLeg, now: datetime) -> None:
        note = self._note_leg(leg.leg_id, leg.call_id, site_of_owner_id(leg.owner_id))
        if leg.state == "connected" and note.state != "connected":
            note.connected_at = (
                _seconds_before(now, leg.duration_seconds)
                if leg.duration_seconds is not None
                else note.connected_at
            )
        note.state = leg.state
        note.muted = leg.rx_audio_mute
        # Looked at once is enough: a detail without a direction is taken as not incoming.
        note.incoming = leg.direction == "incoming"

    def _participant(
        self, ref: ConferenceRef, leg_id: str, name: str | None, remote_party: str | None
    ) -> Participant:
        note = self._legs.get(leg_id) or _Leg()
        site_id = note.site_id
        if site_id is None and name:
            site_id = self._web_guests.get((ref.conference_id, unicodedata.normalize("NFC", name)))
        connected = note.state == "connected"
        return Participant(
            participant_id=leg_id,
            display_name=name or remote_party or leg_id,
            address=remote_party,
            site_id=site_id,
            connected=connected,
            muted=note.muted,
            joined_at=note.connected_at if connected else None,
            incoming=note.incoming,
        )

    async def disconnect(self, ref: ConferenceRef, participant_id: str) -> None:
        await self._cms(lambda: self._client.delete_call_leg(participant_id))

    async def mute(self, ref: ConferenceRef, participant_id: str, muted: bool) -> None:
        value = "true" if muted else "false"
        await self._cms(
            lambda: self._client.update_call_leg(participant_id, {"rxAudioMute": value})
        )
        note = self._legs.get(participant_id)
        if note is not None:
            note.muted = muted

    async def webrtc_join_url(
        self, ref: ConferenceRef, target: DialTarget, expires_at: datetime
    ) -> str:
        """The CMS web app's guest link to the conference's coSpace.

        Shape from the web app's user guide ("Customize meeting join links"):
        ``https://<web app>/meeting/<callId>?secret=<secret>``, with ``name=`` (the display
        name, so the guest is not asked) and ``skipJoinOptions=true``.  ``callId`` and
        ``secret`` are the coSpace's (API reference, GET ``/coSpaces/<id>``); a coSpace
        without a callId is given one (``requireCallId``).  A passcode, if the space has
        one, is still asked by the web app: the meeting's PIN, told with the invitation.
        The link does not expire by itself; the coSpace is deleted when the meeting ends.
        """
        if self._webapp_url is None:
            raise NotSupported(self.name, "options.webapp_url is not configured")
        cospace_id = ref.extra.get("coSpace")
        if not cospace_id:
            raise ConferenceNotFound(self.name, "the conference names no coSpace")
        access = await self._cms(lambda: self._client.cospace_access(cospace_id))
        if access.call_id is None:
            await self._cms(lambda: self._client.require_call_id(cospace_id))
            access = await self._cms(lambda: self._client.cospace_access(cospace_id))
        if access.call_id is None or access.secret is None:
            raise BridgeProtocolError(self.name, f"coSpace {cospace_id} has no callId or secret")
        name = unicodedata.normalize("NFC", target.display_name)
        self._web_guests[(ref.conference_id, name)] = target.site_id
        while len(self._web_guests) > _REMEMBERED_LEGS:
            self._web_guests.popitem(last=False)
        query = urlencode(
            {
                "secret": access.secret,
                "name": name,
                "skipJoinOptions": "true",
            },
            quote_via=quote,
        )
        return f"{self._webapp_url}/meeting/{quote(access.call_id, safe='')}?{query}"

    def parse_events(self, request: InboundRequest) -> list[BridgeEvent]:
        try:
            records = parse_cdr(request.body)
        except CdrMalformed as err:
            raise BridgeProtocolError(self.name, f"CDR not understood: {err}") from err
        events: list[BridgeEvent] = []
        for record in records:
            event = self._event_of(record)
            if event is not None:
                events.append(event)
        return events

    def _event_of(self, record: CdrRecord) -> BridgeEvent | None:
        if record.leg_id is None:
            return None
        note = self._legs.get(record.leg_id)
        if record.type in ("callLegStart", "callLegUpdate"):
            # ownerId (the site tag) is in callLegStart and callLegUpdate records.
            note = self._note_leg(record.leg_id, record.call_id, site_of_owner_id(record.owner_id))
            if record.state:
                if record.state == "connected" and note.state != "connected":
                    note.connected_at = record.time
                note.state = record.state
        kind: Literal["join", "leave"]
        if record.type == "callLegUpdate" and record.state == "connected":
            kind = "join"
        elif record.type == "callLegEnd":
            kind = "leave"
            if note is not None:
                note.state = "ended"
        else:
            return None
        call_id = note.call_id if note is not None else None
        site_id = note.site_id if note is not None else None
        if record.session and record.record_index:
            event_id = f"{self.name}:{record.session}:{record.record_index}"
        else:
            event_id = f"{self.name}:{record.leg_id}:{record.type}:{record.time.isoformat()}"
        return BridgeEvent(
            kind=kind,
            conference_id=record.call_id or call_id or "",
            participant_id=record.leg_id,
            at=record.time,
            event_id=event_id,
            site_id=site_id,
            display_name=record.display_name,
            address=record.remote_address,
            reason=record.reason,
        )


def _webapp_url(config: BridgeConfig) -> str | None:
    value = config.options.get("webapp_url")
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or urlsplit(value).scheme not in {"http", "https"}
        or not urlsplit(value).netloc
    ):
        raise ConfigError(
            f"bridges.{config.name}.options.webapp_url: the web app's absolute http(s) URL"
        )
    return value.rstrip("/")


def _seconds_before(now: datetime, seconds: int) -> datetime:
    return now - timedelta(seconds=seconds)
