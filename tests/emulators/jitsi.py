"""A Jitsi Meet emulator: the HTTP faces vcorch talks to, and browsers that join with tokens.

Two servers on 127.0.0.1, as in a deployment:
- "prosody" with ``mod_muc_size`` (jitsi-meet ``resources/prosody-plugins/mod_muc_size.lua``):
  ``GET /room-size`` → ``{"participants": N}`` (the hidden focus not counted), ``GET /room`` →
  ``[{"jid", "email", "display_name"}]`` (focus excluded), 400 without a query, 404 for a
  room that does not exist, 403 when ``verify_tokens`` and the ``token`` parameter is
  missing or not for this room (``enable_roomsize_token_verification``);
- "jvb", the videobridge's private REST: ``/about/health`` (200, or 500 with a reason),
  ``/about/version``, and ``/colibri/stats`` (jitsi-videobridge ``doc/statistics.md`` keys)
  only with ``colibri_rest=True``: ``/colibri/`` is served only where
  ``videobridge.apis.rest.enabled`` is set, off by default (``doc/rest.md``), so a default
  videobridge answers 404 there.
An empty room (only the hidden focus in it) is listed by ``GET /room`` as ``{}``, not ``[]``.
``event_sync`` (jitsi-contrib/prosody-plugins ``event_sync``) is emulated by POSTing JSON
to ``{api_prefix}/events/room/created|destroyed`` and ``/events/occupant/joined|left`` with
the configured ``api_headers``; times are Unix seconds as ``os.time()`` gives them.
A simulated browser (:meth:`JitsiEmulator.join`) opens a ``…/<room>?jwt=<token>`` link; the
token is checked as prosody's token auth does (HS256 with the app secret, ``aud`` and
``iss`` = app id, ``sub`` = domain or ``*``, ``room`` = room or ``*``, ``exp``), and the
user context becomes the occupant's presence (name → nick, email → ``<email>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import jwt
from aiohttp import web

Mode = Literal["ok", "hang", "garbage", "busy"]


class JoinRefused(Exception):
    """Prosody would refuse this token."""


@dataclass
class EmuOccupant:
    nick_jid: str  # room@conference.domain/abcd1234, what /room lists as "jid"
    real_jid: str  # user@domain/resource, what event_sync reports as occupant_jid
    display_name: str
    email: str
    user_id: str | None
    joined_at: int


@dataclass
class EmuRoom:
    name: str
    created_at: int
    occupants: dict[str, EmuOccupant] = field(default_factory=dict)  # by real jid


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


class JitsiEmulator:
    def __init__(
        self,
        *,
        domain: str = "meet.example.vn",
        app_id: str = "vcorch-app",
        app_secret: str = "app-secret-for-tests-0123456789abcdef",  # noqa: S107 -- test data
        verify_tokens: bool = True,
        colibri_rest: bool = False,
    ) -> None:
        self.domain = domain
        self.app_id = app_id
        self.app_secret = app_secret
        self.verify_tokens = verify_tokens
        self.colibri_rest = colibri_rest
        self.mode: Mode = "ok"
        self.jvb_unhealthy: str | None = None
        self.rooms: dict[str, EmuRoom] = {}
        self.api_prefix: str | None = None  # event_sync target
        self.api_headers: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._runners: dict[str, web.AppRunner] = {}
        self._ports: dict[str, int] = {"prosody": 0, "jvb": 0}
        self._released = asyncio.Event()

    # -- life cycle -----------------------------------------------------------------------

    @property
    def prosody_url(self) -> str:
        return f"http://127.0.0.1:{self._ports['prosody']}"

    @property
    def jvb_url(self) -> str:
        return f"http://127.0.0.1:{self._ports['jvb']}"

    @property
    def muc_domain(self) -> str:
        return f"conference.{self.domain}"

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        self._sender = asyncio.get_running_loop().create_task(self._send_events())
        await self.come_up()

    async def come_up(self) -> None:
        prosody = web.Application(middlewares=[self._middleware])
        prosody.router.add_get("/room-size", self._room_size)
        prosody.router.add_get("/room", self._room)
        prosody.router.add_get("/sessions", self._sessions)
        jvb = web.Application(middlewares=[self._middleware])
        jvb.router.add_get("/about/health", self._health)
        jvb.router.add_get("/about/version", self._version)
        jvb.router.add_get("/colibri/stats", self._stats)
        for name, app in (("prosody", prosody), ("jvb", jvb)):
            if name in self._runners:
                continue
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", self._ports[name], reuse_address=True)
            await site.start()
            server = site._server
            assert server is not None
            sockets = getattr(server, "sockets", None)
            assert sockets
            self._ports[name] = sockets[0].getsockname()[1]
            self._runners[name] = runner

    async def go_down(self) -> None:
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()

    async def stop(self) -> None:
        self._released.set()
        await self.go_down()
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        if self._http is not None:
            await self._http.close()

    # -- faults -----------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        if self.mode == "hang":
            await self._released.wait()
            return web.Response(status=503)
        if self.mode == "garbage":
            return web.Response(status=200, text="<html>502 Bad Gateway</html>")
        if self.mode == "busy":
            return web.Response(status=503)
        return await handler(request)

    # -- prosody mod_muc_size ---------------------------------------------------------------

    def _room_from_query(self, request: web.Request) -> tuple[int, EmuRoom | None]:
        if not request.query_string:
            return 400, None
        name = request.query.get("room", "")
        if request.query.get("domain") != self.domain:
            return 404, None  # the address room@conference.<domain> names no room here
        if self.verify_tokens and not self._token_allows(request.query.get("token"), name):
            return 403, None
        room = self.rooms.get(name)
        return (200, room) if room is not None else (404, None)

    def _token_allows(self, token: str | None, room: str) -> bool:
        if not token:
            return False
        try:
            claims = self.check_token(token)
        except JoinRefused:
            return False
        return claims.get("room") in (room, "*")

    async def _room_size(self, request: web.Request) -> web.Response:
        status, room = self._room_from_query(request)
        if room is None:
            return web.Response(status=status)
        return web.Response(text=json.dumps({"participants": len(room.occupants)}))

    async def _room(self, request: web.Request) -> web.Response:
        status, room = self._room_from_query(request)
        if room is None:
            return web.Response(status=status)
        listing = [
            {
                "jid": occupant.nick_jid,
                "email": occupant.email,
                "display_name": occupant.display_name,
            }
            for occupant in room.occupants.values()
        ]
        # Lua's cjson encodes an empty table as an object.
        return web.Response(text=json.dumps(listing or {}))

    async def _sessions(self, request: web.Request) -> web.Response:
        return web.Response(text=str(sum(len(room.occupants) for room in self.rooms.values())))

    # -- videobridge --------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        if self.jvb_unhealthy:
            return web.Response(status=500, text=self.jvb_unhealthy)
        return web.Response(status=200)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "JVB", "version": "2.3.170-gb0ddc9e1", "os": "Linux"})

    async def _stats(self, request: web.Request) -> web.Response:
        if not self.colibri_rest:
            return web.Response(status=404)
        participants = sum(len(room.occupants) for room in self.rooms.values())
        return web.json_response(
            {
                "current_timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.000"),
                "conferences": len(self.rooms),
                "participants": participants,
                "largest_conference": max(
                    (len(room.occupants) for room in self.rooms.values()), default=0
                ),
                "stress_level": round(participants * 0.01, 4),
                "threads": 117,
            }
        )

    # -- browsers -----------------------------------------------------------------------------

    def check_token(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.app_secret,
                algorithms=["HS256"],
                audience=self.app_id,
                issuer=self.app_id,
                options={"require": ["exp", "room", "aud", "iss", "sub"]},
            )
        except jwt.PyJWTError as err:
            raise JoinRefused(str(err)) from err
        if claims.get("sub") not in (self.domain, "*"):
            raise JoinRefused("token sub is not this domain")
        return claims

    async def join(self, link: str) -> EmuOccupant:
        """A browser opens a join link; raises JoinRefused where prosody would refuse."""
        parts = urlsplit(link)
        room_name = unquote(parts.path.rsplit("/", 1)[-1]).lower()
        token = parse_qs(parts.query).get("jwt", [""])[0]
        claims = self.check_token(token)
        if claims.get("room") not in (room_name, "*"):
            raise JoinRefused("token is for another room")
        user = claims.get("context", {}).get("user", {})
        room = self.rooms.get(room_name)
        if room is None:
            room = EmuRoom(room_name, _now())
            self.rooms[room_name] = room
            self._event(
                "room/created",
                {
                    "event_name": "muc-room-created",
                    "room_name": room_name,
                    "room_jid": f"{room_name}@{self.muc_domain}",
                    "is_breakout": False,
                    "created_at": room.created_at,
                },
            )
        occupant = EmuOccupant(
            nick_jid=f"{room_name}@{self.muc_domain}/{secrets.token_hex(4)}",
            real_jid=f"{uuid.uuid4()}@{self.domain}/{secrets.token_hex(4)}",
            display_name=str(user.get("name", "")),
            email=str(user.get("email", "")),
            user_id=user.get("id"),
            joined_at=_now(),
        )
        room.occupants[occupant.real_jid] = occupant
        self._event(
            "occupant/joined",
            {
                "event_name": "muc-occupant-joined",
                "room_name": room_name,
                "room_jid": f"{room_name}@{self.muc_domain}",
                "is_breakout": False,
                "active_occupants_count": len(room.occupants),
                "occupant": self._occupant_payload(occupant),
            },
        )
        return occupant

    def open_room(self, room_name: str) -> EmuRoom:
        """The room as jicofo holds it before anyone is in: it exists, /room lists ``{}``."""
        room = self.rooms.setdefault(room_name, EmuRoom(room_name, _now()))
        return room

    def leave(self, room_name: str, occupant: EmuOccupant) -> None:
        room = self.rooms.get(room_name)
        if room is None or room.occupants.pop(occupant.real_jid, None) is None:
            return
        payload = self._occupant_payload(occupant)
        payload["left_at"] = _now()
        room_jid = f"{room_name}@{self.muc_domain}"
        self._event(
            "occupant/left",
            {
                "event_name": "muc-occupant-left",
                "room_name": room_name,
                "room_jid": room_jid,
                "is_breakout": False,
                "active_occupants_count": len(room.occupants),
                "occupant": payload,
            },
        )
        if not room.occupants:
            del self.rooms[room_name]
            self._event(
                "room/destroyed",
                {
                    "event_name": "muc-room-destroyed",
                    "room_name": room_name,
                    "room_jid": room_jid,
                    "is_breakout": False,
                    "created_at": room.created_at,
                    "destroyed_at": _now(),
                    "all_occupants": [payload],
                },
            )

    def _occupant_payload(self, occupant: EmuOccupant) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "occupant_jid": occupant.real_jid,
            "joined_at": occupant.joined_at,
        }
        # event_sync adds these only when the user context carries them (JWT auth).
        if occupant.display_name:
            payload["name"] = occupant.display_name
        if occupant.email:
            payload["email"] = occupant.email
        if occupant.user_id:
            payload["id"] = occupant.user_id
        return payload

    # -- event_sync ---------------------------------------------------------------------------

    def _event(self, path: str, payload: dict[str, Any]) -> None:
        if self.api_prefix:
            self._queue.put_nowait(
                (f"{self.api_prefix}/events/{path}", json.dumps(payload).encode())
            )

    async def _send_events(self) -> None:
        while True:
            url, body = await self._queue.get()
            assert self._http is not None
            headers = {"Content-Type": "application/json", **self.api_headers}
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self._http.post(url, data=body, headers=headers) as response:
                    await response.read()
            self._queue.task_done()

    async def drain_events(self, within: float = 2.0) -> None:
        async with asyncio.timeout(within):
            await self._queue.join()
