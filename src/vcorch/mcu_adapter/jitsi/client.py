"""A client for the HTTP faces of a Jitsi Meet deployment, speaking only their terms.

- prosody ``mod_muc_size`` (jitsi-meet ``resources/prosody-plugins/mod_muc_size.lua``):
  ``GET /room-size?room=&domain=[&token=]`` → ``{"participants": N}`` (focus not counted),
  ``GET /room?room=&domain=[&token=]`` → ``[{"jid", "email", "display_name"}, …]``;
  404 when the room does not exist (yet), 403 when token verification refuses.
- jitsi-videobridge private REST: ``GET /about/health`` (200 healthy, 500 with a reason
  otherwise), ``GET /colibri/stats`` (JSON object: ``participants``, ``conferences``,
  ``stress_level`` on newer bridges… see jitsi-videobridge ``doc/statistics.md``),
  ``GET /about/version`` (``{"name", "version", "os"}``).

Every request waits in the bridge's request budget (occupant reads are not urgent: they
reconcile); 429/503 are "busy", repeated and ending as ``BridgeBusy`` (see ``retry.py``).

Errors: :class:`JitsiApiError` (status the API documents as a refusal or failure),
:class:`JitsiMalformed` (an answer not of the documented shape); transport failures become
``BridgeUnavailable`` in :func:`~vcorch.mcu_adapter.retry.call_with_retry`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from vcorch.mcu_adapter.budget import RequestBudget
from vcorch.mcu_adapter.retry import RetryPolicy, busy_of, call_with_retry


class JitsiApiError(Exception):
    def __init__(self, status: int, what: str, detail: str = "") -> None:
        super().__init__(f"{what}: HTTP {status}{(' ' + detail) if detail else ''}")
        self.status = status
        self.what = what


class JitsiMalformed(Exception):
    """The answer does not have the documented shape."""


@dataclass(frozen=True)
class JitsiSettings:
    prosody_url: str  # where mod_muc_size listens, e.g. http://prosody:5280
    jvb_url: str  # the videobridge's private REST interface, e.g. http://jvb:8080
    domain: str  # the XMPP domain rooms live under (mod_muc_size "domain")
    bridge: str
    policy: RetryPolicy


@dataclass(frozen=True)
class Occupant:
    jid: str  # the in-room address, room@conference.domain/nick
    email: str
    display_name: str


@dataclass(frozen=True)
class JvbStats:
    participants: int | None
    conferences: int | None
    stress_level: float | None


_TRANSIENT_STATUS = frozenset({502, 504})  # 503 (and 429) are busy: always repeated


def _is_transient(err: BaseException) -> bool:
    return isinstance(err, JitsiApiError) and err.status in _TRANSIENT_STATUS


class JitsiClient:
    def __init__(
        self,
        settings: JitsiSettings,
        http: aiohttp.ClientSession,
        *,
        budget: RequestBudget | None = None,
    ) -> None:
        self._settings = settings
        self._http = http
        self._budget = budget

    async def _get(
        self,
        base: str,
        path: str,
        query: dict[str, str] | None,
        *,
        ok: tuple[int, ...] = (200,),
        urgent: bool = True,
    ) -> tuple[int, bytes]:
        """GET returning (status, body) for statuses in ``ok``; others raise."""
        what = f"GET {path}"

        async def attempt() -> tuple[int, bytes]:
            async with self._http.get(
                base.rstrip("/") + path, params=query, allow_redirects=False
            ) as response:
                body = await response.read()
                busy = busy_of(response.status, response.headers, what)
                if busy is not None:
                    raise busy
                if response.status not in ok:
                    detail = body[:80].decode("utf-8", "replace") if response.status >= 500 else ""
                    raise JitsiApiError(response.status, what, detail)
                return response.status, body

        return await call_with_retry(
            attempt,
            bridge=self._settings.bridge,
            what=what,
            policy=self._settings.policy,
            idempotent=True,
            transient=_is_transient,
            budget=self._budget,
            urgent=urgent,
        )

    def _room_query(self, room: str, token: str | None) -> dict[str, str]:
        query = {"room": room, "domain": self._settings.domain}
        if token:
            query["token"] = token
        return query

    async def room_size(self, room: str, token: str | None = None) -> int | None:
        """Occupants without the focus; ``None`` when the room does not exist."""
        status, body = await self._get(
            self._settings.prosody_url,
            "/room-size",
            self._room_query(room, token),
            ok=(200, 404),
            urgent=False,
        )
        if status == 404:
            return None
        payload = _json(body, "GET /room-size")
        count = payload.get("participants") if isinstance(payload, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise JitsiMalformed("GET /room-size: no participants count")
        return count

    async def room_occupants(self, room: str, token: str | None = None) -> list[Occupant] | None:
        """The occupants (focus excluded); ``None`` when the room does not exist."""
        status, body = await self._get(
            self._settings.prosody_url,
            "/room",
            self._room_query(room, token),
            ok=(200, 404),
            urgent=False,
        )
        if status == 404:
            return None
        payload = _json(body, "GET /room")
        if payload == {}:
            # mod_muc_size answers an empty object, not an empty array, for a room with
            # nobody (but the focus) in it.
            return []
        if not isinstance(payload, list):
            raise JitsiMalformed("GET /room: not a JSON array")
        occupants: list[Occupant] = []
        for item in payload:
            if not isinstance(item, dict) or not isinstance(item.get("jid"), str):
                raise JitsiMalformed("GET /room: an occupant without a jid")
            occupants.append(
                Occupant(
                    jid=item["jid"],
                    email=str(item.get("email") or ""),
                    display_name=str(item.get("display_name") or ""),
                )
            )
        return occupants

    async def jvb_health(self) -> tuple[bool, str]:
        status, body = await self._get(self._settings.jvb_url, "/about/health", None, ok=(200, 500))
        if status == 200:
            return True, ""
        return False, body[:120].decode("utf-8", "replace").strip() or "unhealthy"

    async def jvb_stats(self) -> JvbStats | None:
        """``None`` where the bridge does not serve them: ``/colibri/`` needs
        ``videobridge.apis.rest.enabled``, off by default (jitsi-videobridge doc/rest.md)."""
        status, body = await self._get(
            self._settings.jvb_url, "/colibri/stats", None, ok=(200, 404)
        )
        if status == 404:
            return None
        payload = _json(body, "GET /colibri/stats")
        if not isinstance(payload, dict):
            raise JitsiMalformed("GET /colibri/stats: not a JSON object")
        return JvbStats(
            participants=_optional_int(payload, "participants"),
            conferences=_optional_int(payload, "conferences"),
            stress_level=_optional_float(payload, "stress_level"),
        )

    async def jvb_version(self) -> str | None:
        status, body = await self._get(
            self._settings.jvb_url, "/about/version", None, ok=(200, 404)
        )
        if status == 404:
            return None
        payload = _json(body, "GET /about/version")
        version = payload.get("version") if isinstance(payload, dict) else None
        return str(version) if version is not None else None


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JitsiMalformed(f"{what}: not JSON") from err


def _optional_int(payload: dict[str, Any], key: str) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JitsiMalformed(f"GET /colibri/stats: {key} is not a number")
    return int(value)


def _optional_float(payload: dict[str, Any], key: str) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JitsiMalformed(f"GET /colibri/stats: {key} is not a number")
    return float(value)
