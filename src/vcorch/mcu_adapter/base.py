"""The bridge contract: one base class, its result types and its error tree.

Everything the rest of vcorch knows about a bridge (an MCU, a media server, the simulated
one) goes through :class:`Bridge`.  Adapters translate every vendor error at their boundary
into the tree below, so callers decide with ``except`` clauses, never by parsing messages:

``BridgeError`` (a :class:`~vcorch.errors.VcorchError`)
    ``BridgeUnavailable``  the far side is down or broken (timeout, cannot connect...)
        ``BridgeProtocolError``  the far side answered something malformed or unexpected
    ``BridgeBusy``         the far side said "busy, try again" (429/503) through every retry
                           the request budget allowed: try later, never a reason to fail over
    ``ListingUnreliable``  a paged listing changed while it was read: not the truth
    ``DialFailed``         one site could not be called; fall back for that site only
    ``CapacityExceeded``   no free ports/licences on this bridge
    ``NotSupported``       this bridge cannot do that at all
    ``ConferenceNotFound`` the conference (or participant) is not on the bridge (any more)

This module imports no HTTP library at run time so that domain code may use its types.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from vcorch.config import ConfigError
from vcorch.errors import VcorchError
from vcorch.mcu_adapter.budget import RequestBudget

if TYPE_CHECKING:
    import aiohttp

    from vcorch.config import BridgeConfig

# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


class BridgeError(VcorchError):
    """Base of every error a bridge adapter raises on purpose.

    ``reason`` is short, safe to show an operator and never holds a credential.
    """

    def __init__(self, bridge: str, reason: str) -> None:
        super().__init__(f"{bridge}: {reason}")
        self.bridge = bridge
        self.reason = reason


class BridgeUnavailable(BridgeError):
    """The bridge cannot host the conference now: fail the whole conference over."""


class BridgeProtocolError(BridgeUnavailable):
    """The far side answered, but not in the shape its API promises."""


class BridgeBusy(BridgeError):
    """The bridge answered busy (HTTP 429 or 503, with or without ``Retry-After``) and stayed
    busy through the retries its request budget allowed.

    Busy is not down: only failed health checks count toward fail-over.  ``retry_after`` is
    the wait the bridge asked for, in seconds, when it said one.
    """

    def __init__(self, bridge: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(bridge, reason)
        self.retry_after = retry_after


class ListingUnreliable(BridgeError):
    """A paged listing changed between its pages (a leg left or came while it was read), so
    it may miss or repeat participants: a caller must not act on what it lacks."""


class DialFailed(BridgeError):
    """One site could not be called (refused, unknown address...): fall back for that site."""

    def __init__(self, bridge: str, reason: str, *, site_id: str | None = None) -> None:
        super().__init__(bridge, reason)
        self.site_id = site_id


class CapacityExceeded(BridgeError):
    """The bridge has no free port (or licence) for another participant or conference."""


class NotSupported(BridgeError):
    """The bridge kind cannot do this at all (not a transient condition)."""


class ConferenceNotFound(BridgeError):
    """The conference or participant named is not on the bridge (ended, never created)."""


# ---------------------------------------------------------------------------------------
# Results and arguments
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    """What a bridge kind can do; the orchestrator plans with these, never with type names."""

    dial_sip: bool = False
    dial_h323: bool = False
    webrtc_join: bool = False
    events_pushed: bool = False
    events_polled: bool = False
    mute: bool = False
    layouts: bool = False
    cascade: bool = False
    # Can drop a participant and end a conference that still has people in it.
    disconnect: bool = False
    # A conference has a SIP address others can call (``dial_in_uri``): what a
    # WebRTC-to-SIP gateway calls to bring a browser in.
    sip_dial_in: bool = False
    # Takes the built-in bridge's fallback conference of a meeting as one more participant
    # (a link leg), so that browser sites there are in the meeting.  Only the simulated
    # MCU declares it today: it simulates the link as it simulates every call (no media);
    # real SIP-only MCUs get browsers through a WebRTC-to-SIP gateway instead.
    builtin_link: bool = False
    # Conferences have a numeric ID (and a PIN) that a room system can dial in with
    # (``dial_in``), e.g. a CMS call ID and passcode or a Janus room and its PIN.
    dial_in_id: bool = False
    # In-call controls (``set_layout``, ``mute_all``, ``lock``, ``show_message``).
    layout_names: tuple[str, ...] = ()  # the layouts ``set_layout`` takes, vendor-neutral
    mute_all: bool = False
    lock: bool = False
    message: bool = False


@dataclass(frozen=True)
class BridgeHealth:
    """One look at the far side. ``None`` means the bridge does not say."""

    reachable: bool
    version: str | None = None
    ports_total: int | None = None
    ports_in_use: int | None = None
    load: float | None = None  # 0.0 idle .. 1.0 full, as the bridge measures it
    detail: str = ""


@dataclass(frozen=True)
class ConferenceSpec:
    """What to create. ``key`` is stable across retries (e.g. ``meeting-12@2026-12-01T02:00Z``):
    creating twice with the same key returns the same conference."""

    key: str
    title: str
    expected_sites: int
    audio_only: bool = False
    pin: str | None = None


@dataclass(frozen=True)
class ConferenceRef:
    """A conference on one bridge. ``extra`` holds bridge-specific ids (e.g. a coSpace id)."""

    bridge: str
    conference_id: str
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class DialTarget:
    """One site to call: its id in vcorch and how the bridge reaches its endpoint."""

    site_id: str
    kind: Literal["sip", "h323", "webrtc"]
    address: str  # e.g. "sip:room1@10.0.0.5", "h323:10.0.0.7", or a WebRTC participant name
    display_name: str


@dataclass(frozen=True)
class DialIn:
    """How a room system dials into a conference by itself (the second path).

    ``number`` is numeric (what a remote control can type), ``pin`` the conference PIN if it
    has one, ``uri`` a SIP/H.323 address to call when the bridge publishes one.
    """

    number: str
    pin: str | None = None
    uri: str | None = None


# Vendor-neutral layout names (``Capabilities.layout_names``, ``Bridge.set_layout``); each
# adapter maps the ones it can show onto its own values (docs/bridges.md, "In-call control").
LAYOUTS: tuple[str, ...] = ("speaker", "grid", "presentation", "automatic")
# The longest on-screen message vcorch sends (``Bridge.show_message``): what a room
# system's overlay shows legibly; the live-control route refuses longer ones.
MESSAGE_MAX_CHARS = 200
MESSAGE_MAX_SECONDS = 3600


@dataclass(frozen=True)
class ParticipantRef:
    """A participant (a call leg) the bridge created for a dial-out."""

    conference_id: str
    participant_id: str


@dataclass(frozen=True)
class Participant:
    """A participant as the bridge lists it now."""

    participant_id: str
    display_name: str
    address: str | None
    site_id: str | None  # known when vcorch dialled it, or the bridge carries the tag
    connected: bool  # media is up (not merely ringing)
    muted: bool
    joined_at: datetime | None  # aware UTC
    # The endpoint called the conference itself (dial-in), as the bridge says; None where
    # it does not say.  An untagged incoming call from a site's address is that site.
    incoming: bool | None = None


@dataclass(frozen=True)
class BridgeEvent:
    """A join or leave, as the bridge reported it.

    A ``leave`` may come without a ``join`` (a call that rang out or was refused), and a
    bridge may report the same join twice (under different ``event_id``): consumers treat a
    join of a participant already in as nothing new.  ``conference_id`` is ``""`` when the
    bridge's report does not name the conference (participant ids are then unique on it).
    """

    kind: Literal["join", "leave"]
    conference_id: str
    participant_id: str
    at: datetime  # the event's own time, aware UTC
    event_id: str  # stable de-duplication key: the same report always gives the same id
    site_id: str | None = None
    display_name: str | None = None
    address: str | None = None
    reason: str | None = None  # for leaves: why, in the bridge's words (short)


@dataclass(frozen=True)
class InboundRequest:
    """An HTTP request a bridge pushed to vcorch (a CDR, an event-handler POST...).

    Header names are matched case-insensitively by the helpers here; the web layer may
    pass ``dict(request.headers)``.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


