"""How hard the orchestrator tries: dial attempts, retry waits, ring and fail-over limits."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

ACTIVE_RUN = ("launching", "live")
# Sites the supervisor no longer calls by itself.
SETTLED = ("fallback", "failed", "disconnected")


@dataclass(frozen=True)
class OrchestrationPolicy:
    dial_attempts: int = 3
    """Calls to a site (first one included) before it falls back."""
    retry_base: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(seconds=60)
    ring_timeout: timedelta = timedelta(seconds=60)
    """How long a placed call may ring before it counts as failed."""
    failover_after: int = 3
    """Consecutive failed looks at the hosting bridge before the meeting moves."""
    dial_concurrency: int = 8
    """Calls placed at once per bridge, unless its ``options.dial_concurrency`` says less."""
    builtin_bridge: str = "webrtc"
    """The in-process WebRTC bridge that takes fallen-back sites (when it is configured)."""
    reconcile_launch: timedelta = timedelta(seconds=1)
    """Least wait between two listings of a conference while sites are still being called."""
    reconcile_steady: timedelta = timedelta(seconds=20)
    """Least wait between two listings once every site is settled (events carry the rest)."""
    supervision_share: float = 0.5
    """The share of a bridge's request budget supervision (listings, confirming looks) may
    use; the rest is left to calls, drops and other work."""
    confirm_looks: int = 10
    """Direct looks per conference and step that confirm a site missing from a listing;
    more missing sites wait for the next listing."""
    progress_window: float = 0.1
    """Seconds the site changes that landed are gathered before they are written (one
    short transaction per window)."""

    def retry_delay(self, attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
        """Wait before the next call after ``attempts`` failed ones: capped doubling, half
        of it random so that many sites failing together are not called back together."""
        cap: timedelta = min(self.retry_max, self.retry_base * (2 ** max(attempts - 1, 0)))
        return cap / 2 + cap * (rand() / 2)
