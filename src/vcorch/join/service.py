"""Where a join link leads, and joining the built-in bridge through it.

A link names one site of one meeting run (:mod:`vcorch.join.links`).  Opening it:

- the run's phase (:func:`run_phase`): ``not_started``, ``live``, ``ended`` or ``failed``;
  the page is told which, and only a live run is joined (else :class:`MeetingNotLive`);
- if the site's conference is on a bridge that takes browsers itself
  (``capabilities.webrtc_join``) and the meeting did not fall back as a whole, the link leads
  there: a Janus room that vcorch's page joins with janus.js (mode ``janus``,
  ``JanusBridge.browser_room``), or the bridge's own page (mode ``bridge``,
  ``webrtc_join_url``: Jitsi, the CMS web app);
- if it is on a bridge that takes no browsers but has a SIP address, and a gateway serving
  it is healthy, the browser joins that same conference through the gateway (``gateway``:
  :mod:`vcorch.join.gateway_route`);
- otherwise it leads to vcorch's built-in bridge: the conference ``run-{run_id}`` there,
  created on first use (idempotent) and recorded as a ``RunConference`` of role
  ``fallback`` when the orchestrator has not recorded one already.  When the meeting is
  hosted elsewhere and nothing links the two, the site is in a separate room
  (``separate_room``), and the page says so.

One connection per site at a time: the built-in bridge's *seat* is the run site, so a second
connection replaces the first; that is logged and written to the audit log.

Errors (all in :mod:`vcorch.join.errors`, mapped by ``problem_types.py``):
:class:`~vcorch.join.errors.LinkExpired` (410),
:class:`~vcorch.join.errors.LinkInvalid` (403), :class:`MeetingNotLive` (409),
:class:`JoinElsewhere` (409), :class:`BridgeFull` (503), :class:`BuiltinBridgeMissing` (503),
:class:`OfferRejected` (400), and ``NotFound`` for sites and sessions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, Principal, Role, audit
from vcorch.booking import Meeting
from vcorch.errors import NotFound
from vcorch.join.errors import (
    BridgeFull,
    BuiltinBridgeMissing,
    JoinElsewhere,
    LinkInvalid,
    MeetingNotLive,
    OfferRejected,
)
from vcorch.join.gateway_route import GatewayJoins
from vcorch.join.ice import IcePolicy, IceServer, ice_servers
from vcorch.join.links import JoinClaims, JoinLinks
from vcorch.mcu_adapter import (
    BridgeError,
    BridgeRegistry,
    CapacityExceeded,
    ConferenceNotFound,
    ConferenceRef,
    ConferenceSpec,
    DialTarget,
    JanusBridge,
    JanusBrowserRoom,
    Joined,
    OfferRefused,
    WebRtcBridge,
)
from vcorch.orchestration import CHANNEL_LABELS, MeetingRun, RunConference, RunSite
from vcorch.rooms import Room, Unit

log = logging.getLogger(__name__)

LIVE_STATUSES = ("launching", "live")
FALLBACK_ROLE = "fallback"
HOST_ROLE = "host"

RunPhase = Literal["not_started", "live", "ended", "failed"]


def run_phase(status: str, starts_at: datetime, now: datetime) -> RunPhase:
    """How a run looks to someone holding a link.  A run still launching before its start
    has no conference to join yet; once past its start it is joined as live (a site's
    fallback can be mailed while the others are still being dialled)."""
    if status in ("ended", "missed"):
        return "ended"
    if status == "failed":
        return "failed"
    if status == "launching" and now < starts_at:
        return "not_started"
    if status in LIVE_STATUSES:
        return "live"
    return "not_started"


@dataclass(frozen=True)
class SiteListing:
    """One site of the link's run, as the join page lists it (no ids but the own flag)."""

    room_name: str
    unit_name: str
    state: str
    channel: str | None
    channel_label: str | None
    is_me: bool
    is_host: bool


@dataclass(frozen=True)
class JoinTarget:
    """What a link leads to, as the join page needs it (no credential but the TURN one)."""

    claims: JoinClaims
    meeting_id: int
    meeting_title: str
    site_name: str
    unit_name: str
    unit_path: str
    unit_id: int
    run_id: int
    starts_at: datetime
    ends_at: datetime
    mode: Literal["bridge", "builtin", "janus", "gateway"]
    url: str | None  # mode "bridge": the hosting bridge's browser link
    # not_started | live | ended | failed (see run_status): only a live target has a mode
    # that connects; the page says when the others start or that the meeting is over.
    status: RunPhase = "live"
    # Mode builtin while the meeting's own conference is on another bridge that nothing
    # links to the built-in one: this site hears only the other browser sites.
    separate_room: bool = False
    janus: JanusBrowserRoom | None = None  # mode "janus": what janus.js joins
    # mode "gateway": the hosting conference the gateway calls into.
    conference: ConferenceRef | None = None

    @property
    def run_site_id(self) -> int:
        return self.claims.run_site_id

    @property
    def seat(self) -> str:
        return f"site-{self.claims.run_site_id}"


