"""Wires endpoint health: probes for every process ("probe now"), the leader's sweeps, alerts,
and the simulated MCU's question whether a site answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from vcorch.config import BridgeConfig
from vcorch.mcu_adapter import BridgeHealthCoordinator, DialTarget
from vcorch.monitoring.alerts import WebhookPolicy, WebhookWorker
from vcorch.monitoring.loop_lag import LoopLag
from vcorch.monitoring.meetings import HotEndpointSource
from vcorch.monitoring.metrics import Metrics
from vcorch.monitoring.probes.simulated import SimulatedNetwork
from vcorch.monitoring.probes.sip_mux import SipUdpProber
from vcorch.monitoring.routes import MONITORING
from vcorch.monitoring.service import MonitoringService, default_probes, monitoring_policy
from vcorch.runtime import Runtime

__all__ = ["setup"]


def setup(
    runtime: Runtime,
    *,
    bridge_health: BridgeHealthCoordinator,
    meetings: HotEndpointSource,
    metrics: Metrics,
    bridges: Sequence[BridgeConfig] = (),
    answer_endpoints: Callable[[Callable[[DialTarget], Awaitable[bool]]], None] | None = None,
) -> MonitoringService:
    """``bridges`` are the configured ones (a simulated one makes the simulated network's
    endpoints answer as it does); ``answer_endpoints`` is handed the service's
    :meth:`~MonitoringService.endpoint_answers` for the simulated MCU to ask."""
    settings = runtime.settings
    sip_udp = SipUdpProber()
    runtime.on_close(sip_udp.close)
    monitoring = MonitoringService(
        runtime.sessions,
        policy=monitoring_policy(settings),
        probes=default_probes(
            runtime.http, sip_udp, verify_tls=settings.monitoring_http_verify_tls
        ),
        sip_udp=sip_udp,
        bridge_health=bridge_health,
        meetings=meetings,
        metrics=metrics,
        clock=runtime.clock,
        network=SimulatedNetwork.of(bridges),
    )
    runtime.provide(MONITORING, monitoring)
    lag = LoopLag(metrics.event_loop_lag_seconds, metrics.event_loop_lag)
    runtime.process_work["event-loop-lag"] = lag.run
    if answer_endpoints is not None:
        answer_endpoints(monitoring.endpoint_answers)
    if settings.monitoring_enabled:
        runtime.leader_work.append(monitoring.run_forever)
    if settings.monitoring_webhook_url and settings.monitoring_webhook_secret:
        webhooks = WebhookWorker(
            runtime.sessions,
            runtime.http,
            settings.monitoring_webhook_url,
            settings.monitoring_webhook_secret,
            runtime.clock,
            policy=WebhookPolicy(
                timeout_seconds=settings.monitoring_webhook_timeout_seconds,
                max_attempts=settings.monitoring_webhook_max_attempts,
            ),
            metrics=metrics,
        )
        runtime.leader_work.append(webhooks.run_forever)
    return monitoring