EmitEvents = Callable[[str, Sequence[BridgeEvent]], Awaitable[None]]
EndpointAnswers = Callable[[DialTarget], Awaitable[bool]]


@dataclass(frozen=True)
class BridgeContext:
    """What a bridge gets from the process that runs it (wired in ``app.py``)."""

    http: aiohttp.ClientSession | None
    clock: Callable[[], datetime]  # aware UTC now
    # How a bridge pushes events in process (the simulated one); others push over HTTP.
    emit: EmitEvents | None = None
    # The simulated bridge asks the endpoint registry whether a target would answer.
    endpoint_answers: EndpointAnswers | None = None


# ---------------------------------------------------------------------------------------
# The contract
# ---------------------------------------------------------------------------------------

HOOK_HEADER_DEFAULT = "X-Vcorch-Hook-Secret"


class Bridge:
    """One configured bridge instance.

    Required methods raise :class:`NotImplementedError`; optional hooks do nothing or raise
    :class:`NotSupported`.  ``__init__`` must not touch the network (configuration errors
    raise there, so the registry can report them); ``start`` may.  Every network call an
    adapter makes has a timeout (``config.timeout_seconds``) and at most ``config.retries``
    retries, only for calls that are safe to repeat.
    """

    type_name: ClassVar[str] = ""
    # Requests per second this kind may send to one far side unless ``options.
    # request_budget_per_second`` says otherwise; ``None`` is unlimited (in-process bridges).
    # Every request an adapter sends goes through ``self.budget`` (see ``budget.py``).
    default_request_budget: ClassVar[float | None] = None
    # The kind's capabilities; an instance may narrow or widen them from its configuration
    # in ``__init__`` (``self.capabilities = replace(...)``), never later.
    capabilities: Capabilities = Capabilities()

    def __init__(self, config: BridgeConfig, context: BridgeContext) -> None:
        self.config = config
        self.context = context
        self._hook_secret = _read_hook_secret(config)
        self.budget = RequestBudget.from_config(config, self.default_request_budget)

    @property
    def name(self) -> str:
        return self.config.name

    # -- life cycle (optional) ----------------------------------------------------------

    async def start(self) -> None:
        """Connect, open sessions, start pollers. Must not fail when the far side is down."""

    async def close(self) -> None:
        """Release what ``start`` took. Safe to call twice."""

    # -- required -----------------------------------------------------------------------

    async def health(self) -> BridgeHealth:
        """Look at the far side. A far side that is down gives ``reachable=False``; no raise."""
        raise NotImplementedError

    async def create_conference(self, spec: ConferenceSpec) -> ConferenceRef:
        """Create the conference, or return the one already created for ``spec.key``."""
        raise NotImplementedError

    async def end_conference(self, ref: ConferenceRef) -> None:
        """End it and drop every participant. Ending one already gone is not an error."""
        raise NotImplementedError

    async def dial_out(self, ref: ConferenceRef, target: DialTarget) -> ParticipantRef:
        """Start calling ``target``; returns once the bridge has placed the call (it may still
        ring). Connection shows up later in ``participants`` and as a ``join`` event."""
        raise NotImplementedError

    async def participants(self, ref: ConferenceRef) -> list[Participant]:
        """Who is in now (ringing ones with ``connected=False``). An unknown conference may
        raise :class:`ConferenceNotFound` or give ``[]`` where the bridge cannot tell."""
        raise NotImplementedError

    async def participant(self, ref: ConferenceRef, participant_id: str) -> Participant | None:
        """A direct look at one participant (``None``: not there); used to confirm a site
        missing from a listing before acting.  The default reads the whole listing."""
        for found in await self.participants(ref):
            if found.participant_id == participant_id:
                return found
        return None

    def listing_cost(self, expected_participants: int) -> int:
        """Requests one ``participants`` call costs for a conference of that size (what the
        supervisor budgets with). Paged APIs override this."""
        return 1

    async def disconnect(self, ref: ConferenceRef, participant_id: str) -> None:
        """Drop one participant; :class:`ConferenceNotFound` when it is not there."""
        raise NotImplementedError

    async def mute(self, ref: ConferenceRef, participant_id: str, muted: bool) -> None:
        """Stop (or restore) the others hearing this participant."""
        raise NotImplementedError

    # -- optional -----------------------------------------------------------------------

    async def webrtc_join_url(
        self, ref: ConferenceRef, target: DialTarget, expires_at: datetime
    ) -> str:
        """A browser link joining this same conference, valid until ``expires_at``."""
        raise NotSupported(self.name, "this bridge does not take browsers")

    async def dial_in_uri(self, ref: ConferenceRef) -> str:
        """The SIP URI that calls into this conference (``capabilities.sip_dial_in``)."""
        raise NotSupported(self.name, "this bridge's conferences have no SIP address")

    async def dial_in(self, ref: ConferenceRef) -> DialIn:
        """Numeric ID and PIN a room system dials in with (``capabilities.dial_in_id``)."""
        raise NotSupported(self.name, "this bridge's conferences have no dial-in number")

    async def set_layout(self, ref: ConferenceRef, layout: str) -> None:
        """Show the conference in ``layout`` (one of ``capabilities.layout_names``)."""
        raise NotSupported(self.name, "this bridge has no layouts to choose from")

    async def mute_all(self, ref: ConferenceRef, muted: bool) -> None:
        """Mute (or unmute) every participant's audio at once (``capabilities.mute_all``)."""
        raise NotSupported(self.name, "this bridge cannot mute everyone at once")

    async def lock(self, ref: ConferenceRef, locked: bool) -> None:
        """Let nobody else in (or open again) (``capabilities.lock``)."""
        raise NotSupported(self.name, "this bridge cannot lock a conference")

    async def show_message(self, ref: ConferenceRef, text: str, seconds: int) -> None:
        """Show ``text`` on every participant's screen for ``seconds``."""
        raise NotSupported(self.name, "this bridge cannot show a message")

    async def cascade(
        self, ref: ConferenceRef, remote: ConferenceRef, remote_address: str
    ) -> ParticipantRef:
        """Link this conference to one on another bridge."""
        raise NotSupported(self.name, "this bridge cannot cascade")

    def authenticate_hook(self, request: InboundRequest) -> bool:
        """Whether a pushed request really comes from this bridge.

        Accepts the hook secret (``options.hook_secret_env`` / ``hook_secret_file``) in the
        header ``options.hook_header`` (default ``X-Vcorch-Hook-Secret``), as the password of
        HTTP basic auth (user ``options.hook_username`` if set), or as the ``token`` query
        parameter for senders that can set neither.  No secret configured: refused.
        """
        secret = self._hook_secret
        if not secret:
            return False
        offered: list[str] = []
        header_name = str(self.config.options.get("hook_header", HOOK_HEADER_DEFAULT))
        header_value = request.header(header_name)
        if header_value is not None:
            offered.append(header_value)
        basic = _basic_credentials(request.header("Authorization"))
        if basic is not None:
            user, password = basic
            wanted_user = self.config.options.get("hook_username")
            if wanted_user is None or hmac.compare_digest(
                user.encode("utf-8"), str(wanted_user).encode("utf-8")
            ):
                offered.append(password)
        token = request.query.get("token")
        if token is not None:
            offered.append(token)
        expected = secret.encode("utf-8")
        # Every candidate is compared so that timing does not reveal which one was tried.
        matches = [hmac.compare_digest(value.encode("utf-8"), expected) for value in offered]
        return any(matches)

    def parse_events(self, request: InboundRequest) -> list[BridgeEvent]:
        """Turn one pushed request into events. Malformed bodies raise BridgeProtocolError;
        requests that carry nothing of interest give ``[]``."""
        raise NotSupported(self.name, "this bridge does not push events over HTTP")


def _read_hook_secret(config: BridgeConfig) -> str | None:
    env_name = config.options.get("hook_secret_env")
    file_name = config.options.get("hook_secret_file")
    if env_name:
        value = os.environ.get(str(env_name))
        if value is None:
            raise ConfigError(
                f"bridges.{config.name}.options.hook_secret_env: {env_name} is not set"
            )
        return value
    if file_name:
        try:
            return Path(str(file_name)).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(
                f"bridges.{config.name}.options.hook_secret_file: cannot read {file_name}: "
                f"{err.strerror}"
            ) from err
    return None


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password
