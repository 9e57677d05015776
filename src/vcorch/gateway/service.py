"""The gateways of this installation: which one serves a bridge, and placing calls on it.

The join service asks :meth:`Gateways.serving` for a healthy gateway of the hosting bridge
(``bridges = [...]`` in its configuration, empty: every bridge) and :meth:`Gateways.call`
to bring one browser in; it never lets the browser choose the SIP URI (vcorch gives it:
the conference's ``dial_in_uri``), so a join link cannot be used to call anywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from vcorch.config import GatewayConfig
from vcorch.gateway.calls import CallRequest, Change, GatewayCall, GatewayCalls, StillWanted
from vcorch.gateway.health import GatewayHealth, GatewayStatus
from vcorch.gateway.janus_sip import JanusSipClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayRoute:
    """The gateway chosen for one bridge, and what its calls need of its configuration."""

    name: str
    sip_domain: str
    proxy: str | None


class Gateways:
    def __init__(
        self,
        configs: Sequence[GatewayConfig],
        clients: Sequence[JanusSipClient],
        health: GatewayHealth,
        clock: Callable[[], datetime],
    ) -> None:
        self._configs = {config.name: config for config in configs}
        self._clients = {client.name: client for client in clients}
        self.health = health
        self.calls = GatewayCalls()
        self._clock = clock

    def configured_for(self, bridge: str) -> bool:
        """Whether some enabled gateway serves the bridge, healthy or not."""
        return any(config.serves(bridge) for config in self._configs.values())

    def serving(self, bridge: str) -> GatewayRoute | None:
        """A healthy gateway of the bridge with a free call, the least loaded first."""
        candidates = [
            config
            for config in self._configs.values()
            if config.serves(bridge)
            and self.health.healthy(config.name)
            and self.calls.count(config.name) < config.max_calls
        ]
        if not candidates:
            return None
        best = min(candidates, key=lambda c: (self.calls.count(c.name) / c.max_calls, c.name))
        return GatewayRoute(best.name, best.sip_domain, best.proxy)

    def statuses(self) -> list[tuple[GatewayStatus, GatewayConfig, int]]:
        return [
            (status, self._configs[status.name], self.calls.count(status.name))
            for status in self.health.statuses()
        ]

    async def call(
        self,
        gateway: str,
        request: CallRequest,
        *,
        on_change: Change | None,
        still_wanted: StillWanted | None,
    ) -> GatewayCall:
        config = self._configs[gateway]
        calls = self.calls

        async def changed(call: GatewayCall, present: bool) -> None:
            if not present:
                calls.release(call)
            if on_change is not None:
                await on_change(call, present)

        call = GatewayCall(
            client=self._clients[gateway],
            request=request,
            answer_timeout=config.answer_timeout_seconds,
            clock=self._clock,
            on_change=changed,
            still_wanted=still_wanted,
        )
        calls.reserve(call, config.max_calls)
        try:
            await call.start()
        except BaseException:
            calls.release(call)
            raise
        log.info(
            "gateway %s: run site %s called %s (call %s)",
            gateway,
            request.run_site_id,
            request.target_uri,
            call.call_id,
        )
        return call

    async def hang_up(self, call_id: str, reason: str) -> bool:
        call = self.calls.get(call_id)
        if call is None:
            return False
        await call.hang_up(reason)
        self.calls.release(call)
        return True

    async def close(self) -> None:
        for call in self.calls:
            await call.hang_up("vcorch is stopping")
