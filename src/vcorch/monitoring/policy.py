"""How monitoring runs: each probe kind's interval, timeout and hysteresis, the hot
interval, concurrency, loop periods; read from the settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from vcorch.config import ProbeConfig, Settings
from vcorch.monitoring.alerts import AlertPolicy
from vcorch.monitoring.hysteresis import HysteresisPolicy

PROBE_KINDS = ("sip", "h323", "http", "webrtc")
# A media probe signals, gathers ICE and sends audio for seconds: 2 s is far too short.
DEFAULT_TIMEOUTS = {"webrtc": 10.0}


@dataclass(frozen=True, slots=True)
class KindPolicy:
    """How one probe kind runs: default interval, timeout, hysteresis."""

    interval: timedelta = timedelta(seconds=60)
    timeout: float = 2.0
    hysteresis: HysteresisPolicy = field(default_factory=HysteresisPolicy)


def kind_policies(configs: Sequence[ProbeConfig]) -> dict[str, KindPolicy]:
    """One policy per probe kind: the ``[[probes]]`` entry of that kind, else defaults."""
    policies = {kind: KindPolicy(timeout=DEFAULT_TIMEOUTS.get(kind, 2.0)) for kind in PROBE_KINDS}
    for config in configs:
        policies[config.kind] = KindPolicy(
            interval=timedelta(seconds=config.interval_seconds),
            timeout=config.timeout_seconds,
            hysteresis=HysteresisPolicy(config.down_after, config.up_after),
        )
    return policies


@dataclass(frozen=True, slots=True)
class MonitoringPolicy:
    kinds: Mapping[str, KindPolicy] = field(default_factory=lambda: kind_policies([]))
    hot_interval: timedelta = timedelta(seconds=10)
    hot_lead: timedelta = timedelta(hours=1)
    concurrency: int = 256
    # WebRTC media probes are real aiortc peers (a fraction of a core each): few at once.
    media_concurrency: int = 2
    # How long the endpoint list and the hot set are reused before being read again.
    targets_max_age: timedelta = timedelta(seconds=10)
    tick_seconds: float = 1.0
    housekeeping_seconds: float = 15.0
    bridge_health_seconds: float = 30.0
    max_parallel_sweeps: int = 4
    alerts: AlertPolicy | None = field(default_factory=AlertPolicy)
    seed: int = 0

    def kind(self, name: str) -> KindPolicy:
        return self.kinds.get(name) or KindPolicy()


def monitoring_policy(settings: Settings) -> MonitoringPolicy:
    return MonitoringPolicy(
        kinds=kind_policies(settings.probes),
        hot_interval=timedelta(seconds=settings.monitoring_hot_interval_seconds),
        hot_lead=timedelta(minutes=settings.monitoring_hot_lead_minutes),
        concurrency=settings.monitoring_concurrency,
        alerts=AlertPolicy(
            horizon=timedelta(hours=settings.monitoring_alert_horizon_hours),
            public_url=settings.public_url,
            default_zone=settings.timezone,
            webhook=bool(settings.monitoring_webhook_url and settings.monitoring_webhook_secret),
        ),
    )
