"""How often the supervisor lists a conference: a pure function of the bridge's request
budget, what one listing costs, and whether the meeting is still being brought up.

Events pushed by the bridges are the main signal of joins and leaves; a listing only
reconciles.  So it runs often while sites are being called (``reconcile_launch``), rarely
once they are settled (``reconcile_steady``), and never so often that listing the
conferences on one bridge takes more than ``supervision_share`` of that bridge's budget:
with ``n`` conferences on a bridge of ``rate`` requests/s, each listing costing ``cost``
requests, the wait is at least ``cost × n / (rate × share)`` seconds, so supervision's
requests per second stay at or below ``rate × share`` whatever the meetings' size.
A bridge without a budget (in process: the simulated MCU, the built-in WebRTC bridge) is
listed at every supervisor step.
"""

from __future__ import annotations

from datetime import timedelta

from vcorch.orchestration.policy import OrchestrationPolicy

__all__ = ["listing_interval", "supervision_rate"]


def supervision_rate(rate: float | None, share: float) -> float | None:
    """Requests per second supervision may send to a bridge (None: no limit)."""
    if rate is None:
        return None
    return rate * min(max(share, 0.01), 1.0)


def listing_interval(
    *,
    rate: float | None,
    cost: int,
    launching: bool,
    policy: OrchestrationPolicy,
    conferences: int = 1,
) -> timedelta:
    """The least wait between two listings of one conference on a bridge.

    ``rate``: the bridge's budget (requests/s, None unlimited); ``cost``: requests one
    listing (and the confirming looks after it) takes; ``conferences``: how many
    conferences the supervisor lists on that bridge."""
    allowed = supervision_rate(rate, policy.supervision_share)
    if allowed is None:
        # No budget (an in-process bridge): a listing costs nothing, look at every step.
        return timedelta(0)
    base = policy.reconcile_launch if launching else policy.reconcile_steady
    floor = timedelta(seconds=max(cost, 1) * max(conferences, 1) / allowed)
    return max(base, floor)
