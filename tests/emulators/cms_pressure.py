"""The CMS emulator under pressure (attribute names prefixed so they never clash with
knobs the emulator itself may grow), as a real server at national scale behaves: every
request takes ``latency`` seconds, a request budget is enforced (above ``budget`` requests
a second it answers 503, optionally with ``Retry-After``), and a leg can be made to leave
between two pages of a listing (the offset-paging race).

A subclass in its own file, so the emulator itself (tests/emulators/cisco_cms.py) stays
the protocol's shape; this only adds the pressure.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.emulators.cisco_cms import CmsEmulator


class PressuredCms(CmsEmulator):
    def __init__(
        self,
        *,
        latency: float = 0.0,
        budget: float | None = None,
        burst: float | None = None,
        retry_after: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.pressure_latency = latency
        self.pressure_budget = budget
        self.pressure_burst = burst if burst is not None else (budget or 1.0)
        self.pressure_retry_after = retry_after
        self._pressure_tokens = self.pressure_burst
        self._pressure_updated = time.monotonic()
        self.answered = 0
        self.refused_busy = 0  # requests answered 503 because the budget was exceeded
        # Every ``busy_every``-th request is answered 503 whatever the budget (0: none).
        self.busy_every = 0
        # A leg id to end when the next listing asks for a page after the first.
        self.leave_between_pages: str | None = None
        self.races = 0

    def _over_budget(self) -> bool:
        if self.pressure_budget is None:
            return False
        now = time.monotonic()
        self._pressure_tokens = min(
            self.pressure_burst,
            self._pressure_tokens + (now - self._pressure_updated) * self.pressure_budget,
        )
        self._pressure_updated = now
        if self._pressure_tokens >= 1:
            self._pressure_tokens -= 1
            return False
        return True

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.pressure_latency:
            await asyncio.sleep(self.pressure_latency)
        self.answered += 1
        busy = self.busy_every and self.answered % self.busy_every == 0
        if busy or self._over_budget():
            self.refused_busy += 1
            wait = self.pressure_retry_after
            headers = {"Retry-After": f"{wait:g}"} if wait else {}
            return web.Response(status=503, headers=headers)
        if (
            self.leave_between_pages is not None
            and request.method == "GET"
            and request.path.endswith("/callLegs")
            and int(request.query.get("offset", "0")) > 0
        ):
            found = self._find_leg(self.leave_between_pages)
            self.leave_between_pages = None
            if found is not None:
                self.races += 1
                self._end_leg(found[0], found[1], "remoteTeardown")
        return await super()._middleware(request, handler)


class BatchingCms(CmsEmulator):
    """A CMS that, like a loaded Call Bridge, sends the CDR records that queued up while
    its receiver was answering in one ``<records>`` batch (at most ``batch`` records)."""

    def __init__(self, *, batch: int = 200, **options: Any) -> None:
        super().__init__(**options)
        self.batch = batch
        self.batches_sent = 0

    async def _push_cdrs(self) -> None:
        while True:
            bodies = [await self._cdr_queue.get()]
            while len(bodies) < self.batch and not self._cdr_queue.empty():
                bodies.append(self._cdr_queue.get_nowait())
            body = _merge(bodies)
            for url in list(self.cdr_receivers.values()):
                delay = 0.05
                while not await self._deliver(url, body):
                    self.cdr_redeliveries += 1
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.5)
            self.batches_sent += 1
            for _ in bodies:
                self._cdr_queue.task_done()


def _merge(bodies: list[bytes]) -> bytes:
    """One ``<records>`` holding every ``<record>`` of the batches, in order."""
    if len(bodies) == 1:
        return bodies[0]
    roots = [ET.fromstring(body) for body in bodies]  # noqa: S314 -- our own XML
    merged = ET.Element("records", dict(roots[0].attrib))
    for root in roots:
        merged.extend(list(root))
    return b'<?xml version="1.0"?>\n' + ET.tostring(merged, encoding="utf-8")
