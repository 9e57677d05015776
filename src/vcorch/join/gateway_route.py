"""A browser into a SIP-only MCU's own conference, through a WebRTC-to-SIP gateway.

Chosen by :meth:`JoinService.resolve` when the site's hosting conference is on a bridge
that takes no browsers but has a SIP address (``capabilities.sip_dial_in``), the meeting
did not fall back as a whole, and a gateway serving that bridge is healthy.  The browser
keeps speaking WHIP to vcorch; vcorch places the SIP call itself, to the URI the bridge
gives (``dial_in_uri``), so a join link can call nowhere else.

The call's From is ``sip:vcorch-site-<run site>@<gateway sip_domain>`` with the room's name
as display name, so the MCU's participant list names the site.  Accepted: the run site is
``connected`` via ``gateway``; the call ends (WHIP ``DELETE``, the far end hangs up, the
meeting ends, the link expires): the site is back to ``fallback``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.errors import NotFound
from vcorch.gateway import (
    CallRejected,
    CallRequest,
    CallTimedOut,
    GatewayBusy,
    GatewayCall,
    GatewayError,
    GatewayRoute,
    Gateways,
    OfferNotUsable,
)
from vcorch.join.errors import GatewayUnavailable, OfferRejected
from vcorch.mcu_adapter import (
    Bridge,
    BridgeError,
    BridgeEvent,
    ConferenceRef,
    EmitEvents,
    Joined,
    WebRtcBridge,
)
from vcorch.orchestration import MeetingRun, mark_browser

log = logging.getLogger(__name__)

LIVE_STATUSES = ("launching", "live")


def takes_gateway(bridge: Bridge | None) -> bool:
    """A bridge whose conferences a gateway can call: a SIP address, no browsers of its own."""
    return (
        bridge is not None
        and not isinstance(bridge, WebRtcBridge)
        and not bridge.capabilities.webrtc_join
        and bridge.capabilities.sip_dial_in
    )


class GatewayJoins:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gateways: Gateways,
        clock: Callable[[], datetime],
        emit: EmitEvents | None = None,
    ) -> None:
        self._sessions = sessions
        self._gateways = gateways
        self._clock = clock
        # Where the gateway's own record of a call goes: the bridge events attendance reads.
        self._emit = emit
        self._conferences: dict[str, ConferenceRef] = {}

    def configured_for(self, bridge: str) -> bool:
        return self._gateways.configured_for(bridge)

    def route(self, bridge: Bridge | None) -> GatewayRoute | None:
        if bridge is None or not takes_gateway(bridge):
            return None
        return self._gateways.serving(bridge.name)

    async def join(
        self,
        *,
        bridge: Bridge,
        ref: ConferenceRef,
        run_id: int,
        run_site_id: int,
        room_name: str,
        offer_sdp: str,
        expires_at: datetime,
    ) -> Joined:
        route = self.route(bridge)
        if route is None:
            raise GatewayUnavailable("no gateway can take the call now")
        try:
            uri = await bridge.dial_in_uri(ref)
        except BridgeError as err:
            raise GatewayUnavailable(f"the meeting's SIP address is unknown: {err.reason}") from err
        # One connection per site, as on the built-in bridge: a second offer replaces the first.
        replaced = None
        for previous in self._gateways.calls.of_site(run_site_id):
            replaced = previous.participant_id
            await self._gateways.hang_up(previous.call_id, "replaced by a new connection")
        request = CallRequest(
            run_site_id=run_site_id,
            from_uri=f"sip:vcorch-site-{run_site_id}@{route.sip_domain}",
            display_name=room_name,
            target_uri=uri,
            offer_sdp=offer_sdp,
            expires_at=expires_at,
            proxy=route.proxy,
        )

        async def still_wanted(call: GatewayCall) -> bool:
            async with self._sessions() as session:
                run = await session.get(MeetingRun, run_id)
                return run is not None and run.status in LIVE_STATUSES

        try:
            call = await self._gateways.call(
                route.name, request, on_change=self._changed, still_wanted=still_wanted
            )
        except OfferNotUsable as err:
            raise OfferRejected(err.reason) from err
        except GatewayBusy as err:
            raise GatewayUnavailable(f"the gateway is full: {err.reason}") from err
        except CallRejected as err:
            raise GatewayUnavailable(f"the meeting refused the call ({err.reason})") from err
        except CallTimedOut as err:
            raise GatewayUnavailable("the meeting did not answer the call in time") from err
        except GatewayError as err:
            raise GatewayUnavailable(f"the gateway failed: {err.reason}") from err
        assert call.answer_sdp is not None
        self._conferences[call.call_id] = ref
        if call.accepted_at is not None:
            # Accepted before the conference was known here: record the join now.
            await self._record(call, True)
        return Joined(
            session_id=call.call_id,
            participant_id=call.participant_id,
            answer_sdp=call.answer_sdp,
            replaced=replaced,
        )

    async def leave(self, run_site_id: int, session_id: str) -> bool:
        """Hang up the site's call ``session_id``; False when it is not one of ours."""
        call = self._gateways.calls.get(session_id)
        if call is None:
            return False
        if call.request.run_site_id != run_site_id:
            raise NotFound("no such connection (it ended already)")
        await self._gateways.hang_up(session_id, "left")
        return True

    async def _record(self, call: GatewayCall, present: bool) -> None:
        """The call's join or leave, as the gateway saw it, in the hosting conference's
        events: attendance counts the site from the gateway's record (the MCU may list the
        leg under an id of its own)."""
        ref = self._conferences.get(call.call_id)
        if self._emit is None or ref is None:
            return
        if not present:
            self._conferences.pop(call.call_id, None)
        at = (call.accepted_at if present else None) or self._clock()
        kind: Literal["join", "leave"] = "join" if present else "leave"
        event = BridgeEvent(
            kind=kind,
            conference_id=ref.conference_id,
            participant_id=call.participant_id,
            at=at,
            event_id=f"{call.participant_id}:{kind}",
            site_id=str(call.request.run_site_id),
            display_name=call.request.display_name,
            address=call.request.from_uri,
            reason=None if present else (call.end_reason or "hung up")[:200],
        )
        try:
            await self._emit(ref.bridge, [event])
        except Exception:  # the call goes on; attendance may poll the gap
            log.exception("gateway call %s: recording its %s failed", call.call_id, kind)

    async def _changed(self, call: GatewayCall, present: bool) -> None:
        await self._record(call, present)
        async with self._sessions.begin() as session:
            await mark_browser(
                session,
                call.request.run_site_id,
                "gateway",
                present,
                self._clock(),
                participant_id=call.participant_id if present else None,
            )
