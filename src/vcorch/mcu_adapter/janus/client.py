"""A protocol client for Janus' HTTP API and Admin API, errors translated to the bridge tree.

Shapes follow Janus 1.1 (janus-gateway ``src/janus.c``, ``src/apierror.h``, the plugins'
``handle_admin_message``): every request carries a ``transaction`` that the answer echoes;
core failures come back as ``{"janus": "error", "error": {"code", "reason"}}``; an Admin API
``message_plugin`` request gets ``{"janus": "success", "response": {...}}`` where a plugin
failure is ``response.error_code`` / ``response.error``.  Janus answers HTTP 200 for both.

Every request waits in the bridge's request budget (``urgent=False`` for supervision's
listings); 429/503 (from a proxy in front of Janus) are "busy", repeated and ending as
``BridgeBusy`` (see ``retry.py``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection
from typing import Any

import aiohttp

from vcorch.mcu_adapter.base import BridgeProtocolError, BridgeUnavailable, ConferenceNotFound
from vcorch.mcu_adapter.budget import RequestBudget
from vcorch.mcu_adapter.retry import RetryPolicy, busy_of, call_with_retry

AUDIOBRIDGE = "janus.plugin.audiobridge"
VIDEOROOM = "janus.plugin.videoroom"

# Plugin error codes (janus_audiobridge.c / janus_videoroom.c, JANUS_*_ERROR_*).
AUDIOBRIDGE_NO_SUCH_ROOM = 485
AUDIOBRIDGE_ROOM_EXISTS = 486
AUDIOBRIDGE_NO_SUCH_USER = 492
VIDEOROOM_NO_SUCH_ROOM = 426
VIDEOROOM_ROOM_EXISTS = 427
VIDEOROOM_NO_SUCH_FEED = 428
NOT_FOUND_CODES = frozenset(
    {
        AUDIOBRIDGE_NO_SUCH_ROOM,
        AUDIOBRIDGE_NO_SUCH_USER,
        VIDEOROOM_NO_SUCH_ROOM,
        VIDEOROOM_NO_SUCH_FEED,
    }
)
# A plugin configured with ``admin_key`` refuses a ``create`` without it ("Missing mandatory
# element (admin_key)": AudioBridge 483, VideoRoom 429) or with another one ("Unauthorized
# (wrong admin_key)": 489, 433); the codes are generic, the reason names the key.
ADMIN_KEY_MISSING = frozenset({483, 429})
ADMIN_KEY_WRONG = frozenset({489, 433})
# Core error codes (apierror.h) that say the secret or the plugin set is wrong here.
CORE_UNAUTHORIZED = frozenset({403, 405})
CORE_PLUGIN_NOT_FOUND = 460

MAX_BODY_BYTES = 4 * 1024 * 1024


class PluginError(Exception):
    """A plugin refused a request; carried inside :func:`translate` only."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def new_transaction() -> str:
    return secrets.token_urlsafe(9)


