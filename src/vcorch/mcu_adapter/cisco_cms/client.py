"""A client for the Cisco Meeting Server REST API (``/api/v1``), speaking only its terms.

Shapes follow the public API reference (github.com/ciscocms/apiary, ``apiary.apib``):
HTTP basic auth; POST and PUT bodies ``application/x-www-form-urlencoded``; answers
``text/xml``; a created object's id only in the ``Location`` header
(``/api/v1/callLegs/<id>``); collections as ``<callLegs total="N"><callLeg id="...">``
pages whose size the server caps (``offset``/``limit``); errors as 4xx/5xx with an optional
``<failureDetails><reasonCode/></failureDetails>`` body; 503 means "busy, try again"
("API Methods": a temporary busy condition; "re-attempt the same method later").

Every request waits its turn in the bridge's request budget (``budget``; ``urgent`` for
acts, not for supervision's reads) and a busy answer (503, or 429 from a proxy in front)
is repeated within it and ends as ``BridgeBusy`` (:mod:`vcorch.mcu_adapter.retry`).

Paged listings: the reference warns that offset paging "will not necessarily be operating
on the same complete list if any objects have been deleted or added in the interval"
("Using limit and offset at the Collections level").  :meth:`CmsClient.call_legs_of_call`
therefore reads pages that overlap by one item and raises :class:`CmsListingShifted` when
``total`` changes between pages, a page does not start with the last item of the one
before, an id repeats, or the items do not add up to ``total``.

Errors: :class:`CmsApiError` (the server said no), :class:`CmsMalformed` (its answer does
not have the documented shape), :class:`CmsListingShifted`; transport failures become
``BridgeUnavailable`` in :func:`~vcorch.mcu_adapter.retry.call_with_retry`.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import aiohttp

from vcorch.mcu_adapter.budget import RequestBudget
from vcorch.mcu_adapter.cisco_cms.safexml import XmlError, bool_of, parse_xml, text_of
from vcorch.mcu_adapter.retry import RetryPolicy, busy_of, call_with_retry

API_PREFIX = "/api/v1"
PAGE_LIMIT = 100  # what we ask for; the server may return fewer per page
MAX_PAGES = 1000  # a server that keeps paging past this is misbehaving


class CmsApiError(Exception):
    """The Meeting Server answered with an error status."""

    def __init__(self, status: int, failure: str | None, what: str) -> None:
        detail = f" ({failure})" if failure else ""
        super().__init__(f"{what}: HTTP {status}{detail}")
        self.status = status
        self.failure = failure  # the failureDetails reason code, e.g. "callLegDoesNotExist"
        self.what = what


class CmsMalformed(Exception):
    """The answer does not have the shape the API reference documents."""


class CmsListingShifted(Exception):
    """A paged listing changed while its pages were read (see the module docstring)."""


@dataclass(frozen=True)
class CmsSettings:
    base_url: str  # e.g. https://cms.example.org:445 (the /api/v1 prefix is added here)
    username: str
    password: str
    bridge: str  # our name for this server, for messages
    policy: RetryPolicy


@dataclass(frozen=True)
class CmsStatus:
    software_version: str | None
    call_legs_active: int | None
    cdr_time: str | None


@dataclass(frozen=True)
class CmsCoSpace:
    cospace_id: str
    name: str | None
    uri: str | None


@dataclass(frozen=True)
class CmsCoSpaceAccess:
    """How a guest gets into a coSpace (API reference, "Retrieving information on an
    individual coSpace"): ``callId``, the numeric ID typed into the web app or the IVR;
    ``secret``, the security string of its guest links; ``passcode``, asked on joining."""

    call_id: str | None
    secret: str | None
    passcode: str | None


@dataclass(frozen=True)
class CmsCall:
    call_id: str
    name: str | None
    cospace_id: str | None


@dataclass(frozen=True)
class CmsCallLegSummary:
    """One ``<callLeg>`` of a ``/calls/<id>/callLegs`` page.  The reference's list gives
    only ``id``, ``name``, ``remoteParty``, ``originalRemoteParty``, ``call``, ``tenant``
    and ``alarms`` ("Retrieving Information on Active Call Legs"): no state, no ownerId."""

    leg_id: str
    name: str | None
    remote_party: str | None
    call_id: str | None


@dataclass(frozen=True)
class CmsCallLeg:
    leg_id: str
    name: str | None
    remote_party: str | None
    call_id: str | None
    state: str | None  # initial | ringing | connected | onHold
    duration_seconds: int | None
    rx_audio_mute: bool
    owner_id: str | None = None  # configuration/ownerId: what the POST set (the site tag)
    direction: str | None = None  # incoming | outgoing (callLeg "direction")


Method = Literal["GET", "POST", "PUT", "DELETE"]
# Worth repeating when repeating is safe; 503 (and 429) are "busy", repeated always.
_TRANSIENT_STATUS = frozenset({502, 504})


def _is_transient(err: BaseException) -> bool:
    return isinstance(err, CmsApiError) and err.status in _TRANSIENT_STATUS


class CmsClient:
    """One Meeting Server. Stateless apart from the shared HTTP session."""

    def __init__(
        self,
        settings: CmsSettings,
        http: aiohttp.ClientSession,
        *,
        budget: RequestBudget | None = None,
        page_size: int = 10,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._http = http
        self._budget = budget
        self._now = now
        # The server's own page cap as seen (the reference: "the Meeting Server will have
        # its own limit"); starts at what the operator says (options.api_page_size).
        self.page_size = max(1, page_size)
        self.requests_sent = 0
        credentials = f"{settings.username}:{settings.password}".encode()
        # Built by hand: aiohttp.BasicAuth is deprecated. Never logged.
        self._headers = {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}
        self._base = settings.base_url.rstrip("/") + API_PREFIX

    # -- plumbing -------------------------------------------------------------------------

    async def _request(
        self,
        method: Method,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        idempotent: bool,
        urgent: bool = True,
    ) -> tuple[int, bytes, str | None]:
        what = f"{method} {API_PREFIX}{path}"

        async def attempt() -> tuple[int, bytes, str | None]:
            self.requests_sent += 1
            async with self._http.request(
                method,
                self._base + path,
                params=dict(query) if query else None,
                data=dict(form) if form is not None else None,
                headers=self._headers,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                busy = busy_of(response.status, response.headers, what, self._now())
                if busy is not None:
                    raise busy
                if response.status >= 400:
                    raise CmsApiError(response.status, _failure_reason(body), what)
                return response.status, body, response.headers.get("Location")

        return await call_with_retry(
            attempt,
            bridge=self._settings.bridge,
            what=what,
            policy=self._settings.policy,
            idempotent=idempotent,
            transient=_is_transient,
            budget=self._budget,
            urgent=urgent,
        )

    async def _get_xml(
        self, path: str, query: Mapping[str, str] | None = None, *, urgent: bool = True
    ) -> ET.Element:
        _, body, _ = await self._request("GET", path, query=query, idempotent=True, urgent=urgent)
        try:
            return parse_xml(body)
        except XmlError as err:
            raise CmsMalformed(f"GET {API_PREFIX}{path}: {err}") from err

    async def _create(self, path: str, form: Mapping[str, str], collection: str) -> str:
        _, _, location = await self._request("POST", path, form=form, idempotent=False)
        return _id_from_location(location, collection, f"POST {API_PREFIX}{path}")

    async def _collection(
        self, path: str, root_tag: str, item_tag: str, query: Mapping[str, str] | None = None
    ) -> list[ET.Element]:
        """Every item of a collection, following ``offset`` until ``total`` is reached."""
        items: list[ET.Element] = []
        for _ in range(MAX_PAGES):
            page_query = {**(query or {}), "offset": str(len(items)), "limit": str(PAGE_LIMIT)}
            root = await self._get_xml(path, page_query)
            if root.tag != root_tag:
                raise CmsMalformed(f"GET {API_PREFIX}{path}: root <{root.tag}>, not <{root_tag}>")
            total = _int_attr(root, "total", f"GET {API_PREFIX}{path}")
            page = root.findall(item_tag)
            items.extend(page)
            if not page or len(items) >= total:
                return items
        raise CmsMalformed(f"GET {API_PREFIX}{path}: more than {MAX_PAGES} pages")

    async def _consistent_collection(
        self, path: str, root_tag: str, item_tag: str, *, urgent: bool
    ) -> list[ET.Element]:
        """Every item of a collection read as one consistent list, or
        :class:`CmsListingShifted`.  Pages after the first start one item early: that item
        must be the last one already read, so a leg leaving or coming before the page
        boundary shows as a shift instead of silently skipping or repeating a leg."""
        what = f"GET {API_PREFIX}{path}"
        items: list[ET.Element] = []
        seen: set[str] = set()
        first_total: int | None = None
        offset = 0
        for _ in range(MAX_PAGES):
            query = {"offset": str(offset), "limit": str(PAGE_LIMIT)}
            root = await self._get_xml(path, query, urgent=urgent)
            if root.tag != root_tag:
                raise CmsMalformed(f"{what}: root <{root.tag}>, not <{root_tag}>")
            total = _int_attr(root, "total", what)
            if first_total is None:
                first_total = total
            elif total != first_total:
                raise CmsListingShifted(f"{what}: total went from {first_total} to {total}")
            raw = root.findall(item_tag)
            page = raw
            if offset and items:
                if not raw or raw[0].get("id") != items[-1].get("id"):
                    raise CmsListingShifted(f"{what}: the page at {offset} moved")
                page = raw[1:]
            for element in page:
                leg_id = _id_attr(element, item_tag)
                if leg_id in seen:
                    raise CmsListingShifted(f"{what}: {item_tag} {leg_id} listed twice")
                seen.add(leg_id)
            items.extend(page)
            if len(items) >= total or not page:
                if len(items) != total:
                    raise CmsListingShifted(f"{what}: {len(items)} items, total {total}")
                return items
            # Not the last page: what it held is the server's page cap.
            self.page_size = max(1, min(len(raw), PAGE_LIMIT))
            # Overlap by one when pages hold more than one item (else no progress).
            offset = len(items) - 1 if len(raw) > 1 else len(items)
        raise CmsMalformed(f"{what}: more than {MAX_PAGES} pages")

    def listing_requests(self, legs: int) -> int:
        """Pages :meth:`call_legs_of_call` reads for ``legs`` legs at the page size seen."""
        size = self.page_size
        if legs <= size:
            return 1
        if size <= 1:
            return legs
        return 1 + -(-(legs - size) // (size - 1))

    # -- system ---------------------------------------------------------------------------

    async def system_status(self) -> CmsStatus:
        root = await self._get_xml("/system/status")
        if root.tag != "status":
            raise CmsMalformed(f"GET {API_PREFIX}/system/status: root <{root.tag}>")
        legs = text_of(root, "callLegsActive")
        return CmsStatus(
            software_version=text_of(root, "softwareVersion"),
            call_legs_active=_to_int(legs, "callLegsActive") if legs else None,
            cdr_time=text_of(root, "cdrTime"),
        )

    # -- coSpaces -------------------------------------------------------------------------

    async def find_cospace_by_uri(self, uri: str) -> CmsCoSpace | None:
        """The coSpace whose ``uri`` is exactly ``uri`` (the filter itself matches loosely)."""
        for element in await self._collection("/coSpaces", "coSpaces", "coSpace", {"filter": uri}):
            cospace = CmsCoSpace(
                cospace_id=_id_attr(element, "coSpace"),
                name=text_of(element, "name"),
                uri=text_of(element, "uri"),
            )
            if cospace.uri == uri:
                return cospace
        return None

    async def create_cospace(
        self, *, name: str, uri: str, cdr_tag: str, passcode: str | None
    ) -> str:
        form = {"name": name, "uri": uri, "cdrTag": cdr_tag}
        if passcode:
            form["passcode"] = passcode
        return await self._create("/coSpaces", form, "coSpaces")

    async def delete_cospace(self, cospace_id: str) -> None:
        await self._request("DELETE", f"/coSpaces/{cospace_id}", idempotent=True)

    async def cospace_access(self, cospace_id: str) -> CmsCoSpaceAccess:
        root = await self._get_xml(f"/coSpaces/{cospace_id}")
        if root.tag != "coSpace":
            raise CmsMalformed(f"GET {API_PREFIX}/coSpaces/{cospace_id}: root <{root.tag}>")
        return CmsCoSpaceAccess(
            call_id=text_of(root, "callId") or None,
            secret=text_of(root, "secret") or None,
            passcode=text_of(root, "passcode") or None,
        )

    async def require_call_id(self, cospace_id: str) -> None:
        # API reference, coSpace parameters: requireCallId=true assigns an auto-generated
        # callId when the coSpace has none.  Setting it again changes nothing.
        await self._request(
            "PUT", f"/coSpaces/{cospace_id}", form={"requireCallId": "true"}, idempotent=True
        )

    # -- calls ----------------------------------------------------------------------------

    async def calls_of_cospace(self, cospace_id: str) -> list[CmsCall]:
        elements = await self._collection("/calls", "calls", "call", {"coSpaceFilter": cospace_id})
        calls = [
            CmsCall(
                call_id=_id_attr(element, "call"),
                name=text_of(element, "name"),
                cospace_id=text_of(element, "coSpace"),
            )
            for element in elements
        ]
        return [call for call in calls if call.cospace_id == cospace_id]

    async def create_call(self, cospace_id: str) -> str:
        return await self._create("/calls", {"coSpace": cospace_id}, "calls")

    async def get_call(self, call_id: str) -> CmsCall:
        root = await self._get_xml(f"/calls/{call_id}")
        if root.tag != "call":
            raise CmsMalformed(f"GET {API_PREFIX}/calls/{call_id}: root <{root.tag}>")
        return CmsCall(
            call_id=_id_attr(root, "call"),
            name=text_of(root, "name"),
            cospace_id=text_of(root, "coSpace"),
        )

    async def delete_call(self, call_id: str) -> None:
        await self._request("DELETE", f"/calls/{call_id}", idempotent=True)

    # -- call legs ------------------------------------------------------------------------

    async def create_call_leg(
        self, call_id: str, *, remote_party: str, name: str, owner_id: str | None = None
    ) -> str:
        form = {"remoteParty": remote_party}
        if name:
            form["nameLabelOverride"] = _utf8_prefix(name, 50)
        if owner_id:
            # callLeg attributes: "ownerId (ID) - an ID for the Meeting Server to associate
            # with this call leg ... returned when the call leg is later queried".
            form["ownerId"] = owner_id
        return await self._create(f"/calls/{call_id}/callLegs", form, "callLegs")

    async def call_legs_of_call(
        self, call_id: str, *, urgent: bool = False
    ) -> list[CmsCallLegSummary]:
        """The call's active legs as one consistent listing (or :class:`CmsListingShifted`)."""
        elements = await self._consistent_collection(
            f"/calls/{call_id}/callLegs", "callLegs", "callLeg", urgent=urgent
        )
        return [
            CmsCallLegSummary(
                leg_id=_id_attr(element, "callLeg"),
                name=text_of(element, "name"),
                remote_party=text_of(element, "remoteParty"),
                call_id=text_of(element, "call"),
            )
            for element in elements
        ]

    async def get_call_leg(self, leg_id: str, *, urgent: bool = False) -> CmsCallLeg:
        what = f"GET {API_PREFIX}/callLegs/{leg_id}"
        root = await self._get_xml(f"/callLegs/{leg_id}", urgent=urgent)
        if root.tag != "callLeg":
            raise CmsMalformed(f"{what}: root <{root.tag}>")
        status = root.find("status")
        configuration = root.find("configuration")
        try:
            muted = bool_of(configuration, "rxAudioMute") if configuration is not None else None
        except XmlError as err:
            raise CmsMalformed(f"{what}: {err}") from err
        duration = text_of(status, "durationSeconds") if status is not None else None
        return CmsCallLeg(
            leg_id=_id_attr(root, "callLeg"),
            name=text_of(root, "name"),
            remote_party=text_of(root, "remoteParty"),
            call_id=text_of(root, "call"),
            state=text_of(status, "state") if status is not None else None,
            duration_seconds=_to_int(duration, "durationSeconds") if duration else None,
            rx_audio_mute=bool(muted),
            owner_id=(text_of(configuration, "ownerId") if configuration is not None else None)
            or text_of(root, "ownerId")
            or None,
            direction=text_of(root, "direction")
            or (text_of(status, "direction") if status is not None else None),
        )

    async def update_call_leg(self, leg_id: str, form: Mapping[str, str]) -> None:
        # A PUT sets values; repeating it sets the same values again.
        await self._request("PUT", f"/callLegs/{leg_id}", form=form, idempotent=True)

    async def delete_call_leg(self, leg_id: str) -> None:
        await self._request("DELETE", f"/callLegs/{leg_id}", idempotent=True)

    # -- in-call control (API reference: "Modifying a call", PUT /calls/<call id>; "Set
    # properties for all participants in a conference", PUT /calls/<call id>/participants/*;
    # coSpace ``defaultLayout``, "the default layout to be used for new call legs") -----

    async def update_call(self, call_id: str, form: Mapping[str, str]) -> None:
        """``locked``, ``messageText``/``messagePosition``/``messageDuration``...: a PUT sets
        values, so repeating it changes nothing more."""
        await self._request("PUT", f"/calls/{call_id}", form=form, idempotent=True)

    async def update_all_participants(self, call_id: str, form: Mapping[str, str]) -> None:
        """``rxAudioMute``, ``layout``... for every participant of the call at once."""
        await self._request("PUT", f"/calls/{call_id}/participants/*", form=form, idempotent=True)

    async def update_cospace(self, cospace_id: str, form: Mapping[str, str]) -> None:
        await self._request("PUT", f"/coSpaces/{cospace_id}", form=form, idempotent=True)


# -- helpers ------------------------------------------------------------------------------


def _failure_reason(body: bytes) -> str | None:
    """The first reason code of a ``<failureDetails>`` body, if there is one."""
    if not body.strip():
        return None
    try:
        root = parse_xml(body)
    except XmlError:
        return None
    if root.tag != "failureDetails":
        return None
    for child in root:
        return child.tag
    return None


def _id_from_location(location: str | None, collection: str, what: str) -> str:
    if not location:
        raise CmsMalformed(f"{what}: no Location header in the answer")
    path = urlsplit(location).path.rstrip("/")
    prefix = f"{API_PREFIX}/{collection}/"
    if not path.startswith(prefix) or "/" in path[len(prefix) :] or len(path) == len(prefix):
        raise CmsMalformed(f"{what}: Location {location[:80]!r} is not {prefix}<id>")
    return path[len(prefix) :]


def _id_attr(element: ET.Element, tag: str) -> str:
    value = element.get("id")
    if not value:
        raise CmsMalformed(f"<{tag}> without an id attribute")
    return value


def _int_attr(element: ET.Element, name: str, what: str) -> int:
    value = element.get(name)
    if value is None:
        raise CmsMalformed(f"{what}: <{element.tag}> has no {name} attribute")
    return _to_int(value, name)


def _to_int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError as err:
        raise CmsMalformed(f"{name} is not a number: {value[:40]!r}") from err


def _utf8_prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` that fits ``limit`` bytes of UTF-8."""
    encoded = text.encode("utf-8")[:limit]
    return encoded.decode("utf-8", errors="ignore")
