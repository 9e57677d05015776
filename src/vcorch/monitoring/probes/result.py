"""What one probe of one endpoint found."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# One shared, read-only empty mapping: most results carry no metrics, and a sweep makes
# ten thousand of them.
NO_METRICS: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one probe.

    ``ok`` means healthy (a SIP 200, an HTTP status below the healthy limit, media that
    flowed); ``reachable`` means something answered at all (a SIP 404 is reachable but not
    healthy).  ``detail`` is one short line for the operator; ``status_code`` is the
    protocol's own code when there was one.  ``metrics`` carries numbers a probe measured
    beyond latency (media round-trip, jitter, loss, retransmissions).
    """

    ok: bool
    reachable: bool
    latency_ms: float | None
    detail: str
    status_code: int | None = None
    # Excluded from hashing because a dict is not hashable; equality still compares it.
    metrics: Mapping[str, float] = field(default_factory=lambda: NO_METRICS, hash=False)

    def __post_init__(self) -> None:
        if self.ok and not self.reachable:
            raise ValueError("a healthy result must be reachable")


def healthy(
    latency_ms: float | None,
    detail: str,
    status_code: int | None = None,
    metrics: Mapping[str, float] | None = None,
) -> ProbeResult:
    """Something answered, and the answer says all is well."""
    return ProbeResult(
        True, True, latency_ms, detail, status_code, NO_METRICS if metrics is None else metrics
    )


def unhealthy(
    latency_ms: float | None,
    detail: str,
    status_code: int | None = None,
    metrics: Mapping[str, float] | None = None,
) -> ProbeResult:
    """Something answered, but the answer is not a healthy one (a SIP 404, an HTTP 500)."""
    return ProbeResult(
        False, True, latency_ms, detail, status_code, NO_METRICS if metrics is None else metrics
    )


def down(detail: str, metrics: Mapping[str, float] | None = None) -> ProbeResult:
    """Nothing usable answered: timeout, refused, unresolvable, unreachable."""
    return ProbeResult(False, False, None, detail, None, NO_METRICS if metrics is None else metrics)
