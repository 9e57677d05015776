"""A Cisco Meeting Server emulator: the parts of the REST API and CDR push vcorch uses.

Written from the public API reference (github.com/ciscocms/apiary, ``apiary.apib``):
- ``/api/v1`` prefix, HTTP basic auth (401 without it), form-encoded POST/PUT bodies;
- answers ``text/xml`` starting ``<?xml version="1.0"?>``; a POST answers 200 with the new
  object's ``Location: /api/v1/<collection>/<id>`` and no body;
- collections ``<coSpaces total="N"><coSpace id="…">`` with ``offset``/``limit`` and a
  server-side page cap (``page_size``), ``filter`` / ``coSpaceFilter`` as documented;
- errors 4xx with ``<failureDetails><reasonCode/></failureDetails>`` ("Failure Reasons");
  503 for "busy";
- call leg detail ``<callLeg id><name/><remoteParty/><call/>…<configuration><rxAudioMute/>
  </configuration><status><state>ringing|connected</state><durationSeconds/></status>``;
- ``/system/status`` (``softwareVersion``, ``callLegsActive``, ``cdrTime``…) and
  ``/system/cdrReceivers`` (POST ``uri=`` adds a receiver: the parameter the reference's
  ``cdrReceiver`` attributes and its GET answer name; its prose says "url", which is refused
  here as an unknown parameter, 400 ``parameterError``).
- the call-leg list ``/calls/<id>/callLegs`` gives per leg only ``name``, ``remoteParty``,
  ``originalRemoteParty`` and ``call`` (the reference's example and table for "Retrieving
  Information on Active Call Legs"); state, mute and ``ownerId`` only in the leg's own
  ``GET /callLegs/<id>`` (``ownerId`` under ``configuration``, as the table lists it);
- ``ownerId`` on POST ``/calls/<id>/callLegs`` is an "ID" (callLeg attributes): a GUID
  here, else 400 ``parameterError``.
CDRs are POSTed to every receiver as ``<records session callBridge><record type time
recordIndex correlatorIndex>…`` (shape from the CMS CDR reference as seen in public CDR
receivers' test data); ``callLegStart`` and ``callLegUpdate`` carry the leg's ``ownerId``
when it has one (the fields public receivers store from those records).  ``callLegEnd``
reason codes are passed through by vcorch unread, so the emulator's choice of them does
not matter to the code under test.

Knobs for load and fault tests (constructor arguments, also plain attributes to change
while running):

``page_size`` (default 10)
    the server's own cap on items per collection page, whatever ``limit`` asks.
``latency`` (seconds, default 0)
    added to every API answer (busy ones included), as a far network and a loaded server.
``budget_per_second`` (default ``None``: unlimited)
    an enforced request budget: a token bucket of that many requests a second (burst one
    second's worth); a request above it is answered 503 and not carried out — the
    reference's "temporary busy condition".
``busy_fraction`` (0..1, default 0) with ``seed``
    answer that share of API requests 503 at random, deterministically for a seed.
``busy_retry_after`` (seconds or ``None``, default ``None``) and ``busy_retry_after_date``
    whether busy answers carry ``Retry-After`` (the reference documents none; proxies and
    other servers send one), in seconds or, with ``busy_retry_after_date=True``, as an
    HTTP-date.
:meth:`arm_paging_race` (``leg_id`` or the first leg of the page)
    make one leg leave right after the next first page of a call-leg list that has more
    than one page is served: the paging race of offset paging.
Counters: ``requests`` (every request), ``busy_answers`` (503s given), ``paging_races``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import random
import secrets
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal

import aiohttp
from aiohttp import web

Mode = Literal["ok", "hang", "garbage", "busy"]
Handler = Callable[[web.Request], Awaitable[web.Response]]
API = "/api/v1"


@dataclass
class EmuCoSpace:
    cospace_id: str
    name: str
    uri: str
    cdr_tag: str
    passcode: str
    # API reference: callId only when asked (requireCallId=true); secret always made.
    call_id: str = ""
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    default_layout: str = ""


@dataclass
class EmuLeg:
    leg_id: str
    call_id: str
    remote_party: str
    name: str
    owner_id: str = ""
    state: str = "ringing"
    rx_audio_mute: bool = False
    connected_at: datetime | None = None
    timer: asyncio.Task[None] | None = None
    layout: str = ""
    direction: str = "outgoing"


@dataclass
class EmuCall:
    call_id: str
    cospace_id: str
    name: str
    correlator: str = field(default_factory=lambda: str(uuid.uuid4()))
    legs: dict[str, EmuLeg] = field(default_factory=dict)
    # PUT /calls/<id> values (locked, messageText, joinAudioMuteOverride...), as sent.
    settings: dict[str, str] = field(default_factory=dict)


# The API reference's layout values (coSpace defaultLayout, callLeg chosenLayout, the
# "layout" of PUT /calls/<id>/participants/*).
LAYOUT_VALUES = frozenset(
    {
        "allEqual",
        "speakerOnly",
        "telepresence",
        "stacked",
        "allEqualQuarters",
        "allEqualNinths",
        "allEqualSixteenths",
        "allEqualTwentyFifths",
        "onePlusFive",
        "onePlusSeven",
        "onePlusNine",
        "automatic",
        "onePlusN",
    }
)


def _xml(root: ET.Element, status: int = 200) -> web.Response:
    body = b'<?xml version="1.0"?>\n' + ET.tostring(root, encoding="utf-8")
    return web.Response(status=status, body=body, content_type="text/xml")


def _sub(parent: ET.Element, tag: str, text: str | None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _failure(status: int, reason: str) -> web.Response:
    root = ET.Element("failureDetails")
    ET.SubElement(root, reason)
    return _xml(root, status)


def _created(collection: str, object_id: str) -> web.Response:
    return web.Response(status=200, headers={"Location": f"{API}/{collection}/{object_id}"})


class CmsEmulator:
    """Start with :meth:`start`; steer with ``mode``, ``answering``, :meth:`go_down`."""

    def __init__(
        self,
        *,
        username: str = "apiuser",
        password: str = "apipass",  # noqa: S107 -- an emulator's test credential
        page_size: int = 10,
        ring_delay: float = 0.05,
        ring_timeout: float = 0.4,
        max_call_legs: int = 1000,
        version: str = "3.8.1",
        latency: float = 0.0,
        budget_per_second: float | None = None,
        busy_fraction: float = 0.0,
        busy_retry_after: float | None = None,
        busy_retry_after_date: bool = False,
        seed: int = 1,
    ) -> None:
        self.username = username
        self.password = password
        self.page_size = page_size
        self.latency = latency
        self.budget_per_second = budget_per_second
        self.busy_fraction = busy_fraction
        self.busy_retry_after = busy_retry_after
        self.busy_retry_after_date = busy_retry_after_date
        self._busy_random = random.Random(seed)
        self._tokens = float(budget_per_second or 0.0)
        self._bucket_rate = budget_per_second
        self._tokens_at = time.monotonic()
        self.busy_answers = 0
        self.paging_races = 0
        self._race: tuple[str | None] | None = None
        self.ring_delay = ring_delay
        self.ring_timeout = ring_timeout
        self.max_call_legs = max_call_legs
        self.version = version
        self.mode: Mode = "ok"
        self.answer_unknown = True  # remote parties not in ``answering`` pick up
        self.answering: dict[str, bool] = {}
        self.cospaces: dict[str, EmuCoSpace] = {}
        self.calls: dict[str, EmuCall] = {}
        self.cdr_receivers: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) seen, for assertions
        self.session_id = str(uuid.uuid4())
        self.call_bridge_id = str(uuid.uuid4())
        self._record_index = itertools.count(1)
        self._legs_completed = 0
        self._cdr_queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.cdr_records: list[tuple[str, str]] = []  # (type, recordIndex) of every record made
        self.cdr_redeliveries = 0  # batches sent again because the receiver did not take them
        self._cdr_task: asyncio.Task[None] | None = None
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
        self._cdr_task = asyncio.get_running_loop().create_task(self._push_cdrs())
        await self._listen()
        return self.url

    async def _listen(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        routes = [
            ("GET", "/system/status", self._system_status),
            ("GET", "/system/cdrReceivers", self._list_cdr_receivers),
            ("POST", "/system/cdrReceivers", self._add_cdr_receiver),
            ("GET", "/coSpaces", self._list_cospaces),
            ("POST", "/coSpaces", self._create_cospace),
            ("GET", "/coSpaces/{id}", self._get_cospace),
            ("PUT", "/coSpaces/{id}", self._update_cospace),
            ("DELETE", "/coSpaces/{id}", self._delete_cospace),
            ("GET", "/calls", self._list_calls),
            ("POST", "/calls", self._create_call),
            ("GET", "/calls/{id}", self._get_call),
            ("DELETE", "/calls/{id}", self._delete_call),
            ("GET", "/calls/{id}/callLegs", self._list_call_legs),
            ("POST", "/calls/{id}/callLegs", self._create_call_leg),
            ("GET", "/calls/{id}/participants", self._list_participants),
            ("GET", "/callLegs/{id}", self._get_call_leg),
            ("PUT", "/callLegs/{id}", self._update_call_leg),
            ("DELETE", "/callLegs/{id}", self._delete_call_leg),
        ]
        routes += self._control_routes()
        for method, path, handler in routes:
            app.router.add_route(method, API + path, handler)
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
        for call in self.calls.values():
            for leg in call.legs.values():
                if leg.timer is not None:
                    leg.timer.cancel()
        if self._cdr_task is not None:
            self._cdr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cdr_task
        if self._http is not None:
            await self._http.close()

    # -- middleware: auth and faults ------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if not self._authorised(request.headers.get("Authorization")):
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="api"'})
        if self._over_budget() or (
            self.busy_fraction > 0 and self._busy_random.random() < self.busy_fraction
        ):
            return self._busy()
        if self.mode == "hang":
            # Held until the test is over; the client's own timeout is what ends its wait.
            await self._released.wait()
            return web.Response(status=503)
        if self.mode == "garbage":
            return web.Response(status=200, body=b"<html><body>Error 0x1f", content_type="text/xml")
        if self.mode == "busy":
            return web.Response(status=503)
        if request.method in ("POST", "PUT") and request.content_type not in (
            "application/x-www-form-urlencoded",
            "",
        ):
            return _failure(400, "parameterError")
        return await handler(request)

    def _over_budget(self) -> bool:
        rate = self.budget_per_second
        if not rate:
            return False
        now = time.monotonic()
        if rate != self._bucket_rate:  # set or changed while running: a full bucket
            self._bucket_rate, self._tokens = rate, float(rate)
        self._tokens = min(float(rate), self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return False
        return True

    def _busy(self) -> web.Response:
        """503, the reference's "busy": nothing was done; maybe with Retry-After."""
        self.busy_answers += 1
        headers: dict[str, str] = {}
        wait = self.busy_retry_after
        if wait is not None:
            if self.busy_retry_after_date:
                when = datetime.now(UTC) + timedelta(seconds=wait)
                headers["Retry-After"] = format_datetime(when, usegmt=True)
            else:
                headers["Retry-After"] = str(max(0, round(wait)))
        return web.Response(status=503, headers=headers)

    def arm_paging_race(self, leg_id: str | None = None) -> None:
        """One leg (``leg_id``, else the first on the page) leaves right after the next
        first page of a multi-page call-leg list is served (see the module docstring)."""
        self._race = (leg_id,)

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.username and password == self.password

    # -- paging helper ---------------------------------------------------------------------

    def _page(self, request: web.Request, items: list[ET.Element], tag: str) -> web.Response:
        offset = int(request.query.get("offset", "0"))
        limit = min(int(request.query.get("limit", str(self.page_size))), self.page_size)
        root = ET.Element(tag, total=str(len(items)))
        for element in items[offset : offset + limit]:
            root.append(element)
        return _xml(root)

    # -- system -----------------------------------------------------------------------------

    async def _system_status(self, request: web.Request) -> web.Response:
        root = ET.Element("status")
        _sub(root, "hostId", self.call_bridge_id)
        _sub(root, "softwareVersion", self.version)
        _sub(root, "uptimeSeconds", "90730")
        _sub(root, "cdrTime", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        _sub(root, "activated", "true")
        _sub(root, "clusterEnabled", "false")
        _sub(root, "callLegsActive", str(self.active_legs()))
        _sub(root, "callLegsMaxActive", str(self.active_legs()))
        _sub(root, "callLegsCompleted", str(self._legs_completed))
        return _xml(root)

    async def _list_cdr_receivers(self, request: web.Request) -> web.Response:
        root = ET.Element("cdrReceivers", total=str(len(self.cdr_receivers)), maximum="4")
        for receiver_id, url in self.cdr_receivers.items():
            _sub(ET.SubElement(root, "cdrReceiver", id=receiver_id), "uri", url)
        return _xml(root)

    async def _add_cdr_receiver(self, request: web.Request) -> web.Response:
        form = await request.post()
        url = str(form.get("uri", ""))
        if not url or "url" in form:
            return _failure(400, "parameterError")
        if len(self.cdr_receivers) >= 4:
            return _failure(400, "tooManyCdrReceivers")
        receiver_id = str(uuid.uuid4())
        self.cdr_receivers[receiver_id] = url
        return _created("system/cdrReceivers", receiver_id)

    # -- coSpaces ---------------------------------------------------------------------------

    def _cospace_element(self, cospace: EmuCoSpace) -> ET.Element:
        element = ET.Element("coSpace", id=cospace.cospace_id)
        _sub(element, "name", cospace.name)
        _sub(element, "autoGenerated", "false")
        _sub(element, "uri", cospace.uri)
        return element

    async def _list_cospaces(self, request: web.Request) -> web.Response:
        wanted = request.query.get("filter", "").lower()
        matching = [
            self._cospace_element(cospace)
            for cospace in self.cospaces.values()
            if not wanted or wanted in cospace.name.lower() or wanted in cospace.uri.lower()
        ]
        return self._page(request, matching, "coSpaces")

    async def _create_cospace(self, request: web.Request) -> web.Response:
        form = await request.post()
        uri = str(form.get("uri", ""))
        if uri and any(cospace.uri == uri for cospace in self.cospaces.values()):
            return _failure(400, "duplicateCoSpaceUri")
        cospace = EmuCoSpace(
            cospace_id=str(uuid.uuid4()),
            name=str(form.get("name", "")),
            uri=uri,
            cdr_tag=str(form.get("cdrTag", "")),
            passcode=str(form.get("passcode", "")),
        )
        if form.get("requireCallId") == "true":
            cospace.call_id = self._new_call_id()
        self.cospaces[cospace.cospace_id] = cospace
        return _created("coSpaces", cospace.cospace_id)

    async def _get_cospace(self, request: web.Request) -> web.Response:
        cospace = self.cospaces.get(request.match_info["id"])
        if cospace is None:
            return _failure(404, "coSpaceDoesNotExist")
        element = self._cospace_element(cospace)
        _sub(element, "cdrTag", cospace.cdr_tag)
        if cospace.call_id:
            _sub(element, "callId", cospace.call_id)
        if cospace.passcode:
            _sub(element, "passcode", cospace.passcode)
        _sub(element, "secret", cospace.secret)
        return _xml(element)

    def _new_call_id(self) -> str:
        taken = {cospace.call_id for cospace in self.cospaces.values()}
        while True:
            candidate = str(secrets.randbelow(900_000_000) + 100_000_000)
            if candidate not in taken:
                return candidate

    async def _update_cospace(self, request: web.Request) -> web.Response:
        cospace = self.cospaces.get(request.match_info["id"])
        if cospace is None:
            return _failure(404, "coSpaceDoesNotExist")
        form = await request.post()
        if form.get("requireCallId") == "true" and not cospace.call_id:
            cospace.call_id = self._new_call_id()
        if "passcode" in form:
            cospace.passcode = str(form["passcode"])
        if "defaultLayout" in form:
            if str(form["defaultLayout"]) not in LAYOUT_VALUES:
                return _failure(400, "parameterError")
            cospace.default_layout = str(form["defaultLayout"])
        return web.Response(status=200)

    async def _delete_cospace(self, request: web.Request) -> web.Response:
        if self.cospaces.pop(request.match_info["id"], None) is None:
            return _failure(404, "coSpaceDoesNotExist")
        return web.Response(status=200)

    # -- calls ------------------------------------------------------------------------------

    def _call_element(self, call: EmuCall) -> ET.Element:
        element = ET.Element("call", id=call.call_id)
        _sub(element, "name", call.name)
        _sub(element, "coSpace", call.cospace_id)
        _sub(element, "callCorrelator", call.correlator)
        return element

    async def _list_calls(self, request: web.Request) -> web.Response:
        wanted = request.query.get("coSpaceFilter")
        matching = [
            self._call_element(call)
            for call in self.calls.values()
            if wanted is None or call.cospace_id == wanted
        ]
        return self._page(request, matching, "calls")

    async def _create_call(self, request: web.Request) -> web.Response:
        form = await request.post()
        cospace_id = str(form.get("coSpace", ""))
        cospace = self.cospaces.get(cospace_id)
        if cospace is None:
            return _failure(400, "coSpaceDoesNotExist")
        call = EmuCall(call_id=str(uuid.uuid4()), cospace_id=cospace_id, name=cospace.name)
        self.calls[call.call_id] = call
        self._cdr("callStart", self._call_element(call))
        return _created("calls", call.call_id)

    async def _get_call(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["id"])
        if call is None:
            return _failure(404, "callDoesNotExist")
        element = self._call_element(call)
        _sub(element, "callType", "coSpace")
        _sub(element, "numCallLegs", str(len(call.legs)))
        return _xml(element)

    async def _delete_call(self, request: web.Request) -> web.Response:
        call = self.calls.pop(request.match_info["id"], None)
        if call is None:
            return _failure(404, "callDoesNotExist")
        for leg in list(call.legs.values()):
            self._end_leg(call, leg, "callEnded")
        end = ET.Element("call", id=call.call_id)
        _sub(end, "callLegsCompleted", "0")
        _sub(end, "durationSeconds", "0")
        self._cdr("callEnd", end)
        return web.Response(status=200)

    # -- call legs --------------------------------------------------------------------------

    def active_legs(self) -> int:
        return sum(len(call.legs) for call in self.calls.values())

    def _leg_summary(self, leg: EmuLeg) -> ET.Element:
        element = ET.Element("callLeg", id=leg.leg_id)
        _sub(element, "name", leg.name)
        _sub(element, "remoteParty", leg.remote_party)
        _sub(element, "originalRemoteParty", leg.remote_party)
        _sub(element, "call", leg.call_id)
        return element

    async def _list_call_legs(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["id"])
        if call is None:
            return _failure(404, "callDoesNotExist")
        answer = self._page(
            request, [self._leg_summary(leg) for leg in call.legs.values()], "callLegs"
        )
        if (
            self._race is not None
            and int(request.query.get("offset", "0")) == 0
            and len(call.legs) > min(self.page_size, int(request.query.get("limit", "1000")))
        ):
            (wanted,) = self._race
            leg_id = wanted or next(iter(call.legs))
            if leg_id in call.legs:
                self._race = None
                self.paging_races += 1
                self.remote_hangup(leg_id)
        return answer

    async def _list_participants(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["id"])
        if call is None:
            return _failure(404, "callDoesNotExist")
        elements = []
        for leg in call.legs.values():
            element = ET.Element("participant", id=leg.leg_id)
            _sub(element, "name", leg.name)
            _sub(element, "call", call.call_id)
            elements.append(element)
        return self._page(request, elements, "participants")

    async def _create_call_leg(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["id"])
        if call is None:
            return _failure(404, "callDoesNotExist")
        form = await request.post()
        remote = str(form.get("remoteParty", "")).strip()
        if not remote or " " in remote:
            return _failure(400, "parameterError")
        if self.active_legs() >= self.max_call_legs:
            return _failure(400, "participantLimitReached")
        owner_id = str(form.get("ownerId", ""))
        if owner_id:
            try:
                uuid.UUID(owner_id)
            except ValueError:
                return _failure(400, "parameterError")  # an "ID" in the reference
        name = str(form.get("nameLabelOverride", "")) or remote
        leg = EmuLeg(
            leg_id=str(uuid.uuid4()),
            call_id=call.call_id,
            remote_party=remote,
            name=name,
            owner_id=owner_id,
        )
        call.legs[leg.leg_id] = leg
        start = ET.Element("callLeg", id=leg.leg_id)
        _sub(start, "displayName", name)
        _sub(start, "remoteParty", remote)
        _sub(start, "localAddress", call.name)
        _sub(start, "type", "sip")
        _sub(start, "direction", "outgoing")
        _sub(start, "call", call.call_id)
        if owner_id:
            _sub(start, "ownerId", owner_id)
        self._cdr("callLegStart", start)
        leg.timer = asyncio.get_running_loop().create_task(self._ring(call, leg))
        return _created("callLegs", leg.leg_id)

    def _find_leg(self, leg_id: str) -> tuple[EmuCall, EmuLeg] | None:
        for call in self.calls.values():
            leg = call.legs.get(leg_id)
            if leg is not None:
                return call, leg
        return None

    async def _get_call_leg(self, request: web.Request) -> web.Response:
        found = self._find_leg(request.match_info["id"])
        if found is None:
            return _failure(404, "callLegDoesNotExist")
        _, leg = found
        element = self._leg_summary(leg)
        _sub(element, "type", "sip")
        _sub(element, "direction", leg.direction)
        configuration = ET.SubElement(element, "configuration")
        if leg.owner_id:
            _sub(configuration, "ownerId", leg.owner_id)
        _sub(configuration, "rxAudioMute", "true" if leg.rx_audio_mute else "false")
        _sub(configuration, "txAudioMute", "false")
        status = ET.SubElement(element, "status")
        _sub(status, "state", leg.state)
        duration = (
            int((datetime.now(UTC) - leg.connected_at).total_seconds()) if leg.connected_at else 0
        )
        _sub(status, "durationSeconds", str(duration))
        _sub(status, "direction", leg.direction)
        return _xml(element)

    async def _update_call_leg(self, request: web.Request) -> web.Response:
        found = self._find_leg(request.match_info["id"])
        if found is None:
            return _failure(404, "callLegDoesNotExist")
        _, leg = found
        form = await request.post()
        if "remoteParty" in form:
            return _failure(400, "parameterError")  # cannot be modified (API reference)
        if "rxAudioMute" in form:
            value = str(form["rxAudioMute"]).lower()
            if value not in ("true", "false"):
                return _failure(400, "parameterError")
            leg.rx_audio_mute = value == "true"
        return web.Response(status=200)

    async def _delete_call_leg(self, request: web.Request) -> web.Response:
        found = self._find_leg(request.match_info["id"])
        if found is None:
            return _failure(404, "callLegDoesNotExist")
        call, leg = found
        self._end_leg(call, leg, "localTeardown")
        return web.Response(status=200)

    # -- call behaviour ---------------------------------------------------------------------

    def answers(self, remote_party: str) -> bool:
        return self.answering.get(remote_party, self.answer_unknown)

    async def _ring(self, call: EmuCall, leg: EmuLeg) -> None:
        answers = self.answers(leg.remote_party)
        await asyncio.sleep(self.ring_delay if answers else self.ring_timeout)
        if call.legs.get(leg.leg_id) is not leg:
            return
        leg.timer = None
        if not answers:
            self._end_leg(call, leg, "timeout")
            return
        leg.state = "connected"
        leg.connected_at = datetime.now(UTC)
        update = ET.Element("callLeg", id=leg.leg_id)
        _sub(update, "state", "connected")
        _sub(update, "call", call.call_id)
        _sub(update, "remoteAddress", leg.remote_party)
        _sub(update, "deactivated", "false")
        if leg.owner_id:
            _sub(update, "ownerId", leg.owner_id)
        self._cdr("callLegUpdate", update)

    def web_app_guest_joins(self, cospace_id: str, name: str) -> str:
        """A guest opens the space's web-app link and joins as ``name`` (the link's
        ``name=``): an incoming leg, connected at once, reported by CDR as CMS reports web
        app participants (``type`` ``acano``, direction ``incoming``)."""
        call = next(c for c in self.calls.values() if c.cospace_id == cospace_id)
        leg = EmuLeg(
            leg_id=str(uuid.uuid4()),
            call_id=call.call_id,
            remote_party=f"guest-{uuid.uuid4().hex[:8]}",
            name=name,
            state="connected",
            connected_at=datetime.now(UTC),
        )
        call.legs[leg.leg_id] = leg
        start = ET.Element("callLeg", id=leg.leg_id)
        _sub(start, "displayName", name)
        _sub(start, "remoteParty", leg.remote_party)
        _sub(start, "localAddress", call.name)
        _sub(start, "type", "acano")
        _sub(start, "direction", "incoming")
        _sub(start, "call", call.call_id)
        self._cdr("callLegStart", start)
        return leg.leg_id

    def remote_hangup(self, leg_id: str) -> None:
        """The far endpoint hangs up (a leave the orchestrator did not ask for)."""
        found = self._find_leg(leg_id)
        if found is not None:
            self._end_leg(found[0], found[1], "remoteTeardown")

    def _end_leg(self, call: EmuCall, leg: EmuLeg, reason: str) -> None:
        call.legs.pop(leg.leg_id, None)
        if leg.timer is not None:
            leg.timer.cancel()
        self._legs_completed += 1
        end = ET.Element("callLeg", id=leg.leg_id)
        _sub(end, "reason", reason)
        _sub(end, "remoteTeardown", "true" if reason == "remoteTeardown" else "false")
        duration = (
            int((datetime.now(UTC) - leg.connected_at).total_seconds()) if leg.connected_at else 0
        )
        _sub(end, "durationSeconds", str(duration))
        self._cdr("callLegEnd", end)

    # -- CDR push ---------------------------------------------------------------------------

    def _cdr(self, kind: str, payload: ET.Element) -> None:
        index = next(self._record_index)
        records = ET.Element("records", session=self.session_id, callBridge=self.call_bridge_id)
        record = ET.SubElement(
            records,
            "record",
            type=kind,
            time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            recordIndex=str(index),
            correlatorIndex=str(index),
        )
        record.append(payload)
        self.cdr_records.append((kind, str(index)))
        self._cdr_queue.put_nowait(
            b'<?xml version="1.0"?>\n' + ET.tostring(records, encoding="utf-8")
        )

    def send_raw_cdr_batch(self, body: bytes) -> None:
        """Queue a batch as sent, bytes and all (a damaged or unreadable one, for tests)."""
        self._cdr_queue.put_nowait(body)

    async def _push_cdrs(self) -> None:
        # One sender, so records arrive in the order they happened, as from a real server.
        # As the CDR guide says, the Call Bridge "re-sends any CDRs for which it had not
        # received a positive acknowledgement from the receiver": a batch is sent again,
        # with a capped backoff, until the receiver answers 2xx (or the emulator stops).
        while True:
            body = await self._cdr_queue.get()
            for url in list(self.cdr_receivers.values()):
                delay = 0.05
                while not await self._deliver(url, body):
                    self.cdr_redeliveries += 1
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.5)
            self._cdr_queue.task_done()

    async def _deliver(self, url: str, body: bytes) -> bool:
        assert self._http is not None
        try:
            async with self._http.post(
                url, data=body, headers={"Content-Type": "text/xml"}
            ) as response:
                await response.read()
                return 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def drain_cdrs(self, within: float = 2.0) -> None:
        """Wait until every CDR produced so far has been sent."""
        async with asyncio.timeout(within):
            await self._cdr_queue.join()

    # -- in-call control and dial-in (API reference: "Modifying a call", PUT
    # /calls/<call id>; "Set properties for all participants in a conference", PUT
    # /calls/<call id>/participants/*) --------------------------------------------------

    def _control_routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("PUT", "/calls/{id}", self._update_call),
            ("PUT", "/calls/{id}/participants/*", self._update_all_participants),
        ]

    async def _update_call(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["id"])
        if call is None:
            return _failure(404, "callDoesNotExist")
        form = await request.post()
        booleans = ("locked", "joinAudioMuteOverride", "allowAllMuteSelf")
        for name in booleans:
            if name in form and str(form[name]) not in ("true", "false"):
                return _failure(400, "parameterError")
        if "messagePosition" in form and str(form["messagePosition"]) not in (
            "top",
            "middle",
            "bottom",
        ):
            return _failure(400, "parameterError")
        duration = str(form.get("messageDuration", "0"))
        if not (duration.isdigit() or duration == "permanent"):
            return _failure(400, "parameterError")
        for name, value in form.items():
            call.settings[name] = str(value)
        return web.Response(status=200)

    async def _update_all_participants(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["id"])
        if call is None:
            return _failure(404, "callDoesNotExist")
        form = await request.post()
        mute = str(form["rxAudioMute"]) if "rxAudioMute" in form else None
        layout = str(form["layout"]) if "layout" in form else None
        if mute is not None and mute not in ("true", "false"):
            return _failure(400, "parameterError")
        if layout is not None and layout not in LAYOUT_VALUES:
            return _failure(400, "parameterError")
        for leg in call.legs.values():
            if mute is not None:
                leg.rx_audio_mute = mute == "true"
            if layout is not None:
                leg.layout = layout
        return web.Response(status=200)

    def dial_in_call(self, call_id_number: str, passcode: str, remote_party: str) -> str | None:
        """A SIP room system calls the Call Bridge, enters the coSpace's call ID and passcode
        at the IVR: an incoming leg (``direction`` incoming in its CDRs).  A locked call
        keeps the newcomer in the lobby (not connected, API reference on ``locked``); a wrong
        ID or passcode gets no leg (``None``)."""
        cospace = next(
            (c for c in self.cospaces.values() if c.call_id and c.call_id == call_id_number),
            None,
        )
        if cospace is None or (cospace.passcode and cospace.passcode != passcode):
            return None
        call = next((c for c in self.calls.values() if c.cospace_id == cospace.cospace_id), None)
        if call is None:
            return None
        locked = call.settings.get("locked") == "true"
        leg = EmuLeg(
            leg_id=str(uuid.uuid4()),
            call_id=call.call_id,
            remote_party=remote_party,
            name=remote_party,
            state="initial" if locked else "connected",
            rx_audio_mute=call.settings.get("joinAudioMuteOverride") == "true",
            connected_at=None if locked else datetime.now(UTC),
            layout=cospace.default_layout,
            direction="incoming",
        )
        call.legs[leg.leg_id] = leg
        start = ET.Element("callLeg", id=leg.leg_id)
        _sub(start, "displayName", remote_party)
        _sub(start, "remoteParty", remote_party)
        _sub(start, "localAddress", cospace.uri)
        _sub(start, "type", "sip")
        _sub(start, "direction", "incoming")
        _sub(start, "call", call.call_id)
        self._cdr("callLegStart", start)
        if not locked:
            update = ET.Element("callLeg", id=leg.leg_id)
            _sub(update, "state", "connected")
            _sub(update, "call", call.call_id)
            _sub(update, "remoteAddress", remote_party)
            _sub(update, "deactivated", "false")
            self._cdr("callLegUpdate", update)
        return leg.leg_id
