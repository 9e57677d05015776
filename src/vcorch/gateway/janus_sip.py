"""A client of Janus' HTTP API for its SIP plugin (``janus.plugin.sip``, Janus 1.1).

The flow is Janus' documented REST one: ``create`` a session, ``attach`` the plugin, send
plugin ``message``s (answered ``ack`` at once; their result comes as an ``event`` on the
session's long-poll ``GET /janus/<session>``), ``keepalive`` the session (Janus drops a
session silent for its ``session_timeout``, 60 s by default), ``destroy`` it.  Every request
carries the core's ``apisecret`` when one is configured.

The SIP plugin's events (``plugindata.data``): ``{"sip": "event", "result": {"event":
"registered" | "calling" | "ringing" | "proceeding" | "progress" | "accepted" |
"hangingup" | "hangup", ...}, "call_id": ...}``, ``accepted`` and ``progress`` with the
``jsep`` answer, ``hangup`` with the SIP ``code`` and ``reason``; a refused request is
``{"sip": "event", "error_code": 44x, "error": "..."}`` (448: missing SDP).

Every request has a timeout; the idempotent ones (create, attach, keepalive, destroy,
info) are retried a bounded number of times with backoff, a plugin message never (a second
``call`` would ring twice).  Failures are :class:`GatewayUnavailable` (``from`` the cause).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp

from vcorch.gateway.errors import GatewayUnavailable

SIP_PLUGIN = "janus.plugin.sip"
# Janus answers a long-poll after 30 s with a keepalive when nothing happened.
LONG_POLL_SECONDS = 30.0


@dataclass(frozen=True)
class JanusSipSettings:
    name: str
    api_url: str
    api_secret: str | None
    timeout: float
    retries: int
    retry_base: float = 0.2

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"JanusSipSettings(name={self.name!r}, api_url={self.api_url!r})"


@dataclass(frozen=True)
class JanusEvent:
    """One event of a session's long-poll, as the call needs it."""

    janus: str  # "event", "webrtcup", "hangup", "media", "detached", ...
    sender: int | None
    transaction: str | None
    data: dict[str, Any]  # the plugin's data (empty for core events)
    jsep: dict[str, Any] | None
    raw: dict[str, Any]

    @property
    def sip_event(self) -> str | None:
        result = self.data.get("result")
        if isinstance(result, dict):
            event = result.get("event")
            return str(event) if event is not None else None
        return None

    @property
    def result(self) -> dict[str, Any]:
        result = self.data.get("result")
        return result if isinstance(result, dict) else {}

    @property
    def error(self) -> tuple[int, str] | None:
        if "error_code" in self.data:
            return int(self.data.get("error_code") or 0), str(self.data.get("error", ""))
        return None


def parse_event(raw: dict[str, Any]) -> JanusEvent:
    plugindata = raw.get("plugindata")
    data = plugindata.get("data") if isinstance(plugindata, dict) else None
    jsep = raw.get("jsep")
    sender = raw.get("sender")
    transaction = raw.get("transaction")
    return JanusEvent(
        janus=str(raw.get("janus", "")),
        sender=int(sender) if isinstance(sender, int) else None,
        transaction=str(transaction) if transaction is not None else None,
        data=data if isinstance(data, dict) else {},
        jsep=jsep if isinstance(jsep, dict) else None,
        raw=raw,
    )


class JanusSipClient:
    """Janus' HTTP API, one gateway; the aiohttp session is shared and not owned."""

    def __init__(self, http: aiohttp.ClientSession, settings: JanusSipSettings) -> None:
        self._http = http
        self.settings = settings
        self._base = settings.api_url.rstrip("/")

    @property
    def name(self) -> str:
        return self.settings.name

    def _fail(self, reason: str) -> GatewayUnavailable:
        return GatewayUnavailable(self.name, reason)

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None, seconds: float
    ) -> Any:
        url = f"{self._base}{path}"
        try:
            if method == "GET":
                params = (
                    {"apisecret": self.settings.api_secret} if self.settings.api_secret else None
                )
                params = {**(params or {}), **(body or {})}
                request = self._http.get(
                    url, params=params, timeout=aiohttp.ClientTimeout(total=seconds)
                )
            else:
                payload = dict(body or {})
                payload.setdefault("transaction", secrets.token_hex(8))
                if self.settings.api_secret:
                    payload["apisecret"] = self.settings.api_secret
                request = self._http.post(
                    url, json=payload, timeout=aiohttp.ClientTimeout(total=seconds)
                )
            async with request as response:
                if response.status >= 500:
                    raise self._fail(f"HTTP {response.status} from Janus")
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise self._fail(f"Janus did not answer ({type(err).__name__})") from err
        try:
            answer = json.loads(text)
        except ValueError as err:
            raise self._fail("Janus answered something that is not JSON") from err
        if isinstance(answer, dict) and answer.get("janus") == "error":
            error = answer.get("error") or {}
            raise self._fail(f"Janus error {error.get('code')}: {error.get('reason')}")
        return answer

    async def _retried(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        attempt = 0
        while True:
            try:
                return await self._request(method, path, body, self.settings.timeout)
            except GatewayUnavailable as err:
                # A refusal of the core (bad secret, no such session) will not change.
                if attempt >= self.settings.retries or "Janus error" in err.reason:
                    raise
            await asyncio.sleep(self.settings.retry_base * 2**attempt)
            attempt += 1

    async def info(self) -> dict[str, Any]:
        answer = await self._retried("GET", "/info", None)
        if not isinstance(answer, dict) or answer.get("janus") != "server_info":
            raise self._fail("/info did not answer server_info")
        return answer

    async def create_session(self) -> int:
        answer = await self._retried("POST", "", {"janus": "create"})
        return _id(answer, self._fail)

    async def attach(self, session_id: int) -> int:
        answer = await self._retried(
            "POST", f"/{session_id}", {"janus": "attach", "plugin": SIP_PLUGIN}
        )
        return _id(answer, self._fail)

    async def message(
        self,
        session_id: int,
        handle_id: int,
        body: dict[str, Any],
        *,
        transaction: str,
        jsep: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one plugin message (never retried); its result comes as an event."""
        payload: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            payload["jsep"] = jsep
        answer = await self._request(
            "POST", f"/{session_id}/{handle_id}", payload, self.settings.timeout
        )
        if not isinstance(answer, dict) or answer.get("janus") not in ("ack", "success"):
            raise self._fail("a plugin message was not acknowledged")
        return answer

    async def keepalive(self, session_id: int) -> None:
        await self._retried("POST", f"/{session_id}", {"janus": "keepalive"})

    async def destroy(self, session_id: int) -> None:
        await self._retried("POST", f"/{session_id}", {"janus": "destroy"})

    async def events(self, session_id: int, maxev: int = 5) -> list[JanusEvent]:
        """One long-poll: the session's next events (a keepalive after 30 s of nothing)."""
        answer = await self._request(
            "GET",
            f"/{session_id}",
            {"maxev": str(maxev)},
            LONG_POLL_SECONDS + self.settings.timeout,
        )
        items = answer if isinstance(answer, list) else [answer]
        return [
            parse_event(item)
            for item in items
            if isinstance(item, dict) and item.get("janus") != "keepalive"
        ]


def _id(answer: Any, fail: Any) -> int:
    data = answer.get("data") if isinstance(answer, dict) else None
    value = data.get("id") if isinstance(data, dict) else None
    if not isinstance(value, int):
        raise fail("Janus answered without an id")
    return value
