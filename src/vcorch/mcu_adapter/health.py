"""The bridges' health: one coordinator polls, everyone else reads its snapshot.

:class:`BridgeHealthCoordinator` asks every bridge for its ``health()`` on an interval
(the scheduler leader runs :meth:`~BridgeHealthCoordinator.run_forever`), keeps the last
answers with the time they were taken, and logs a bridge that stops answering (and comes
back) once per change.  The ``/api/bridges`` route, monitoring's gauges, the pre-flight
check and placement read :attr:`~BridgeHealthCoordinator.snapshot`; a reader that needs
it younger than some age calls :meth:`~BridgeHealthCoordinator.fresh`.  One poll runs at
a time: readers arriving while it runs wait for that poll instead of starting their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vcorch.mcu_adapter.base import BridgeHealth
from vcorch.mcu_adapter.registry import BridgeRegistry, BridgeStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthSnapshot:
    """Every bridge's health as of ``taken_at`` (None: never polled)."""

    taken_at: datetime | None = None
    health: Mapping[str, BridgeHealth] = field(default_factory=dict)

    def of(self, name: str) -> BridgeHealth | None:
        return self.health.get(name)

    def older_than(self, age: timedelta, now: datetime) -> bool:
        return self.taken_at is None or now - self.taken_at > age


def transitions(
    before: Mapping[str, BridgeHealth], after: Mapping[str, BridgeHealth]
) -> list[tuple[str, bool]]:
    """(bridge, reachable now) for each bridge whose reachability changed; a bridge seen
    for the first time counts only when it does not answer."""
    changed = []
    for name, now in sorted(after.items()):
        previous = before.get(name)
        if previous is None:
            if not now.reachable:
                changed.append((name, False))
        elif previous.reachable != now.reachable:
            changed.append((name, now.reachable))
    return changed


class BridgeHealthCoordinator:
    def __init__(
        self,
        registry: BridgeRegistry,
        *,
        clock: Callable[[], datetime],
        interval: timedelta = timedelta(seconds=15),
        max_age: timedelta = timedelta(seconds=30),
    ) -> None:
        self._registry = registry
        self._clock = clock
        self.interval = interval
        self.max_age = max_age
        self._snapshot = HealthSnapshot()
        self._polling: asyncio.Task[HealthSnapshot] | None = None
        self.polls = 0

    @property
    def snapshot(self) -> HealthSnapshot:
        return self._snapshot

    def health_of(self, name: str) -> BridgeHealth | None:
        """The bridge's health in the snapshot (None: not looked at yet)."""
        return self._snapshot.of(name)

    def statuses(self) -> list[BridgeStatus]:
        """Every configured bridge with its health in the snapshot, for the API and gauges."""
        return self._registry.statuses(self._snapshot.health)

    async def fresh(self, max_age: timedelta | None = None) -> HealthSnapshot:
        """The snapshot, polled again first when older than ``max_age`` (default: the
        coordinator's ``max_age``)."""
        age = self.max_age if max_age is None else max_age
        if self._snapshot.older_than(age, self._clock()):
            return await self.refresh()
        return self._snapshot

    async def refresh(self) -> HealthSnapshot:
        """Poll every bridge now, or join the poll already running."""
        polling = self._polling
        if polling is None or polling.done():
            polling = asyncio.create_task(self._poll(), name="bridge-health")
            self._polling = polling
        # Shielded: a reader that gives up must not cancel the poll others wait for.
        return await asyncio.shield(polling)

    async def _poll(self) -> HealthSnapshot:
        self.polls += 1
        # Each adapter's health call has its own timeout; a dead bridge cannot hang this.
        health = await self._registry.poll_health()
        for name, reachable in transitions(self._snapshot.health, health):
            if reachable:
                log.info("bridge %s answers again", name)
            else:
                log.warning(
                    "bridge %s is unreachable: %s", name, health[name].detail or "no answer"
                )
        self._snapshot = HealthSnapshot(self._clock(), health)
        return self._snapshot

    async def run_forever(self) -> None:
        """Poll on the interval until cancelled; run by the scheduler leader."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("polling the bridges' health failed")
            await asyncio.sleep(self.interval.total_seconds())
