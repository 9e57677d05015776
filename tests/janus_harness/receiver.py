"""The HTTP endpoint Janus' sample event handler posts to during a test.

It runs an aiohttp server on 127.0.0.1 in a thread of its own, so that it listens for the
whole life of the Janus process (a module-scoped fixture) while each test runs in its own
event loop: Janus drops an event after a few failed deliveries, and a receiver that came
and went with each test would lose the events posted between tests.  Every request is kept
as the :class:`InboundRequest` the adapter's ``parse_events`` takes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from aiohttp import web

from tests.janus_harness.server import free_port
from vcorch.mcu_adapter.base import InboundRequest

HOOK_PATH = "/api/hooks/janus-test"


class EventReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self._requests: list[InboundRequest] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="janus-event-receiver", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the event receiver did not start")

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._serve())
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shutdown())
        loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post(HOOK_PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        captured = InboundRequest(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            query=dict(request.query),
            body=body,
        )
        with self._lock:
            self._requests.append(captured)
        return web.Response(status=200)

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=10)

    def requests(self) -> list[InboundRequest]:
        with self._lock:
            return list(self._requests)

    async def wait_for(
        self,
        predicate: Callable[[list[InboundRequest]], bool],
        wait: float = 10.0,
    ) -> list[InboundRequest]:
        """Every request received so far, once ``predicate`` holds for them."""
        deadline = time.monotonic() + wait
        while True:
            received = self.requests()
            if predicate(received):
                return received
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {wait} s; got {len(received)}")
            await asyncio.sleep(0.02)
