"""Prometheus metrics of one vcorch process, on a registry of its own.

Each application gets its own :class:`Metrics` (tests create many applications in one
process; the global prometheus-client registry would refuse the second one).  Labels are
bounded by design: no endpoint, meeting or request ids.  Endpoint health is exported as
counts per (province, kind, state), where "province" is the code of the second-level unit
of the endpoint's unit path (the unit right under the root: a province in today's tree;
endpoints of the root unit itself carry the root's code).  About 63 provinces x 4 kinds x
3 states stays well under a thousand series however many endpoints there are.

Who sets what: the monitoring service (leader process) sets the endpoint, probe, sweep
and bridge metrics; the orchestrator sets ``meetings_live``, ``dial_outs`` and
``scheduler_lag_seconds``.  The list with meanings is in docs/monitoring.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from vcorch.mcu_adapter import BridgeStatus
from vcorch.monitoring.loop_lag import LAG_BUCKETS
from vcorch.monitoring.probes.result import ProbeResult

# Probe round trips: LAN room systems answer in a millisecond or two, a WebRTC media
# probe takes seconds; the buckets span both.
PROBE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SWEEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

EndpointCounts = Mapping[tuple[str, str, str], int]


def outcome_of(result: ProbeResult) -> str:
    """ok: healthy; unhealthy: answered but not well (SIP 404, HTTP 500); down: no answer."""
    if result.ok:
        return "ok"
    return "unhealthy" if result.reachable else "down"


class Metrics:
    """Every metric vcorch exports, registered on ``self.registry``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.endpoints = Gauge(
            "vcorch_endpoints",
            "Monitored endpoints by state, per province (second-level unit) and endpoint kind",
            ["province", "kind", "state"],
            registry=registry,
        )
        self.probe_duration_seconds = Histogram(
            "vcorch_probe_duration_seconds",
            "Round-trip time of probes that got an answer, by probe kind",
            ["kind"],
            buckets=PROBE_BUCKETS,
            registry=registry,
        )
        self.probes = Counter(
            "vcorch_probes",
            "Probe results by probe kind and outcome (ok, unhealthy, down)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.health_transitions = Counter(
            "vcorch_endpoint_transitions",
            "Endpoint state changes, by the state entered",
            ["to"],
            registry=registry,
        )
        self.sweep_duration_seconds = Histogram(
            "vcorch_probe_sweep_duration_seconds",
            "Wall time of one probe sweep (probing and storing the results)",
            buckets=SWEEP_BUCKETS,
            registry=registry,
        )
        self.bridge_up = Gauge(
            "vcorch_bridge_up",
            "1 when the bridge answered its last health check, 0 otherwise",
            ["bridge"],
            registry=registry,
        )
        self.bridge_ports_in_use = Gauge(
            "vcorch_bridge_ports_in_use",
            "Ports (call legs) in use on the bridge, as it reports them",
            ["bridge"],
            registry=registry,
        )
        self.bridge_ports_total = Gauge(
            "vcorch_bridge_ports_total",
            "Ports the bridge offers (reported, or as configured)",
            ["bridge"],
            registry=registry,
        )
        self.meetings_live = Gauge(
            "vcorch_meetings_live", "Meetings running on bridges now", registry=registry
        )
        self.dial_outs = Counter(
            "vcorch_dial_outs",
            "Dial-outs to sites, by result (connected, failed, fallback...)",
            ["result"],
            registry=registry,
        )
        self.scheduler_lag_seconds = Gauge(
            "vcorch_scheduler_lag_seconds",
            "How late the scheduler ran its last due job",
            registry=registry,
        )
        self.event_loop_lag_seconds = Gauge(
            "vcorch_event_loop_lag_seconds",
            "How late this process's event loop woke a task due now (last measurement)",
            registry=registry,
        )
        self.event_loop_lag = Histogram(
            "vcorch_event_loop_lag_seconds_observed",
            "How late this process's event loop woke a task due now, every 0.25 s",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.alert_webhooks = Counter(
            "vcorch_alert_webhooks",
            "Alert webhook delivery attempts by result (sent, retry, failed)",
            ["result"],
            registry=registry,
        )
        # Set by the statistics refresh (leader process), labelled by the current target
        # period ("2026") so that the other processes export nothing rather than a 0.
        self.online_share = Gauge(
            "vcorch_online_share",
            "Share of the period's held meetings held online (basis: verified or declared)",
            ["period", "basis"],
            registry=registry,
        )
        self.online_share_target = Gauge(
            "vcorch_online_share_target",
            "The programme's target online share for the period",
            ["period"],
            registry=registry,
        )

    def observe_probe(self, kind: str, result: ProbeResult) -> None:
        self.probes.labels(kind, outcome_of(result)).inc()
        if result.latency_ms is not None:
            self.probe_duration_seconds.labels(kind).observe(result.latency_ms / 1000.0)

    def set_endpoint_counts(self, counts: EndpointCounts) -> None:
        """Replace every endpoint count: a province or kind that is gone disappears."""
        self.endpoints.clear()
        for (province, kind, state), count in counts.items():
            self.endpoints.labels(province, kind, state).set(count)

    def set_bridges(self, rows: Iterable[BridgeStatus]) -> None:
        """Replace the bridge gauges with a registry snapshot (configured bridges only)."""
        self.bridge_up.clear()
        self.bridge_ports_in_use.clear()
        self.bridge_ports_total.clear()
        for row in rows:
            self.bridge_up.labels(row.name).set(1 if row.healthy else 0)
            if row.ports_in_use is not None:
                self.bridge_ports_in_use.labels(row.name).set(row.ports_in_use)
            if row.ports_total is not None:
                self.bridge_ports_total.labels(row.name).set(row.ports_total)

    def set_online_share(
        self, period: str, share: float, share_declared: float, target: float
    ) -> None:
        """Replace the online-share gauges with the current period's figures."""
        self.online_share.clear()
        self.online_share_target.clear()
        self.online_share.labels(period, "verified").set(share)
        self.online_share.labels(period, "declared").set(share_declared)
        self.online_share_target.labels(period).set(target)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class RunMetrics:
    """The orchestrator's and scheduler's figures, written into the Prometheus metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def dial_result(self, result: str) -> None:
        self._metrics.dial_outs.labels(result=result).inc()

    def meetings_live(self, count: int) -> None:
        self._metrics.meetings_live.set(count)

    def scheduler_lag(self, seconds: float) -> None:
        self._metrics.scheduler_lag_seconds.set(seconds)
