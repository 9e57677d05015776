"""Wires the browser side of the fallback: signed join links, the join page, WHIP."""

from __future__ import annotations

from datetime import datetime, timedelta

from vcorch.config import Settings
from vcorch.gateway import Gateways
from vcorch.join.gateway_route import GatewayJoins
from vcorch.join.ice import IcePolicy
from vcorch.join.links import JoinLinks, derive_secret, join_url
from vcorch.join.routes import JOIN, JOIN_LINKS
from vcorch.join.service import JoinService
from vcorch.mcu_adapter import BridgeRegistry, EmitEvents
from vcorch.runtime import Runtime

__all__ = ["FallbackLinkMaker", "ice_policy", "setup"]


class FallbackLinkMaker:
    """Browser links for fallen-back sites: signed tokens under the public URL."""

    def __init__(self, links: JoinLinks, public_url: str, gateways: Gateways | None = None) -> None:
        self._links = links
        self._public_url = public_url
        self._gateways = gateways

    def gateway_serves(self, bridge: str) -> bool:
        """Whether a gateway is configured for the bridge (the orchestrator's fallback then
        keeps the site in its hosting conference; the join page checks health on opening)."""
        return self._gateways is not None and self._gateways.configured_for(bridge)

    def url_for(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str:
        return join_url(self._public_url, self._links.issue(run_site_id, meeting_id, expires_at))


def ice_policy(settings: Settings) -> IcePolicy:
    return IcePolicy(
        stun_urls=tuple(settings.webrtc_stun_urls),
        turn_urls=tuple(settings.webrtc_turn_urls),
        turn_secret=(
            settings.webrtc_turn_secret.get_secret_value() if settings.webrtc_turn_secret else None
        ),
        turn_ttl=timedelta(seconds=settings.webrtc_turn_ttl_seconds),
    )


def setup(
    runtime: Runtime,
    *,
    registry: BridgeRegistry,
    gateways: Gateways | None = None,
    emit: EmitEvents | None = None,
) -> FallbackLinkMaker:
    links = JoinLinks(derive_secret(runtime.signing_key), runtime.clock)
    runtime.provide(JOIN_LINKS, links)
    gateway_joins = (
        GatewayJoins(runtime.sessions, gateways, runtime.clock, emit)
        if gateways is not None
        else None
    )
    service = JoinService(
        runtime.sessions,
        registry,
        links,
        ice_policy(runtime.settings),
        runtime.clock,
        gateways=gateway_joins,
    )
    runtime.provide(JOIN, service)
    return FallbackLinkMaker(links, runtime.settings.public_url, gateways)
