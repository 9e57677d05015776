"""Wires endpoint health: probes for every process ("probe now"), the leader's sweeps, alerts."""

from __future__ import annotations

from vcorch.mcu_adapter import BridgeHealthCoordinator
from vcorch.monitoring.alerts import WebhookPolicy, WebhookWorker
from vcorch.monitoring.loop_lag import LoopLag
from vcorch.monitoring.meetings import HotEndpointSource
from vcorch.monitoring.metrics import Metrics
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
) -> MonitoringService:
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
    )
    runtime.provide(MONITORING, monitoring)
    lag = LoopLag(metrics.event_loop_lag_seconds, metrics.event_loop_lag)
    runtime.process_work["event-loop-lag"] = lag.run
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
