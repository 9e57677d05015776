"""Wires the WebRTC-to-SIP gateways: one Janus SIP client each, their health poll, the calls."""

from __future__ import annotations

from vcorch.gateway.health import GatewayHealth
from vcorch.gateway.janus_sip import JanusSipClient, JanusSipSettings
from vcorch.gateway.routes import GATEWAYS
from vcorch.gateway.service import Gateways
from vcorch.runtime import Runtime

__all__ = ["setup"]


def setup(runtime: Runtime) -> Gateways:
    configs = [config for config in runtime.settings.gateways if config.enabled]
    clients = [
        JanusSipClient(
            runtime.http,
            JanusSipSettings(
                name=config.name,
                api_url=config.api_url,
                api_secret=config.read_secret(),
                timeout=config.timeout_seconds,
                retries=config.retries,
            ),
        )
        for config in configs
    ]
    health = GatewayHealth(clients, runtime.clock)
    gateways = Gateways(configs, clients, health, runtime.clock)
    runtime.provide(GATEWAYS, gateways)
    if configs:
        interval = min(config.health_interval_seconds for config in configs)

        async def poll() -> None:
            await health.run(interval)

        # Every process places its own calls, so every process knows the gateways' health.
        runtime.process_work["gateway-health"] = poll
    runtime.on_close(gateways.close)
    return gateways
