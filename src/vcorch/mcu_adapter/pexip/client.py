"""A client for the Pexip Infinity management REST API, speaking only its terms.

Shapes follow Pexip's public management API reference (docs.pexip.com, "Using the management
API", "Management configuration / status / command API", and the resource schemas served at
``/api/admin/schema/``; field lists as rendered in the public schema pages):

- HTTP basic auth over HTTPS; JSON bodies (``Content-Type: application/json``) and answers;
- configuration ``/api/admin/configuration/v1/conference/`` (a Virtual Meeting Room: ``name``,
  ``service_type``, ``aliases`` as ``[{"alias": ...}]``, ``pin``, ``guest_pin``,
  ``allow_guests``, ``tag``, ``description``); a POST answers ``201 Created`` with the new
  object's ``Location: .../conference/<id>/``; DELETE ``.../conference/<id>/``;
- every list (configuration or status) is a Tastypie page: ``{"meta": {"limit", "next",
  "offset", "previous", "total_count"}, "objects": [...]}``, filtered by field
  (``?name=``, ``?conference=``) and paged with ``limit``/``offset``; ``meta.next`` is the
  next page's path or ``null``;
- status ``/api/admin/status/v1/participant/`` (``id``, ``conference`` (the service name),
  ``display_name``, ``destination_alias``, ``source_alias``, ``call_direction``, ``role``,
  ``connect_time``, ``is_muted``, ``has_media``, ``service_type``, ``protocol`` ...),
  ``/api/admin/status/v1/conference/`` (``id``, ``name``, ``is_locked``, ``is_started``,
  ``guests_muted``, ``start_time``, ``tag``) and ``/api/admin/status/v1/licensing/``
  (``port_count``, ``port_total`` ...);
- commands, all POST, under ``/api/admin/command/v1/``: ``participant/dial/``
  (``conference_alias``, ``destination``, ``protocol``, ``role``, ``routing``,
  ``system_location``, ``remote_display_name``, ``call_type``), ``participant/disconnect/``,
  ``participant/mute/``, ``participant/unmute/`` (``participant_id``), ``conference/
  disconnect/``, ``conference/lock/``, ``conference/unlock/``, ``conference/mute_guests/``,
  ``conference/unmute_guests/``, ``conference/transform_layout/`` (``conference_id``,
  ``layout``); answers ``{"status": "success", "data": {...}}`` (dial: ``data.participant_id``
  and ``data.participant_ids``).

Busy (429, 503) is retried for every call, creates included (the far side did not do the
work), holding the request budget for a ``Retry-After``; other failures are retried only for
calls safe to repeat.  Every request waits for the budget first.

Errors: :class:`PexipApiError` (the server said no), :class:`PexipMalformed` (its answer does
not have the documented shape), :class:`PexipListingChanged` (a paged listing moved under us);
transport failures become ``BridgeUnavailable`` here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import aiohttp

from vcorch.mcu_adapter.base import BridgeUnavailable
from vcorch.mcu_adapter.budget import RequestBudget
from vcorch.mcu_adapter.retry import RetryPolicy

log = logging.getLogger(__name__)

ADMIN = "/api/admin"
CONFERENCE = f"{ADMIN}/configuration/v1/conference/"
STATUS_PARTICIPANT = f"{ADMIN}/status/v1/participant/"
STATUS_CONFERENCE = f"{ADMIN}/status/v1/conference/"
STATUS_LICENSING = f"{ADMIN}/status/v1/licensing/"
COMMAND = f"{ADMIN}/command/v1/"
PAGE_LIMIT = 100  # what we ask for; the server may give fewer per page
MAX_PAGES = 200  # a server that keeps paging past this is misbehaving

Method = Literal["GET", "POST", "DELETE"]
_BUSY = frozenset({429, 503})
_TRANSIENT = frozenset({502, 504})


class PexipApiError(Exception):
    """The management node answered with an error status."""

    def __init__(
        self, status: int, detail: str | None, what: str, *, retry_after: float | None = None
    ) -> None:
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"{what}: HTTP {status}{suffix}")
        self.status = status
        self.detail = detail
        self.what = what
        self.retry_after = retry_after

    @property
    def busy(self) -> bool:
        return self.status in _BUSY


class PexipMalformed(Exception):
    """The answer does not have the shape the API reference documents."""


class PexipListingChanged(Exception):
    """``total_count`` changed, or an object came twice, while a listing was paged."""


@dataclass(frozen=True)
class PexipSettings:
    base_url: str  # the Management Node, e.g. https://pexip-mgr.example.org
    username: str
    password: str
    bridge: str  # our name for it, for messages
    policy: RetryPolicy
    busy_retries: int = 4  # repeats of a call answered 429/503, creates included


@dataclass(frozen=True)
class PexipVmr:
    vmr_id: str
    name: str
    aliases: tuple[str, ...]
    pin: str
    guest_pin: str
    allow_guests: bool


@dataclass(frozen=True)
class PexipParticipant:
    participant_id: str
    conference: str
    display_name: str
    destination_alias: str | None
    source_alias: str | None
    call_direction: str | None
    role: str | None
    service_type: str | None
    has_media: bool
    is_muted: bool
    connect_time: datetime | None


@dataclass(frozen=True)
class PexipConferenceStatus:
    conference_id: str
    name: str
    is_locked: bool
    guests_muted: bool


@dataclass(frozen=True)
class PexipLicensing:
    port_count: int | None
    port_total: int | None


class PexipClient:
    """One Management Node. Stateless apart from the shared HTTP session and budget."""

    def __init__(
        self,
        settings: PexipSettings,
        http: aiohttp.ClientSession,
        budget: RequestBudget,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._http = http
        self._budget = budget
        self._sleep = sleep
        self._rand = rand
        credentials = f"{settings.username}:{settings.password}".encode()
        # Built by hand: aiohttp.BasicAuth is deprecated. Never logged.
        self._headers = {
            "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
            "Accept": "application/json",
        }
        self._base = settings.base_url.rstrip("/")
        self._netloc = urlsplit(self._base).netloc

    # -- plumbing -------------------------------------------------------------------------

    async def _request(
        self,
        method: Method,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool,
        urgent: bool = True,
    ) -> tuple[int, Any, str | None]:
        """One API call with budget, timeout and bounded repeats; ``(status, json, Location)``."""
        what = f"{method} {path}"
        url = self._base + path + (("?" + urlencode(dict(query))) if query else "")
        policy = self._settings.policy
        failures = 0
        busy = 0
        while True:
            # The budget wait is outside the per-attempt timeout: waiting our turn (or a
            # Retry-After hold) is not the far side being slow.
            await self._budget.acquire(urgent=urgent)
            try:
                async with asyncio.timeout(policy.timeout):
                    return await self._once(method, url, body, what)
            except PexipApiError as err:
                if err.busy:
                    if err.retry_after is not None:
                        self._budget.hold(err.retry_after)
                    if busy >= self._settings.busy_retries:
                        raise
                    busy += 1
                    delay = policy.delay(busy - 1, self._rand)
                elif err.status in _TRANSIENT and idempotent and failures < policy.retries:
                    failures += 1
                    delay = policy.delay(failures - 1, self._rand)
                else:
                    raise
                log.debug(
                    "%s: %s answered %d, repeat in %.2f s", self.bridge, what, err.status, delay
                )
            except (TimeoutError, aiohttp.ClientError) as err:
                # A create is repeated only when the connection was never made.
                may_repeat = isinstance(err, aiohttp.ClientConnectorError) or (
                    idempotent and not isinstance(err, aiohttp.ClientPayloadError)
                )
                if not may_repeat or failures >= policy.retries:
                    raise BridgeUnavailable(
                        self.bridge, _transport_reason(err, what, policy)
                    ) from err
                failures += 1
                delay = policy.delay(failures - 1, self._rand)
                log.debug(
                    "%s: %s failed (%s), repeat in %.2f s",
                    self.bridge,
                    what,
                    type(err).__name__,
                    delay,
                )
            await self._sleep(delay)

    @property
    def bridge(self) -> str:
        return self._settings.bridge

    async def _once(
        self, method: Method, url: str, body: Mapping[str, Any] | None, what: str
    ) -> tuple[int, Any, str | None]:
        async with self._http.request(
            method,
            url,
            json=dict(body) if body is not None else None,
            headers=self._headers,
            allow_redirects=False,
        ) as response:
            raw = await response.read()
            if response.status >= 400:
                raise PexipApiError(
                    response.status,
                    _error_detail(raw),
                    what,
                    retry_after=_retry_after(response.headers.get("Retry-After")),
                )
            location = response.headers.get("Location")
            if not raw.strip():
                return response.status, None, location
            try:
                return response.status, json.loads(raw), location
            except (ValueError, UnicodeDecodeError) as err:
                raise PexipMalformed(f"{what}: the answer is not JSON") from err

    async def _get(self, path: str, query: Mapping[str, str] | None = None, *, urgent: bool) -> Any:
        _, answer, _ = await self._request("GET", path, query=query, idempotent=True, urgent=urgent)
        return answer

    async def _listing(
        self, path: str, query: Mapping[str, str], *, urgent: bool
    ) -> list[Mapping[str, Any]]:
        """Every object of a list, following ``meta.next``.

        Offset paging is not a snapshot: an object leaving between two pages shifts the rest
        and one is never seen.  A listing is taken as the truth only when ``total_count``
        stayed the same on every page, no object came twice, the count adds up, and (for more
        than one page) the first page read again still holds the same objects.  Anything else
        raises PexipListingChanged."""
        what = f"GET {path}"
        first_query = {**query, "limit": str(PAGE_LIMIT), "offset": "0"}
        objects: list[Mapping[str, Any]] = []
        seen: set[str] = set()
        total: int | None = None
        first_ids: list[str] = []
        next_path: str | None = None
        pages = 0
        for _ in range(MAX_PAGES):
            if next_path is None:
                page = await self._get(path, first_query, urgent=urgent)
            else:
                page = await self._get(next_path, urgent=urgent)
            pages += 1
            meta, items = _page(page, what)
            count = _int_field(meta, "total_count", what)
            if total is not None and count != total:
                raise PexipListingChanged(f"{what}: total_count went from {total} to {count}")
            total = count
            for item in items:
                key = str(item.get("id", ""))
                if key and key in seen:
                    raise PexipListingChanged(f"{what}: object {key[:40]} listed twice")
                seen.add(key)
                objects.append(item)
                if pages == 1:
                    first_ids.append(key)
            following = meta.get("next")
            if following is None or not items:
                break
            next_path = self._same_server_path(following, what)
        else:
            raise PexipMalformed(f"{what}: more than {MAX_PAGES} pages")
        if len(objects) != total:
            raise PexipListingChanged(f"{what}: {len(objects)} objects for total_count {total}")
        if pages > 1:
            meta, items = _page(await self._get(path, first_query, urgent=urgent), what)
            again = [str(item.get("id", "")) for item in items]
            if _int_field(meta, "total_count", what) != total or again != first_ids:
                raise PexipListingChanged(f"{what}: the first page changed while paging")
        return objects

    def _same_server_path(self, link: object, what: str) -> str:
        """``meta.next`` as a path (with its query) on this server; anything else refused."""
        if not isinstance(link, str) or not link:
            raise PexipMalformed(f"{what}: meta.next is not a path")
        parts = urlsplit(link)
        if parts.netloc and parts.netloc != self._netloc:
            raise PexipMalformed(f"{what}: meta.next points at another server")
        if not parts.path.startswith(ADMIN + "/"):
            raise PexipMalformed(f"{what}: meta.next is outside {ADMIN}")
        return parts.path + (f"?{parts.query}" if parts.query else "")

    async def _command(self, command: str, body: Mapping[str, Any]) -> Any:
        path = COMMAND + command
        # Commands act (dial, drop, mute): none is safe to repeat after a lost answer.
        _, answer, _ = await self._request("POST", path, body=body, idempotent=False)
        if not isinstance(answer, dict) or answer.get("status") != "success":
            raise PexipMalformed(f'POST {path}: no "status": "success" in the answer')
        return answer.get("data")

    # -- status ---------------------------------------------------------------------------

    async def licensing(self) -> PexipLicensing:
        page = await self._get(STATUS_LICENSING, urgent=True)
        _, items = _page(page, f"GET {STATUS_LICENSING}")
        if not items:
            return PexipLicensing(port_count=None, port_total=None)
        first = items[0]
        what = f"GET {STATUS_LICENSING}"
        return PexipLicensing(
            port_count=_opt_int(first, "port_count", what),
            port_total=_opt_int(first, "port_total", what),
        )

    async def participants(
        self, conference: str, *, urgent: bool = False
    ) -> list[PexipParticipant]:
        items = await self._listing(STATUS_PARTICIPANT, {"conference": conference}, urgent=urgent)
        found = [_participant(item, f"GET {STATUS_PARTICIPANT}") for item in items]
        # The filter is the service name; keep only exact matches, as the reference's field is.
        return [participant for participant in found if participant.conference == conference]

    async def participant(self, participant_id: str) -> PexipParticipant | None:
        path = f"{STATUS_PARTICIPANT}{_path_part(participant_id)}/"
        try:
            item = await self._get(path, urgent=False)
        except PexipApiError as err:
            if err.status == 404:
                return None
            raise
        if not isinstance(item, dict):
            raise PexipMalformed(f"GET {path}: not an object")
        return _participant(item, f"GET {path}")

    async def conference_status(self, name: str) -> PexipConferenceStatus | None:
        items = await self._listing(STATUS_CONFERENCE, {"name": name}, urgent=True)
        what = f"GET {STATUS_CONFERENCE}"
        for item in items:
            if item.get("name") == name:
                return PexipConferenceStatus(
                    conference_id=_str_field(item, "id", what),
                    name=name,
                    is_locked=bool(item.get("is_locked")),
                    guests_muted=bool(item.get("guests_muted")),
                )
        return None

    # -- configuration --------------------------------------------------------------------

    async def find_vmr(self, name: str) -> PexipVmr | None:
        items = await self._listing(CONFERENCE, {"name": name}, urgent=True)
        for item in items:
            if item.get("name") == name:
                return _vmr(item, f"GET {CONFERENCE}")
        return None

    async def get_vmr(self, vmr_id: str) -> PexipVmr | None:
        path = f"{CONFERENCE}{_path_part(vmr_id)}/"
        try:
            item = await self._get(path, urgent=True)
        except PexipApiError as err:
            if err.status == 404:
                return None
            raise
        if not isinstance(item, dict):
            raise PexipMalformed(f"GET {path}: not an object")
        return _vmr(item, f"GET {path}")

    async def create_vmr(
        self,
        *,
        name: str,
        aliases: tuple[str, ...],
        description: str,
        tag: str,
        pin: str,
        guest_pin: str,
        allow_guests: bool,
    ) -> str:
        body: dict[str, Any] = {
            "name": name,
            "service_type": "conference",
            "description": description,
            "tag": tag,
            "aliases": [{"alias": alias} for alias in aliases],
            "pin": pin,
            "guest_pin": guest_pin,
            "allow_guests": allow_guests,
        }
        _, _, location = await self._request("POST", CONFERENCE, body=body, idempotent=False)
        return _id_from_location(location, CONFERENCE, f"POST {CONFERENCE}")

    async def delete_vmr(self, vmr_id: str) -> None:
        await self._request("DELETE", f"{CONFERENCE}{_path_part(vmr_id)}/", idempotent=True)

    # -- commands -------------------------------------------------------------------------

    async def dial(
        self,
        *,
        conference_alias: str,
        destination: str,
        protocol: str,
        role: str,
        remote_display_name: str,
        routing: str,
        system_location: str | None,
    ) -> str:
        body: dict[str, Any] = {
            "conference_alias": conference_alias,
            "destination": destination,
            "protocol": protocol,
            "role": role,
            "routing": routing,
            "remote_display_name": remote_display_name,
            "call_type": "video",
            "streaming": False,
        }
        if system_location:
            body["system_location"] = system_location
        data = await self._command("participant/dial/", body)
        what = f"POST {COMMAND}participant/dial/"
        if isinstance(data, dict):
            single = data.get("participant_id")
            if isinstance(single, str) and single:
                return single
            many = data.get("participant_ids")
            if isinstance(many, list) and many and isinstance(many[0], str) and many[0]:
                return str(many[0])
        raise PexipMalformed(f"{what}: no participant_id in the answer")

    async def participant_command(self, command: str, participant_id: str) -> None:
        await self._command(f"participant/{command}/", {"participant_id": participant_id})

    async def conference_command(
        self, command: str, conference_id: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        await self._command(
            f"conference/{command}/", {"conference_id": conference_id, **(extra or {})}
        )


# -- helpers ------------------------------------------------------------------------------


def _transport_reason(err: BaseException, what: str, policy: RetryPolicy) -> str:
    if isinstance(err, TimeoutError):
        return f"{what}: no answer within {policy.timeout:g} s"
    if isinstance(err, aiohttp.ClientConnectorError):
        return f"{what}: cannot connect"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return f"{what}: the far side closed the connection"
    if isinstance(err, aiohttp.ClientPayloadError):
        return f"{what}: truncated response"
    return f"{what}: {type(err).__name__}"


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (RFC 9110: delay-seconds; an HTTP date is not used here)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, 300.0)


def _error_detail(raw: bytes) -> str | None:
    """A short reason from an error body: Tastypie's ``error``/``error_message`` or a
    command's ``message``; never the whole body (it could echo what we sent)."""
    try:
        parsed = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(parsed, dict):
        for key in ("error", "error_message", "message", "reason"):
            value = parsed.get(key)
            if isinstance(value, str) and value:
                return value[:120]
    return None


