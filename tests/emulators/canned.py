"""A server on 127.0.0.1 that answers fixed responses, to test parsing of recorded payloads."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web


@dataclass(frozen=True)
class Canned:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml"
    headers: dict[str, str] = field(default_factory=dict)


class CannedServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Canned] = {}
        self.seen: list[tuple[str, str, bytes]] = []  # (method, path with query, body)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def answer(self, method: str, path: str, canned: Canned) -> None:
        self.routes[(method, path)] = canned

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
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

    async def _handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.path_qs, await request.read()))
        canned = self.routes.get((request.method, request.path))
        if canned is None:
            return web.Response(status=404)
        response = web.Response(status=canned.status, body=canned.body, headers=canned.headers)
        if canned.body:
            response.content_type = canned.content_type
        return response
