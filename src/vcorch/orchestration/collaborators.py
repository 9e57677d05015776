"""What the orchestrator is given from outside: browser links, metrics, a poll sink and
the bridges' health, each as the small protocol it needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from vcorch.mcu_adapter import BridgeHealth, Participant


class FallbackLinks(Protocol):
    """Makes the browser link a fallen-back site's operators open (the WebRTC fallback)."""

    def url_for(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str: ...


PollSink = Callable[[int, str, str, Sequence[Participant], datetime], Awaitable[None]]
"""Gets every participant list the supervisor polled: (run id, bridge, conference id,
participants, when) — attendance fills gaps from it."""


class DialMetrics(Protocol):
    def dial_result(self, result: str) -> None: ...

    def meetings_live(self, count: int) -> None: ...


class HealthView(Protocol):
    def of(self, name: str) -> BridgeHealth | None: ...


class HealthReader(Protocol):
    """The bridges' last known health (None: not looked at yet), and a health check made
    now (``fresh`` with a ``max_age`` of 0): the only thing that counts toward fail-over."""

    def health_of(self, name: str) -> BridgeHealth | None: ...

    async def fresh(self, max_age: timedelta | None = None) -> HealthView: ...