def _page(page: object, what: str) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
    if not isinstance(page, dict):
        raise PexipMalformed(f"{what}: the answer is not a list page")
    meta = page.get("meta")
    objects = page.get("objects")
    if not isinstance(meta, dict) or not isinstance(objects, list):
        raise PexipMalformed(f"{what}: no meta/objects in the answer")
    if not all(isinstance(item, dict) for item in objects):
        raise PexipMalformed(f"{what}: objects are not all objects")
    return meta, objects


def _int_field(item: Mapping[str, Any], name: str, what: str) -> int:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PexipMalformed(f"{what}: {name} is not a number")
    return value


def _opt_int(item: Mapping[str, Any], name: str, what: str) -> int | None:
    if item.get(name) is None:
        return None
    return _int_field(item, name, what)


def _str_field(item: Mapping[str, Any], name: str, what: str) -> str:
    value = item.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise PexipMalformed(f"{what}: no {name}")
    return value


def _opt_str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value if isinstance(value, str) and value else None


def _participant(item: Mapping[str, Any], what: str) -> PexipParticipant:
    return PexipParticipant(
        participant_id=_str_field(item, "id", what),
        conference=_str_field(item, "conference", what),
        display_name=_opt_str(item, "display_name") or "",
        destination_alias=_opt_str(item, "destination_alias"),
        source_alias=_opt_str(item, "source_alias"),
        call_direction=_opt_str(item, "call_direction"),
        role=_opt_str(item, "role"),
        service_type=_opt_str(item, "service_type"),
        has_media=bool(item.get("has_media")),
        is_muted=bool(item.get("is_muted")),
        connect_time=_datetime(item.get("connect_time"), f"{what}: connect_time"),
    )


