"""A Pexip Infinity emulator: the parts of the management API and the event sink vcorch uses.

Written from Pexip's public references (docs.pexip.com; resource field lists as the public
schema pages ``/api/admin/schema/`` render them):
- "Using the management API": HTTP basic auth (401 without it), JSON in and out, lists as
  Tastypie pages ``{"meta": {"limit", "next", "offset", "previous", "total_count"},
  "objects": [...]}`` with ``limit``/``offset`` and field filters; the server caps the page
  (``page_size``) whatever ``limit`` asks, and ``meta.next`` is the next page's path;
- "Management configuration API": ``configuration/v1/conference/`` (Virtual Meeting Room:
  ``name`` unique, ``aliases`` ``[{"alias"}]`` unique, ``pin``/``guest_pin`` 4-20 digits,
  ``allow_guests``), POST answers ``201`` with ``Location``, DELETE ``204``;
  ``configuration/v1/event_sink/`` (``name``, ``url``, ``username``, ``password``,
  ``version``, ``bulk_support``);
- "Management status API": ``status/v1/participant/`` (filter ``conference``),
  ``status/v1/participant/<id>/``, ``status/v1/conference/`` (filter ``name``),
  ``status/v1/licensing/``;
- "Management command API": ``participant/dial|disconnect|mute|unmute``,
  ``conference/disconnect|lock|unlock|mute_guests|unmute_guests|transform_layout``; answers
  ``{"status": "success", "data": ...}`` (dial: ``participant_id``, ``participant_ids``).
  For a participant or conference that is not there the emulator answers ``404`` with
  ``{"status": "failure", "message": ...}`` (the reference says "no longer exists"; the status
  code is this emulator's choice);
- "Event sink API": each event is POSTed as ``{"node", "seq", "version", "time", "event",
  "data"}``, in order, one by one (with ``bulk_support`` several at once as
  ``eventsink_bulk``); a dial-out is ``participant_connected`` while ``connecting``, then
  ``participant_updated`` once in the conference with media, then ``participant_disconnected``
  (with ``disconnect_reason``, ``duration``, ``end_time``).  The field set of a participant
  message follows a payload captured from a real node (``call_direction``, ``call_id``,
  ``conference``, ``connect_time``, ``destination_alias``, ``display_name``, ``has_media``,
  ``is_muted``, ``protocol``, ``role``, ``service_type``, ``source_alias``, ``uuid`` ...).
  Disconnect reasons are passed through by vcorch unread; the emulator's wording is its own.

Bad days: ``mode`` (``ok``, ``hang``, ``garbage``, ``busy``), ``busy_every`` (every Nth
request answered 503), ``busy_next`` (the next N requests answered 503), ``retry_after``
(seconds sent in ``Retry-After`` with each 503), ``latency`` (every answer that much later),
``page_size``, ``before_page`` (a hook run before each listing page, for races),
:meth:`go_down` / :meth:`come_up`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

Mode = Literal["ok", "hang", "garbage", "busy"]
ADMIN = "/api/admin"
NODE = "10.44.131.22"


@dataclass
class EmuVmr:
    vmr_id: int
    name: str
    aliases: list[str]
    pin: str
    guest_pin: str
    allow_guests: bool
    description: str
    tag: str


@dataclass
class EmuParticipant:
    participant_id: str
    conference: str
    display_name: str
    destination_alias: str
    source_alias: str
    call_direction: str
    protocol: str
    role: str
    service_type: str = "connecting"
    has_media: bool = False
    is_muted: bool = False
    connect_time: float | None = None
    timer: asyncio.Task[None] | None = None


@dataclass
class EmuConference:
    conference_id: str
    name: str
    tag: str
    start_time: float
    is_locked: bool = False
    guests_muted: bool = False
    layout: str = "1:7"
    participants: dict[str, EmuParticipant] = field(default_factory=dict)


@dataclass
class EmuSink:
    name: str
    url: str
    username: str
    password: str
    version: int
    bulk_support: bool
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def _json(
    payload: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(payload), content_type="application/json", headers=headers
    )


def _failure(status: int, message: str) -> web.Response:
    return _json({"status": "failure", "message": message}, status)


def _success(data: object = None) -> web.Response:
    return _json({"status": "success", "data": data} if data is not None else {"status": "success"})


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None).isoformat()


def _pin_ok(pin: str) -> bool:
    return pin == "" or (pin.removesuffix("#").isdigit() and 4 <= len(pin) <= 20)


class PexipEmulator:
    """Start with :meth:`start`; steer with ``mode``, ``answering``, ``busy_every``..."""

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "pexip-admin-pass",  # noqa: S107 -- an emulator's test credential
        page_size: int = 20,
        ring_delay: float = 0.05,
        ring_timeout: float = 0.4,
        port_total: int = 1000,
        system_locations: tuple[str, ...] = ("Hà Nội",),
    ) -> None:
        self.username = username
        self.password = password
        self.page_size = page_size
        self.ring_delay = ring_delay
        self.ring_timeout = ring_timeout
        self.port_total = port_total
        self.system_locations = system_locations
        self.mode: Mode = "ok"
        self.latency = 0.0
        self.busy_every = 0  # every Nth request answered 503 (0: never)
        self.busy_next = 0  # the next N requests answered 503
        self.retry_after: float | None = None
        self.before_page: Callable[[str, int], None] | None = None
        self.answer_unknown = True
        self.answering: dict[str, bool] = {}
        self.vmrs: dict[int, EmuVmr] = {}
        self.conferences: dict[str, EmuConference] = {}  # by VMR name
        self.sinks: dict[int, EmuSink] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) seen
        self.busy_answers = 0
        self.last_dial: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []  # every event message made, for assertions
        self._sender: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._http: aiohttp.ClientSession | None = None
        self._released = asyncio.Event()

    # -- life cycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> str:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        self._sender = asyncio.get_running_loop().create_task(self._push())
        await self._listen()
        return self.url

    async def _listen(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        config = f"{ADMIN}/configuration/v1"
        status = f"{ADMIN}/status/v1"
        command = f"{ADMIN}/command/v1"
        routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            ("GET", f"{config}/conference/", self._list_vmrs),
            ("POST", f"{config}/conference/", self._create_vmr),
            ("GET", f"{config}/conference/{{id}}/", self._get_vmr),
            ("DELETE", f"{config}/conference/{{id}}/", self._delete_vmr),
            ("GET", f"{config}/event_sink/", self._list_sinks),
            ("POST", f"{config}/event_sink/", self._create_sink),
            ("GET", f"{status}/participant/", self._list_participants),
            ("GET", f"{status}/participant/{{id}}/", self._get_participant),
            ("GET", f"{status}/conference/", self._list_conferences),
            ("GET", f"{status}/licensing/", self._licensing),
            ("POST", f"{command}/participant/dial/", self._dial),
            ("POST", f"{command}/participant/{{command}}/", self._participant_command),
            ("POST", f"{command}/conference/{{command}}/", self._conference_command),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, reuse_address=True)
        await site.start()
        if not self._port:
            server = site._server
            assert server is not None
            sockets = getattr(server, "sockets", None)
            assert sockets
            self._port = sockets[0].getsockname()[1]

    async def go_down(self) -> None:
        """Stop answering: connections are refused until :meth:`come_up`."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def come_up(self) -> None:
        if self._runner is None:
            await self._listen()

    async def stop(self) -> None:
        self._released.set()
        await self.go_down()
        for conference in self.conferences.values():
            for participant in conference.participants.values():
                if participant.timer is not None:
                    participant.timer.cancel()
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        if self._http is not None:
            await self._http.close()

    # -- middleware: auth and bad days ----------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if not self._authorised(request.headers.get("Authorization")):
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="api"'})
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.mode == "hang":
            await self._released.wait()  # the client's own timeout ends its wait
            return web.Response(status=503)
        if self.mode == "garbage":
            return web.Response(status=200, text="<html>Bad Gateway", content_type="text/html")
        busy_now = (
            self.mode == "busy"
            or self.busy_next > 0
            or (self.busy_every > 0 and len(self.requests) % self.busy_every == 0)
        )
        if self.busy_next > 0:
            self.busy_next -= 1
        if busy_now:
            self.busy_answers += 1
            headers = (
                {"Retry-After": f"{self.retry_after:g}"} if self.retry_after is not None else None
            )
            return web.Response(status=503, headers=headers)
        if request.method == "POST" and request.content_type != "application/json":
            return _json({"error": "Content-Type must be application/json"}, 400)
        return await handler(request)

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.username and password == self.password

    # -- paging ---------------------------------------------------------------------------

    def _page(self, request: web.Request, objects: list[dict[str, Any]]) -> web.Response:
        try:
            offset = max(0, int(request.query.get("offset", "0")))
            limit = int(request.query.get("limit", str(self.page_size)))
        except ValueError:
            return _json({"error": "limit and offset are numbers"}, 400)
        limit = self.page_size if limit <= 0 else min(limit, self.page_size)
        total = len(objects)
        following = None
        if offset + limit < total:
            query = {**request.query, "limit": str(limit), "offset": str(offset + limit)}
            following = f"{request.path}?{urlencode(query)}"
        previous = None
        if offset > 0:
            query = {**request.query, "limit": str(limit), "offset": str(max(0, offset - limit))}
            previous = f"{request.path}?{urlencode(query)}"
        meta = {
            "limit": limit,
            "next": following,
            "offset": offset,
            "previous": previous,
            "total_count": total,
        }
        return _json({"meta": meta, "objects": objects[offset : offset + limit]})

    def _run_before_page(self, request: web.Request) -> None:
        if self.before_page is not None:
            self.before_page(request.path, int(request.query.get("offset", "0") or 0))

    # -- configuration: VMRs --------------------------------------------------------------

    def _vmr_json(self, vmr: EmuVmr) -> dict[str, Any]:
        base = f"{ADMIN}/configuration/v1"
        return {
            "id": vmr.vmr_id,
            "name": vmr.name,
            "service_type": "conference",
            "description": vmr.description,
            "tag": vmr.tag,
            "pin": vmr.pin,
            "guest_pin": vmr.guest_pin,
            "allow_guests": vmr.allow_guests,
            "aliases": [
                {
                    "alias": alias,
                    "conference": f"{base}/conference/{vmr.vmr_id}/",
                    "description": "",
                    "id": vmr.vmr_id * 100 + index,
                }
                for index, alias in enumerate(vmr.aliases)
            ],
            "resource_uri": f"{base}/conference/{vmr.vmr_id}/",
        }

    async def _list_vmrs(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        chosen = [vmr for vmr in self.vmrs.values() if name is None or vmr.name == name]
        return self._page(request, [self._vmr_json(vmr) for vmr in chosen])

    async def _create_vmr(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _json({"error": "not JSON"}, 400)
        name = body.get("name")
        aliases = [item.get("alias") for item in body.get("aliases", []) if isinstance(item, dict)]
        if not isinstance(name, str) or not name or len(name) > 250:
            return _json({"conference": {"name": ["This field is required."]}}, 400)
        if any(vmr.name == name for vmr in self.vmrs.values()):
            return _json(
                {"conference": {"name": ["Conference with this Name already exists."]}}, 400
            )
        taken = {alias for vmr in self.vmrs.values() for alias in vmr.aliases}
        if any(not isinstance(alias, str) or alias in taken for alias in aliases):
            return _json({"conference_alias": {"alias": ["Alias already exists."]}}, 400)
        pin = str(body.get("pin") or "")
        guest_pin = str(body.get("guest_pin") or "")
        allow_guests = bool(body.get("allow_guests", False))
        if not _pin_ok(pin) or not _pin_ok(guest_pin) or (allow_guests and guest_pin and not pin):
            return _json({"conference": {"pin": ["Invalid PIN."]}}, 400)
        vmr = EmuVmr(
            vmr_id=next(self._ids),
            name=name,
            aliases=[str(alias) for alias in aliases],
            pin=pin,
            guest_pin=guest_pin,
            allow_guests=allow_guests,
            description=str(body.get("description") or ""),
            tag=str(body.get("tag") or ""),
        )
        self.vmrs[vmr.vmr_id] = vmr
        location = f"{self.url}{ADMIN}/configuration/v1/conference/{vmr.vmr_id}/"
        return web.Response(status=201, headers={"Location": location})

    def _vmr_by_path(self, request: web.Request) -> EmuVmr | None:
        try:
            return self.vmrs.get(int(request.match_info["id"]))
        except ValueError:
            return None

    async def _get_vmr(self, request: web.Request) -> web.Response:
        vmr = self._vmr_by_path(request)
        if vmr is None:
            return web.Response(status=404)
        return _json(self._vmr_json(vmr))

    async def _delete_vmr(self, request: web.Request) -> web.Response:
        vmr = self._vmr_by_path(request)
        if vmr is None:
            return web.Response(status=404)
        del self.vmrs[vmr.vmr_id]
        return web.Response(status=204)

    # -- configuration: event sinks -------------------------------------------------------

    async def _list_sinks(self, request: web.Request) -> web.Response:
        return self._page(
            request,
            [
                {
                    "id": sink_id,
                    "name": sink.name,
                    "url": sink.url,
                    "username": sink.username,
                    "version": sink.version,
                    "bulk_support": sink.bulk_support,
                }
                for sink_id, sink in self.sinks.items()
            ],
        )

    async def _create_sink(self, request: web.Request) -> web.Response:
        body = await request.json()
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return _json({"event_sink": {"url": ["Enter a valid URL."]}}, 400)
        sink = EmuSink(
            name=str(body.get("name") or url),
            url=url,
            username=str(body.get("username") or ""),
            password=str(body.get("password") or ""),
            version=int(body.get("version", 1)),
            bulk_support=bool(body.get("bulk_support", False)),
        )
        sink_id = next(self._ids)
        self.sinks[sink_id] = sink
        self._emit("eventsink_started", {})
        return web.Response(
            status=201,
            headers={"Location": f"{self.url}{ADMIN}/configuration/v1/event_sink/{sink_id}/"},
        )

    # -- status ---------------------------------------------------------------------------

    def _participant_json(self, participant: EmuParticipant) -> dict[str, Any]:
        return {
            "id": participant.participant_id,
            "call_uuid": participant.participant_id,
            "conversation_id": participant.participant_id,
            "conference": participant.conference,
            "display_name": participant.display_name,
            "destination_alias": participant.destination_alias,
            "source_alias": participant.source_alias,
            "call_direction": participant.call_direction,
            "protocol": participant.protocol,
            "role": participant.role,
            "service_type": participant.service_type,
            "has_media": participant.has_media,
            "is_muted": participant.is_muted,
            "is_on_hold": False,
            "is_presenting": False,
            "is_streaming": False,
            "connect_time": _iso(participant.connect_time),
            "remote_address": "10.20.30.40",
            "system_location": self.system_locations[0],
            "media_node": NODE,
            "signalling_node": NODE,
            "resource_uri": f"{ADMIN}/status/v1/participant/{participant.participant_id}/",
        }

    def _all_participants(self) -> list[EmuParticipant]:
        return [
            p for conference in self.conferences.values() for p in conference.participants.values()
        ]

    async def _list_participants(self, request: web.Request) -> web.Response:
        self._run_before_page(request)
        wanted = request.query.get("conference")
        chosen = [p for p in self._all_participants() if wanted is None or p.conference == wanted]
        return self._page(request, [self._participant_json(p) for p in chosen])

    async def _get_participant(self, request: web.Request) -> web.Response:
        for participant in self._all_participants():
            if participant.participant_id == request.match_info["id"]:
                return _json(self._participant_json(participant))
        return web.Response(status=404)

    async def _list_conferences(self, request: web.Request) -> web.Response:
        wanted = request.query.get("name")
        chosen = [c for c in self.conferences.values() if wanted is None or c.name == wanted]
        return self._page(
            request,
            [
                {
                    "id": c.conference_id,
                    "name": c.name,
                    "service_type": "conference",
                    "is_locked": c.is_locked,
                    "is_started": True,
                    "guests_muted": c.guests_muted,
                    "start_time": _iso(c.start_time),
                    "tag": c.tag,
                    "resource_uri": f"{ADMIN}/status/v1/conference/{c.conference_id}/",
                }
                for c in chosen
            ],
        )

    async def _licensing(self, request: web.Request) -> web.Response:
        in_use = sum(1 for p in self._all_participants() if p.has_media)
        return self._page(
            request,
            [
                {
                    "audio_count": 0,
                    "audio_total": 0,
                    "port_count": in_use,
                    "port_total": self.port_total,
                    "vmr_count": len(self.vmrs),
                    "vmr_total": 10_000,
                }
            ],
        )

    # -- commands -------------------------------------------------------------------------

    async def _dial(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.last_dial = dict(body)
        alias = body.get("conference_alias")
        vmr = next((v for v in self.vmrs.values() if alias in v.aliases), None)
        if vmr is None:
            return _failure(400, "Conference alias not found")
        destination = str(body.get("destination") or "").strip()
        protocol = str(body.get("protocol", "sip"))
        role = str(body.get("role", "guest"))
        routing = str(body.get("routing", "manual"))
        if not destination or protocol not in ("sip", "h323", "mssip", "rtmp", "gms", "teams"):
            return _failure(400, "Invalid destination or protocol")
        if role not in ("guest", "chair"):
            return _failure(400, "Invalid role")
        if routing == "manual" and body.get("system_location") not in self.system_locations:
            return _failure(400, "Invalid system location")
        conference = self._conference_for(vmr)
        participant = EmuParticipant(
            participant_id=str(uuid.uuid4()),
            conference=vmr.name,
            display_name=str(body.get("remote_display_name") or destination),
            destination_alias=destination,
            source_alias=alias,
            call_direction="out",
            protocol="SIP" if protocol == "sip" else "H323" if protocol == "h323" else protocol,
            role=role,
        )
        conference.participants[participant.participant_id] = participant
        self._participant_event("participant_connected", participant)
        participant.timer = asyncio.get_running_loop().create_task(
            self._ring(conference, participant)
        )
        pid = participant.participant_id
        return _success({"participant_id": pid, "participant_ids": [pid]})

    def _conference_for(self, vmr: EmuVmr) -> EmuConference:
        conference = self.conferences.get(vmr.name)
        if conference is None:
            conference = EmuConference(
                conference_id=str(uuid.uuid4()), name=vmr.name, tag=vmr.tag, start_time=time.time()
            )
            self.conferences[vmr.name] = conference
            self._conference_event("conference_started", conference)
        return conference

    def _find(self, participant_id: str) -> tuple[EmuConference, EmuParticipant] | None:
        for conference in self.conferences.values():
            participant = conference.participants.get(participant_id)
            if participant is not None:
                return conference, participant
        return None

    async def _participant_command(self, request: web.Request) -> web.Response:
        command = request.match_info["command"]
        if command not in ("disconnect", "mute", "unmute"):
            return web.Response(status=404)
        body = await request.json()
        found = self._find(str(body.get("participant_id", "")))
        if found is None:
            return _failure(404, "Participant not found")
        conference, participant = found
        if command == "disconnect":
            self._end(conference, participant, "Disconnected by administrator")
        else:
            participant.is_muted = command == "mute"
            self._participant_event("participant_updated", participant)
        return _success()

    async def _conference_command(self, request: web.Request) -> web.Response:
        command = request.match_info["command"]
        known = ("disconnect", "lock", "unlock", "mute_guests", "unmute_guests", "transform_layout")
        if command not in known:
            return web.Response(status=404)
        body = await request.json()
        wanted = str(body.get("conference_id", ""))
        conference = next((c for c in self.conferences.values() if c.conference_id == wanted), None)
        if conference is None:
            return _failure(404, "Conference not found")
        if command == "disconnect":
            for participant in list(conference.participants.values()):
                self._end(conference, participant, "Conference disconnected by administrator")
        elif command in ("lock", "unlock"):
            conference.is_locked = command == "lock"
            self._conference_event("conference_updated", conference)
        elif command in ("mute_guests", "unmute_guests"):
            conference.guests_muted = command == "mute_guests"
            for participant in conference.participants.values():
                if participant.role == "guest":
                    participant.is_muted = conference.guests_muted
            self._conference_event("conference_updated", conference)
        else:
            layout = body.get("layout")
            if not isinstance(layout, str) or not layout:
                return _failure(400, "Invalid layout")
            conference.layout = layout
        return _success()

    # -- call behaviour -------------------------------------------------------------------

    def answers(self, destination: str) -> bool:
        return self.answering.get(destination, self.answer_unknown)

    async def _ring(self, conference: EmuConference, participant: EmuParticipant) -> None:
        answers = self.answers(participant.destination_alias)
        await asyncio.sleep(self.ring_delay if answers else self.ring_timeout)
        if conference.participants.get(participant.participant_id) is not participant:
            return
        participant.timer = None
        if not answers:
            self._end(conference, participant, "Call rejected")
            return
        participant.service_type = "conference"
        participant.has_media = True
        participant.connect_time = time.time()
        if conference.guests_muted and participant.role == "guest":
            participant.is_muted = True
        self._participant_event("participant_updated", participant)

    def call_in(self, alias: str, source: str, pin: str = "", name: str = "") -> str | None:
        """A room system dials an alias and enters ``pin`` at the prompt: connected at once as
        a Host (the VMR's ``pin``) or a Guest (its ``guest_pin``), or refused (``None``) as
        the VMR's PIN rules say (reference, conference ``pin``/``guest_pin``/``allow_guests``)."""
        vmr = next((v for v in self.vmrs.values() if alias in v.aliases), None)
        if vmr is None:
            return None
        if vmr.pin and pin == vmr.pin:
            role = "chair"
        elif vmr.allow_guests and (not vmr.guest_pin or pin == vmr.guest_pin):
            role = "guest"
        elif not vmr.pin:
            role = "chair"
        else:
            return None
        conference = self._conference_for(vmr)
        participant = EmuParticipant(
            participant_id=str(uuid.uuid4()),
            conference=vmr.name,
            display_name=name or source,
            destination_alias=alias,
            source_alias=source,
            call_direction="in",
            protocol="SIP",
            role=role,
            service_type="conference",
            has_media=True,
            connect_time=time.time(),
        )
        conference.participants[participant.participant_id] = participant
        self._participant_event("participant_connected", participant)
        return participant.participant_id

    def remote_hangup(self, participant_id: str) -> None:
        """The far endpoint hangs up by itself."""
        found = self._find(participant_id)
        if found is not None:
            self._end(found[0], found[1], "Call disconnected")

    def _end(self, conference: EmuConference, participant: EmuParticipant, reason: str) -> None:
        conference.participants.pop(participant.participant_id, None)
        if participant.timer is not None:
            participant.timer.cancel()
        now = time.time()
        extra = {
            "disconnect_reason": reason,
            "duration": now - participant.connect_time if participant.connect_time else 0.0,
            "end_time": now,
        }
        self._participant_event("participant_disconnected", participant, extra)
        if not conference.participants:
            self.conferences.pop(conference.name, None)
            self._conference_event("conference_ended", conference, {"end_time": now})

    # -- the event sink -------------------------------------------------------------------

    def _participant_event(
        self, name: str, participant: EmuParticipant, extra: dict[str, Any] | None = None
    ) -> None:
        data = {
            "uuid": participant.participant_id,
            "call_id": participant.participant_id,
            "conversation_id": participant.participant_id,
            "conference": participant.conference,
            "display_name": participant.display_name,
            "destination_alias": participant.destination_alias,
            "source_alias": participant.source_alias,
            "call_direction": participant.call_direction,
            "protocol": participant.protocol,
            "role": participant.role,
            "service_type": participant.service_type,
            "has_media": participant.has_media,
            "is_muted": participant.is_muted,
            "is_presenting": False,
            "is_streaming": False,
            "connect_time": participant.connect_time,
            "remote_address": "10.20.30.40",
            "system_location": self.system_locations[0],
            "media_node": NODE,
            "signalling_node": NODE,
            "service_tag": "",
            "vendor": "Emulated endpoint",
            **(extra or {}),
        }
        self._emit(name, data)

    def _conference_event(
        self, name: str, conference: EmuConference, extra: dict[str, Any] | None = None
    ) -> None:
        self._emit(
            name,
            {
                "name": conference.name,
                "is_locked": conference.is_locked,
                "is_started": True,
                "guests_muted": conference.guests_muted,
                "service_type": "conference",
                "start_time": conference.start_time,
                "tag": conference.tag,
                **(extra or {}),
            },
        )

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        message = {"node": NODE, "version": 1, "time": time.time(), "event": name, "data": data}
        self.sent.append(message)
        self._queue.put_nowait(message)

    async def _push(self) -> None:
        # One sender: events reach each sink in order, one by one (Event sink API,
        # "Performance considerations"); a message not taken (no 2xx) is sent again.
        while True:
            message = await self._queue.get()
            for sink in list(self.sinks.values()):
                numbered = {**message, "seq": next(sink.seq)}
                body = numbered
                if sink.bulk_support:
                    body = {
                        "node": "127.0.0.1",
                        "seq": 0,
                        "version": sink.version,
                        "time": time.time(),
                        "event": "eventsink_bulk",
                        "data": [numbered],
                    }
                delay = 0.05
                while not await self._deliver(sink, json.dumps(body).encode()):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.5)
            self._queue.task_done()

    async def _deliver(self, sink: EmuSink, body: bytes) -> bool:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if sink.username or sink.password:
            token = base64.b64encode(f"{sink.username}:{sink.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            async with self._http.post(sink.url, data=body, headers=headers) as response:
                await response.read()
                return 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def drain(self, within: float = 2.0) -> None:
        """Wait until every event made so far has been delivered."""
        async with asyncio.timeout(within):
            await self._queue.join()