@dataclass(frozen=True)
class _Site:
    run: MeetingRun
    site: RunSite
    meeting: Meeting
    room: Room
    unit: Unit


class JoinService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: BridgeRegistry,
        links: JoinLinks,
        ice: IcePolicy,
        clock: Callable[[], datetime],
        gateways: GatewayJoins | None = None,
    ) -> None:
        self._gateways = gateways
        self._sessions = sessions
        self._registry = registry
        self._links = links
        self._ice = ice
        self._clock = clock
        # The built-in bridge lives in this process: one lock keeps two first joins of a
        # run from recording its conference twice.
        self._ensure_lock = asyncio.Lock()

    def browser_origins(self) -> list[str]:
        """Origins of the Janus HTTP APIs browsers signal to (the join page's CSP)."""
        origins: set[str] = set()
        for bridge in self._registry:
            if isinstance(bridge, JanusBridge):
                parts = urlsplit(bridge.browser_api_url)
                if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc:
                    origins.add(f"{parts.scheme}://{parts.netloc}")
        return sorted(origins)

    def ice_servers(self, target: JoinTarget) -> list[IceServer]:
        return ice_servers(self._ice, f"site-{target.run_site_id}", self._clock())

    # -- where a link leads --------------------------------------------------------------

    async def resolve(self, token: str, *, live_only: bool = True) -> JoinTarget:
        """Where the link leads.  ``live_only``: refuse a run that is not live with
        :class:`MeetingNotLive` (WHIP); otherwise answer its phase (the join page)."""
        claims = self._links.verify(token)
        async with self._sessions() as session:
            found = await self._site(session, claims)
            run, site = found.run, found.site
            phase = run_phase(run.status, run.start_at, self._clock())
            if phase != "live":
                if live_only:
                    raise MeetingNotLive(_not_live_detail(run.status))
                return self._target(claims, found, phase=phase, mode="builtin")
            conference = None
            if site.conference_row_id is not None:
                conference = await session.get(RunConference, site.conference_row_id)
            separate = await self._separate_room(session, run, conference)
        mode: Literal["bridge", "builtin", "janus", "gateway"] = "builtin"
        url = None
        janus = None
        gateway_ref = None
        if conference is not None and conference.active and not run.whole_fallback:
            bridge = self._registry.get(conference.bridge)
            if (
                bridge is not None
                and not isinstance(bridge, WebRtcBridge)
                and bridge.capabilities.webrtc_join
            ):
                ref = ConferenceRef(
                    bridge=conference.bridge,
                    conference_id=conference.conference_id,
                    extra=dict(conference.extra or {}),
                )
                target = DialTarget(
                    site_id=str(site.id),
                    kind="webrtc",
                    address=f"vcorch-site-{site.id}",
                    display_name=found.room.name,
                )
                try:
                    if isinstance(bridge, JanusBridge):
                        # vcorch's own page joins Janus with janus.js (mode "janus").
                        janus = bridge.browser_room(ref, target)
                        mode = "janus"
                    else:
                        url = await bridge.webrtc_join_url(ref, target, claims.expires_at)
                        mode = "bridge"
                except BridgeError as err:
                    # The hosting bridge cannot give a link now: the built-in bridge can.
                    log.warning(
                        "bridge %s gave no browser link for run site %s (%s); "
                        "using the built-in bridge",
                        conference.bridge,
                        site.id,
                        err.reason,
                    )
        if mode == "builtin" and conference is not None and conference.active:
            gateway_ref = self._gateway_conference(found.run, conference)
            if gateway_ref is not None:
                mode = "gateway"
        return self._target(
            claims,
            found,
            phase="live",
            mode=mode,
            url=url,
            janus=janus,
            separate_room=separate and mode == "builtin",
            conference=gateway_ref,
        )

    def _target(
        self,
        claims: JoinClaims,
        found: _Site,
        *,
        phase: RunPhase,
        mode: Literal["bridge", "builtin", "janus", "gateway"],
        url: str | None = None,
        janus: JanusBrowserRoom | None = None,
        separate_room: bool = False,
        conference: ConferenceRef | None = None,
    ) -> JoinTarget:
        return JoinTarget(
            claims=claims,
            meeting_id=found.meeting.id,
            meeting_title=found.meeting.title,
            site_name=found.room.name,
            unit_name=found.unit.name,
            unit_path=found.unit.path,
            unit_id=found.unit.id,
            run_id=found.run.id,
            starts_at=found.run.start_at,
            ends_at=found.run.end_at,
            mode=mode,
            url=url,
            status=phase,
            separate_room=separate_room,
            janus=janus,
            conference=conference,
        )

    def _gateway_conference(
        self, run: MeetingRun, conference: RunConference
    ) -> ConferenceRef | None:
        """The hosting conference, when a healthy gateway can call it (else the built-in)."""
        if self._gateways is None or run.whole_fallback:
            return None
        bridge = self._registry.get(conference.bridge)
        if self._gateways.route(bridge) is None:
            if bridge is not None and self._gateways.configured_for(bridge.name):
                log.warning(
                    "run %s: no healthy gateway serves bridge %s; browsers use the built-in "
                    "bridge (a separate room)",
                    run.id,
                    conference.bridge,
                )
            return None
        return ConferenceRef(
            bridge=conference.bridge,
            conference_id=conference.conference_id,
            extra=dict(conference.extra or {}),
        )

    async def _separate_room(
        self, session: AsyncSession, run: MeetingRun, conference: RunConference | None
    ) -> bool:
        """True when a browser on the built-in bridge would not hear the meeting: the
        meeting is hosted on another bridge and no link leg joins the built-in conference
        to it.  (A whole-meeting fallback has everyone on the built-in bridge.)"""
        if run.whole_fallback:
            return False
        builtin = self._builtin_name()
        rows = (
            (
                await session.execute(
                    select(RunConference).where(
                        RunConference.run_id == run.id, RunConference.active.is_(True)
                    )
                )
            )
            .scalars()
            .all()
        )
        hosts = [row for row in rows if row.role == HOST_ROLE and row.bridge != builtin]
        if conference is not None and conference.bridge != builtin and conference not in hosts:
            hosts.append(conference)
        if not hosts:
            return False
        linked = any(row.bridge == builtin and row.link_participant_id is not None for row in rows)
        return not linked

    def _builtin_name(self) -> str | None:
        for bridge in self._registry:
            if isinstance(bridge, WebRtcBridge):
                return bridge.name
        return None

    async def sites(self, token: str) -> list[SiteListing]:
        """The sites of the link's run, for the page's participant list (live runs only)."""
        claims = self._links.verify(token)
        async with self._sessions() as session:
            found = await self._site(session, claims)
            if run_phase(found.run.status, found.run.start_at, self._clock()) != "live":
                raise MeetingNotLive(_not_live_detail(found.run.status))
            rows = (
                await session.execute(
                    select(RunSite, Room, Unit)
                    .join(Room, Room.id == RunSite.room_id)
                    .join(Unit, Unit.id == RunSite.unit_id)
                    .where(RunSite.run_id == found.run.id)
                    .order_by(Unit.path, Room.name, RunSite.id)
                )
            ).all()
        host_room = found.meeting.host_room_id
        return [
            SiteListing(
                room_name=room.name,
                unit_name=unit.name,
                state=site.state,
                channel=site.channel,
                channel_label=CHANNEL_LABELS.get(site.channel) if site.channel else None,
                is_me=site.id == claims.run_site_id,
                is_host=host_room is not None and room.id == host_room,
            )
            for site, room, unit in rows
        ]

    # -- the built-in bridge -------------------------------------------------------------

    def builtin_bridge(self) -> WebRtcBridge:
        for bridge in self._registry:
            if isinstance(bridge, WebRtcBridge):
                return bridge
        raise BuiltinBridgeMissing("the built-in browser bridge is not running in this process")

    async def ensure_builtin_conference(self, run_id: int) -> tuple[WebRtcBridge, str]:
        """The run's conference on the built-in bridge, created if needed (also after a
        restart emptied the bridge), and recorded as a ``RunConference`` once."""
        bridge = self.builtin_bridge()
        key = f"run-{run_id}"
        async with self._ensure_lock, self._sessions.begin() as session:
            run = await session.get(MeetingRun, run_id)
            if run is None:
                raise MeetingNotLive("the meeting of this link is no longer held")
            meeting = await session.get(Meeting, run.meeting_id)
            sites = len(
                (await session.execute(select(RunSite.id).where(RunSite.run_id == run_id))).all()
            )
            ref = await bridge.create_conference(
                ConferenceSpec(
                    key=key,
                    title=meeting.title if meeting is not None else key,
                    expected_sites=max(1, sites),
                )
            )
            recorded = (
                await session.execute(
                    select(RunConference.id).where(
                        RunConference.run_id == run_id,
                        RunConference.bridge == bridge.name,
                        RunConference.active.is_(True),
                    )
                )
            ).first()
            if recorded is None:
                session.add(
                    RunConference(
                        run_id=run_id,
                        bridge=bridge.name,
                        conference_id=ref.conference_id,
                        conference_key=key,
                        role=FALLBACK_ROLE,
                        active=True,
                        created_at=self._clock(),
                    )
                )
        return bridge, ref.conference_id

    async def join(
        self, token: str, offer_sdp: str, *, request_id: str | None, address: str | None
    ) -> tuple[JoinTarget, Joined]:
        """Answer the page's WHIP offer on the built-in bridge."""
        target = await self.resolve(token)
        if target.mode == "gateway":
            joined = await self._join_gateway(target, offer_sdp)
            if joined.replaced is not None:
                await self._record_replace(target, joined, request_id, address)
            return target, joined
        if target.mode != "builtin":
            raise JoinElsewhere("this link leads to the hosting bridge's own page")
        bridge, conference_id = await self.ensure_builtin_conference(target.run_id)
        try:
            joined = await bridge.join(
                conference_id,
                seat=target.seat,
                site_id=str(target.run_site_id),
                display_name=target.site_name,
                offer_sdp=offer_sdp,
            )
        except CapacityExceeded as err:
            raise BridgeFull(err.reason) from err
        except OfferRefused as err:
            raise OfferRejected(err.reason) from err
        except ConferenceNotFound as err:
            raise MeetingNotLive("the meeting ended while joining") from err
        if joined.replaced is not None:
            await self._record_replace(target, joined, request_id, address)
        return target, joined

    async def leave(self, token: str, session_id: str) -> None:
        """The page leaves (``DELETE`` of its WHIP resource); allowed after the link expired."""
        claims = self._links.verify(token, allow_expired=True)
        if self._gateways is not None and await self._gateways.leave(
            claims.run_site_id, session_id
        ):
            return
        bridge = self.builtin_bridge()
        session = bridge.session_info(session_id)
        if session is None or session.seat != f"site-{claims.run_site_id}":
            raise NotFound("no such connection (it ended already)")
        await bridge.leave(session_id, "left")

    # -- the gateway -----------------------------------------------------------------------

    async def _join_gateway(self, target: JoinTarget, offer_sdp: str) -> Joined:
        assert self._gateways is not None
        assert target.conference is not None
        bridge = self._registry.get(target.conference.bridge)
        if bridge is None:
            raise MeetingNotLive("the meeting's bridge is no longer loaded")
        return await self._gateways.join(
            bridge=bridge,
            ref=target.conference,
            run_id=target.run_id,
            run_site_id=target.run_site_id,
            room_name=target.site_name,
            offer_sdp=offer_sdp,
            expires_at=target.claims.expires_at,
        )

    async def _record_replace(
        self, target: JoinTarget, joined: Joined, request_id: str | None, address: str | None
    ) -> None:
        """A link used again: the new connection (built-in seat or gateway call) replaced
        the old one; logged and audited alike on both paths."""
        log.warning(
            "join link of run site %s used again (%s): connection %s replaced by %s",
            target.mode,
            target.run_site_id,
            joined.replaced,
            joined.participant_id,
        )
        actor = Actor(_link_principal(target), request_id=request_id, address=address)
        async with self._sessions.begin() as session:
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="join_link.replace",
                entity="run_site",
                entity_id=target.run_site_id,
                unit_path=target.unit_path,
                before={"participant_id": joined.replaced},
                after={"participant_id": joined.participant_id},
            )

    # -- internals -----------------------------------------------------------------------

    async def _site(self, session: AsyncSession, claims: JoinClaims) -> _Site:
        found = (
            await session.execute(
                select(RunSite, MeetingRun, Meeting, Room, Unit)
                .join(MeetingRun, MeetingRun.id == RunSite.run_id)
                .join(Meeting, Meeting.id == MeetingRun.meeting_id)
                .join(Room, Room.id == RunSite.room_id)
                .join(Unit, Unit.id == RunSite.unit_id)
                .where(RunSite.id == claims.run_site_id)
            )
        ).first()
        if found is None:
            raise MeetingNotLive("the meeting of this link is no longer held")
        site, run, meeting, room, unit = found
        if meeting.id != claims.meeting_id:
            # Only this service can sign, so this is a bug or a key shared with another
            # installation: refuse rather than guess.
            raise LinkInvalid("the link does not match its meeting")
        return _Site(run=run, site=site, meeting=meeting, room=room, unit=unit)


def _not_live_detail(status: str) -> str:
    if status in ("ended", "missed"):
        return "the meeting has ended"
    if status == "failed":
        return "the meeting could not be held"
    return "the meeting is not being held now"


def _link_principal(target: JoinTarget) -> Principal:
    # Whoever holds a link acts as that site; the audit log names the link, not a person.
    return Principal(
        kind="user",
        id=0,
        name=f"join-link:site-{target.run_site_id}",
        role=Role.OPERATOR,
        unit_id=target.unit_id,
        unit_path=target.unit_path,
    )
