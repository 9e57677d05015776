"""A per-bridge request budget: no more requests per second to one far side than it takes.

A real MCU's management API is shared with its own work: Cisco's API reference asks
clients to pace themselves and answers 503 when they do not.  Every request an adapter
sends waits here first.  Requests that act (create, dial, drop) go before those that only
reconcile (listings), so a launch is never slowed by supervision, and supervision of any
size of meeting stays within the budget because it waits like everyone else.

A bridge that answered "busy" with ``Retry-After`` holds the whole budget (``hold``): no
request goes out before that time.  The budget is a token bucket: ``rate`` tokens a second,
at most ``burst`` saved up.  Time and sleeping are parameters so tests need no waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vcorch.config import BridgeConfig

__all__ = ["RequestBudget"]


class RequestBudget:
    """``rate`` requests a second (``None``: unlimited), with up to ``burst`` at once."""

    def __init__(
        self,
        rate: float | None,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("a request budget must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else (max(1.0, rate) if rate else 1.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()
        self._hold_until = 0.0
        self._lock = asyncio.Lock()
        self._urgent_waiting = 0
        self._urgent_done = asyncio.Event()
        self._urgent_done.set()
        self.spent = 0  # requests let through since the start, for metrics and benchmarks

    @classmethod
    def from_config(cls, config: BridgeConfig, default: float | None) -> RequestBudget:
        """``options.request_budget_per_second`` (``0``: unlimited), else the kind's default."""
        configured = config.options.get("request_budget_per_second")
        if configured is None:
            return cls(default)
        rate = float(configured)
        return cls(rate if rate > 0 else None)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the far side's ``Retry-After``)."""
        self._hold_until = max(self._hold_until, self._clock() + max(0.0, seconds))

    def held_for(self) -> float:
        """Seconds the far side's ``Retry-After`` still holds every request (0: none)."""
        return max(0.0, self._hold_until - self._clock())

    def can_spend(self, cost: int, *, within: float = 0.0) -> bool:
        """Whether ``cost`` requests could go out within ``within`` seconds (nothing held
        longer, the tokens there by then, no urgent request waiting): for optional extra
        reads such as re-reading a listing that shifted."""
        if self.held_for() > within or self._urgent_waiting:
            return False
        if self.rate is None:
            return True
        now = self._clock()
        tokens = min(self.burst, self._tokens + (now - self._updated + within) * self.rate)
        return tokens >= min(float(cost), self.burst)

    async def acquire(self, cost: int = 1, *, urgent: bool = True) -> None:
        """Wait until ``cost`` requests may go out. ``urgent=False`` (reconciling reads)
        waits while any urgent request is waiting."""
        if urgent:
            self._urgent_waiting += 1
            self._urgent_done.clear()
        else:
            await self._urgent_done.wait()
        try:
            async with self._lock:
                await self._wait_for(cost)
                self.spent += cost
        finally:
            if urgent:
                self._urgent_waiting -= 1
                if self._urgent_waiting == 0:
                    self._urgent_done.set()

    async def _wait_for(self, cost: int) -> None:
        while True:
            now = self._clock()
            if now < self._hold_until:
                await self._sleep(self._hold_until - now)
                continue
            if self.rate is None:
                return
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            # A cost larger than the burst runs into debt instead of waiting for ever.
            needed = min(float(cost), self.burst)
            if self._tokens >= needed:
                self._tokens -= cost
                return
            await self._sleep((needed - self._tokens) / self.rate)
