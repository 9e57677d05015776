"""A reverse proxy in front of Janus that can hang or answer garbage on demand.

Between the adapter and a real Janus, it forwards every request unchanged (``pass``), or
accepts requests and never answers (``hang``), or answers each with a malformed body
(``garbage``, in one of several flavours), or lets a ``mangle`` function rewrite Janus'
real JSON answer.  An upstream that is down gives 502, as a front proxy such as nginx
would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Literal

import aiohttp
from aiohttp import web

Mode = Literal["pass", "hang", "garbage", "mangle"]

# Each flavour is something a broken or impostor far side might send with HTTP 200.
GARBAGE: dict[str, tuple[bytes, str]] = {
    "html": (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
    "truncated": (b'{"janus": "success", "transaction": ', "application/json"),
    "array": (b"[1, 2, 3]", "application/json"),
    "binary": (b"\x00\xff\xfe\x80", "application/octet-stream"),
}


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode: Mode = "pass"
        self.flavour = "html"
        self.mangle: Callable[[dict[str, Any]], Any] | None = None
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._healed = asyncio.Event()

    async def start(self) -> str:
        self._http = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.2)
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
        self._healed.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    def set(self, mode: Mode, flavour: str = "html") -> None:
        self.mode = mode
        self.flavour = flavour
        if mode == "pass":
            self._healed.set()
        else:
            self._healed.clear()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "hang":
            await self._healed.wait()
            return web.Response(status=503)
        if self.mode == "garbage":
            body, content_type = GARBAGE[self.flavour]
            return web.Response(body=body, content_type=content_type)
        assert self._http is not None
        try:
            async with self._http.request(
                request.method,
                f"{self.upstream}{request.rel_url}",
                data=await request.read(),
                headers={"Content-Type": request.headers.get("Content-Type", "application/json")},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as answer:
                raw = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError):
            return web.Response(status=502, text="upstream down")
        if self.mode == "mangle" and self.mangle is not None:
            raw = json.dumps(self.mangle(json.loads(raw))).encode()
        return web.Response(body=raw, status=status, content_type="application/json")