class JanusClient:
    """One Janus instance: its HTTP API base (``/janus``) and its Admin API base (``/admin``).

    The :class:`aiohttp.ClientSession` belongs to the caller.  ``admin_secret`` travels in
    request bodies only and never appears in an error message.
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        bridge: str,
        api_url: str,
        admin_url: str,
        admin_secret: str | None,
        policy: RetryPolicy,
        transactions: Callable[[], str] = new_transaction,
        budget: RequestBudget | None = None,
    ) -> None:
        self.http = http
        self.bridge = bridge
        self.api_url = api_url.rstrip("/")
        self.admin_url = admin_url.rstrip("/")
        self.admin_secret = admin_secret
        self.policy = policy
        self._transactions = transactions
        self.budget = budget

    # -- transport ----------------------------------------------------------------------

    async def _read_json(self, response: aiohttp.ClientResponse, what: str) -> dict[str, Any]:
        busy = busy_of(response.status, response.headers, what)
        if busy is not None:
            raise busy
        if response.status >= 500:
            raise BridgeUnavailable(self.bridge, f"{what}: HTTP {response.status}")
        raw = await response.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise BridgeProtocolError(self.bridge, f"{what}: answer larger than {MAX_BODY_BYTES}")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BridgeProtocolError(
                self.bridge, f"{what}: HTTP {response.status}, answer is not JSON"
            ) from err
        if not isinstance(body, dict):
            raise BridgeProtocolError(self.bridge, f"{what}: answer is not a JSON object")
        return body

    def _check_core(self, body: dict[str, Any], transaction: str, what: str) -> dict[str, Any]:
        kind = body.get("janus")
        if body.get("transaction") != transaction:
            raise BridgeProtocolError(self.bridge, f"{what}: answer for another transaction")
        if kind == "error":
            error = body.get("error")
            if not isinstance(error, dict) or not isinstance(error.get("code"), int):
                raise BridgeProtocolError(self.bridge, f"{what}: malformed error answer")
            code = int(error["code"])
            reason = str(error.get("reason", ""))[:200]
            if code in CORE_UNAUTHORIZED:
                raise BridgeUnavailable(
                    self.bridge, f"{what}: refused ({code}), check admin_secret"
                )
            if code == CORE_PLUGIN_NOT_FOUND:
                raise BridgeUnavailable(self.bridge, f"{what}: plugin not loaded ({reason})")
            raise BridgeUnavailable(self.bridge, f"{what}: Janus error {code}: {reason}")
        if not isinstance(kind, str):
            raise BridgeProtocolError(self.bridge, f"{what}: answer without 'janus'")
        return body

    async def _exchange(
        self,
        method: str,
        url: str,
        what: str,
        payload: dict[str, Any] | None,
        idempotent: bool,
        urgent: bool = True,
    ) -> dict[str, Any]:
        async def attempt() -> dict[str, Any]:
            transaction = self._transactions()
            body = None if payload is None else {**payload, "transaction": transaction}
            async with self.http.request(method, url, json=body) as response:
                answer = await self._read_json(response, what)
            if payload is None:
                # A GET carries no transaction; Janus makes one up for its answer.
                answer["transaction"] = transaction
            return self._check_core(answer, transaction, what)

        return await call_with_retry(
            attempt,
            bridge=self.bridge,
            what=what,
            policy=self.policy,
            idempotent=idempotent,
            budget=self.budget,
            urgent=urgent,
        )

    async def _admin(
        self, request: dict[str, Any], *, what: str, idempotent: bool, urgent: bool = True
    ) -> dict[str, Any]:
        payload = dict(request)
        if self.admin_secret is not None:
            payload["admin_secret"] = self.admin_secret
        return await self._exchange("POST", self.admin_url, what, payload, idempotent, urgent)

    # -- core requests ------------------------------------------------------------------

    async def server_info(self) -> dict[str, Any]:
        """``GET /janus/info`` on the public HTTP API (no secret needed)."""
        body = await self._exchange("GET", f"{self.api_url}/info", "GET /info", None, True)
        if body.get("janus") != "server_info":
            raise BridgeProtocolError(self.bridge, "GET /info: not a server_info answer")
        return body

    async def admin_info(self) -> dict[str, Any]:
        body = await self._admin({"janus": "info"}, what="admin info", idempotent=True)
        if body.get("janus") != "server_info":
            raise BridgeProtocolError(self.bridge, "admin info: not a server_info answer")
        return body

    async def ping(self) -> None:
        body = await self._admin({"janus": "ping"}, what="admin ping", idempotent=True)
        if body.get("janus") != "pong":
            raise BridgeProtocolError(self.bridge, "admin ping: not a pong")

    async def list_sessions(self) -> list[int]:
        body = await self._admin({"janus": "list_sessions"}, what="list_sessions", idempotent=True)
        sessions = body.get("sessions")
        if not isinstance(sessions, list) or not all(isinstance(s, int) for s in sessions):
            raise BridgeProtocolError(self.bridge, "list_sessions: 'sessions' is not a list of ids")
        return [int(s) for s in sessions]

    # -- plugin requests ----------------------------------------------------------------

    async def message_plugin(
        self,
        plugin: str,
        request: dict[str, Any],
        *,
        idempotent: bool,
        tolerate: Collection[int] = (),
        urgent: bool = True,
    ) -> dict[str, Any]:
        """The plugin's ``response``; an error code in ``tolerate`` is returned, not raised.
        ``urgent=False`` for reads that only reconcile (listings)."""
        name = str(request.get("request", "?"))
        what = f"{plugin.rsplit('.', 1)[-1]} {name}"
        body = await self._admin(
            {"janus": "message_plugin", "plugin": plugin, "request": request},
            what=what,
            idempotent=idempotent,
            urgent=urgent,
        )
        response = body.get("response")
        if body.get("janus") != "success" or not isinstance(response, dict):
            raise BridgeProtocolError(self.bridge, f"{what}: answer without a plugin response")
        code = response.get("error_code")
        if code is None:
            return response
        if not isinstance(code, int):
            raise BridgeProtocolError(self.bridge, f"{what}: error_code is not a number")
        if code in tolerate:
            return response
        raise translate(self.bridge, what, PluginError(code, str(response.get("error", ""))[:200]))


def translate(bridge: str, what: str, err: PluginError) -> Exception:
    """The bridge error for a plugin refusal (``raise translate(...) from err``)."""
    if err.code in NOT_FOUND_CODES:
        exc: Exception = ConferenceNotFound(bridge, f"{what}: {err.reason}")
    elif err.code in ADMIN_KEY_MISSING and "admin_key" in err.reason:
        exc = BridgeUnavailable(
            bridge,
            f"{what}: Janus only creates rooms with the plugin's admin_key "
            "(set options.admin_key_env or admin_key_file)",
        )
    elif err.code in ADMIN_KEY_WRONG and "admin_key" in err.reason:
        exc = BridgeUnavailable(
            bridge,
            f"{what}: Janus refused the admin_key (check options.admin_key_env or "
            "admin_key_file against the plugin's general.admin_key)",
        )
    else:
        exc = BridgeUnavailable(bridge, f"{what}: plugin error {err.code}: {err.reason}")
    exc.__cause__ = err
    return exc
