"""Receives what a bridge pushes (CDRs, event-handler POSTs) and hands it to the adapter.

It does what the web layer's hook route does with a bridge: authenticate the request with
``authenticate_hook``, turn it into events with ``parse_events`` (401 / 400 otherwise), so
that tests see the events a real deployment would record.
"""

from __future__ import annotations

from aiohttp import web

from vcorch.mcu_adapter.base import Bridge, BridgeEvent, BridgeProtocolError, InboundRequest


class HookReceiver:
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.events: list[BridgeEvent] = []
        self.refused = 0  # requests that failed authentication
        self.rejected = 0  # requests whose body the adapter could not read
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._receive)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        inbound = InboundRequest(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            query=dict(request.query),
            body=await request.read(),
        )
        if not self.bridge.authenticate_hook(inbound):
            self.refused += 1
            return web.Response(status=401)
        try:
            events = self.bridge.parse_events(inbound)
        except BridgeProtocolError:
            self.rejected += 1
            return web.Response(status=400)
        self.events.extend(events)
        return web.Response(status=204)
