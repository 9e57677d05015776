"""Wires meeting runs: the orchestrator (launch, supervision, fallback, fail-over), live view."""

from __future__ import annotations

from datetime import timedelta

from vcorch.config import Settings
from vcorch.mcu_adapter import BridgeHealthCoordinator, BridgeRegistry
from vcorch.orchestration.collaborators import DialMetrics, FallbackLinks, PollSink
from vcorch.orchestration.dial_in import DialInNotices
from vcorch.orchestration.live import LiveService
from vcorch.orchestration.live_feed import FeedPolicy, LiveFeed
from vcorch.orchestration.orchestrator import OrchestrationPolicy, Orchestrator
from vcorch.orchestration.routes import LIVE, LIVE_FEED, ORCHESTRATOR
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
        reconcile_launch=timedelta(seconds=settings.reconcile_launch_seconds),
        reconcile_steady=timedelta(seconds=settings.reconcile_steady_seconds),
        supervision_share=settings.supervision_budget_share,
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
    live = LiveService(runtime.sessions, orchestrator, runtime.clock)
    runtime.provide(LIVE, live)
    settings = runtime.settings
    feed = LiveFeed(
        runtime.sessions,
        live,
        FeedPolicy(
            poll_seconds=settings.live_stream_poll_seconds,
            heartbeat_seconds=settings.live_stream_heartbeat_seconds,
            per_user=settings.live_streams_per_user,
        ),
    )
    feed.listen_to(runtime.engine)
    runtime.provide(LIVE_FEED, feed)
    runtime.on_close(feed.close)
    return orchestrator
