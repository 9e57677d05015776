"""How often a conference is listed: fast while sites are called, slow once settled, and
never more than the supervision share of the bridge's request budget."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vcorch.orchestration.cadence import listing_interval, supervision_rate
from vcorch.orchestration.policy import OrchestrationPolicy

POLICY = OrchestrationPolicy(
    reconcile_launch=timedelta(seconds=1),
    reconcile_steady=timedelta(seconds=20),
    supervision_share=0.5,
)


@pytest.mark.parametrize(
    ("rate", "cost", "launching", "conferences", "seconds"),
    [
        # No budget (in process): every step.
        (None, 1, True, 1, 0.0),
        (None, 770, False, 3, 0.0),
        # Cheap listings: the launch and steady floors.
        (20.0, 1, True, 1, 1.0),
        (20.0, 1, False, 1, 20.0),
        # A 700-leg call on CMS, page size 10: 70 pages; half of 20 req/s is 10 req/s.
        (20.0, 70, True, 1, 7.0),
        (20.0, 70, False, 1, 20.0),
        # Per leg detail (770 requests) could never be polled every 2 s: 77 s apart.
        (20.0, 770, True, 1, 77.0),
        (20.0, 770, False, 1, 77.0),
        # Two conferences on the same bridge share the budget.
        (20.0, 70, True, 2, 14.0),
        # A generous budget: the floors again.
        (1000.0, 70, True, 1, 1.0),
    ],
)
def test_listing_interval(
    rate: float | None, cost: int, launching: bool, conferences: int, seconds: float
) -> None:
    interval = listing_interval(
        rate=rate, cost=cost, launching=launching, policy=POLICY, conferences=conferences
    )
    assert interval == timedelta(seconds=seconds)


@pytest.mark.parametrize("size", [1, 10, 100, 700, 5000])
@pytest.mark.parametrize("launching", [True, False])
def test_whatever_the_size_supervision_stays_within_the_budget(size: int, launching: bool) -> None:
    rate = 8.0
    cost = -(-size // 10)  # pages of 10
    interval = listing_interval(rate=rate, cost=cost, launching=launching, policy=POLICY)
    used = cost / interval.total_seconds()
    assert used <= rate * POLICY.supervision_share + 1e-9


def test_the_share_is_bounded() -> None:
    assert supervision_rate(None, 0.5) is None
    assert supervision_rate(10.0, 0.5) == 5.0
    assert supervision_rate(10.0, 3.0) == 10.0