def _vmr(item: Mapping[str, Any], what: str) -> PexipVmr:
    aliases_raw = item.get("aliases") or []
    if not isinstance(aliases_raw, list):
        raise PexipMalformed(f"{what}: aliases is not a list")
    aliases: list[str] = []
    for alias in aliases_raw:
        # Nested alias objects ({"alias": ...}) or their resource URIs, as the schema allows.
        if isinstance(alias, dict) and isinstance(alias.get("alias"), str):
            aliases.append(alias["alias"])
    return PexipVmr(
        vmr_id=_str_field(item, "id", what),
        name=_str_field(item, "name", what),
        aliases=tuple(aliases),
        pin=_opt_str(item, "pin") or "",
        guest_pin=_opt_str(item, "guest_pin") or "",
        allow_guests=bool(item.get("allow_guests")),
    )


def _datetime(value: object, what: str) -> datetime | None:
    """Status API datetimes are ISO 8601 (naive ones are UTC, as the node's clock is)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PexipMalformed(f"{what} is not a date")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise PexipMalformed(f"{what} is not a date") from err
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _path_part(value: str) -> str:
    if not value or "/" in value or "?" in value or "#" in value or ".." in value:
        raise PexipMalformed("an id with path characters")
    return value


def _id_from_location(location: str | None, collection: str, what: str) -> str:
    if not location:
        raise PexipMalformed(f"{what}: no Location header in the answer")
    path = urlsplit(location).path
    if not path.startswith(collection):
        raise PexipMalformed(f"{what}: Location {location[:80]!r} is not {collection}<id>/")
    rest = path[len(collection) :].strip("/")
    if not rest or "/" in rest:
        raise PexipMalformed(f"{what}: Location {location[:80]!r} is not {collection}<id>/")
    return rest
