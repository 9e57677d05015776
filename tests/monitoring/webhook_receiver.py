"""A webhook receiver on 127.0.0.1 that checks each call's signature the documented way."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

WEBHOOK_SECRET = "bí-mật-webhook-thử-nghiệm-0123456789"


@dataclass
class Call:
    headers: dict[str, str]
    body: bytes
    signature_valid: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers each call with the next of ``answers`` (204 once they run out)."""

    secret: str
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        # What docs/monitoring.md tells receivers to do: HMAC-SHA256 of the raw body.
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Vcorch-Signature", "")
        self.calls.append(Call(dict(request.headers), body, hmac.compare_digest(expected, given)))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.answers.pop(0) if self.answers else 204)


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    app = web.Application()
    app.router.add_post("/hooks/vcorch", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hooks/vcorch?token=receiver-token-42"
    yield receiver
    await runner.cleanup()
