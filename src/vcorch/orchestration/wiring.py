"""Wires meeting runs: the orchestrator (launch, supervision, fallback, fail-over), live view."""

from __future__ import annotations

from datetime import timedelta

from vcorch.config import Settings
from vcorch.mcu_adapter import BridgeHealthCoordinator, BridgeRegistry
from vcorch.orchestration.collaborators import DialMetrics, FallbackLinks, PollSink
from vcorch.orchestration.dial_in import DialInNotices
from vcorch.orchestration.live import LiveService
from vcorch.orchestration.orchestrator import OrchestrationPolicy, Orchestrator
from vcorch.orchestration.routes import LIVE, ORCHESTRATOR
from vcorch.runtime import Runtime

__all__ = ["orchestration_policy", "setup"]


def orchestration_policy(settings: Settings) -> OrchestrationPolicy:
    return OrchestrationPolicy(
        dial_attempts=settings.dial_attempts,
        retry_base=timedelta(seconds=settings.dial_retry_base_seconds),
        retry_max=timedelta(seconds=settings.dial_retry_max_seconds),
        ring_timeout=timedelta(seconds=settings.ring_timeout_seconds),
        failover_after=settings.failover_after,
        dial_concurrency=settings.dial_concurrency,
    )


def setup(
    runtime: Runtime,
    *,
    registry: BridgeRegistry,
    bridge_health: BridgeHealthCoordinator,
    links: FallbackLinks,
    metrics: DialMetrics,
    on_poll: PollSink,
    dial_in_notices: DialInNotices | None = None,
) -> Orchestrator:
    orchestrator = Orchestrator(
        runtime.sessions,
        registry,
        runtime.clock,
        orchestration_policy(runtime.settings),
        links=links,
        metrics=metrics,
        on_poll=on_poll,
        health=bridge_health,
        dial_in_notices=dial_in_notices,
    )
    runtime.provide(ORCHESTRATOR, orchestrator)
    runtime.provide(LIVE, LiveService(runtime.sessions, orchestrator, runtime.clock))
    return orchestrator
