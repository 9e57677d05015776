"""A client for the Cisco Meeting Server REST API (``/api/v1``), speaking only its terms.

Shapes follow the public API reference (github.com/ciscocms/apiary, ``apiary.apib``):
HTTP basic auth; POST and PUT bodies ``application/x-www-form-urlencoded``; answers
``text/xml``; a created object's id only in the ``Location`` header
(``/api/v1/callLegs/<id>``); collections as ``<callLegs total="N"><callLeg id="...">``
pages whose size the server caps (``offset``/``limit``); errors as 4xx/5xx with an optional
``<failureDetails><reasonCode/></failureDetails>`` body; 503 means "busy, try again".

Errors: :class:`CmsApiError` (the server said no), :class:`CmsMalformed` (its answer does
not have the documented shape); transport failures become ``BridgeUnavailable`` in
:func:`~vcorch.mcu_adapter.retry.call_with_retry`.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import aiohttp

from vcorch.mcu_adapter.cisco_cms.safexml import XmlError, bool_of, parse_xml, text_of
from vcorch.mcu_adapter.retry import RetryPolicy, call_with_retry

API_PREFIX = "/api/v1"
PAGE_LIMIT = 100  # what we ask for; the server may return fewer per page
MAX_PAGES = 200  # a server that keeps paging past this is misbehaving


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
    direction: str | None = None  # incoming | outgoing (callLeg "direction")


Method = Literal["GET", "POST", "PUT", "DELETE"]
_TRANSIENT_STATUS = frozenset({502, 503, 504})


def _is_transient(err: BaseException) -> bool:
    return isinstance(err, CmsApiError) and err.status in _TRANSIENT_STATUS


class CmsClient:
    """One Meeting Server. Stateless apart from the shared HTTP session."""

    def __init__(self, settings: CmsSettings, http: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._http = http
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
    ) -> tuple[int, bytes, str | None]:
        what = f"{method} {API_PREFIX}{path}"

        async def attempt() -> tuple[int, bytes, str | None]:
            async with self._http.request(
                method,
                self._base + path,
                params=dict(query) if query else None,
                data=dict(form) if form is not None else None,
                headers=self._headers,
                allow_redirects=False,
            ) as response:
                body = await response.read()
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
        )

    async def _get_xml(self, path: str, query: Mapping[str, str] | None = None) -> ET.Element:
        _, body, _ = await self._request("GET", path, query=query, idempotent=True)
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

    async def create_call_leg(self, call_id: str, *, remote_party: str, name: str) -> str:
        form = {"remoteParty": remote_party}
        if name:
            form["nameLabelOverride"] = _utf8_prefix(name, 50)
        return await self._create(f"/calls/{call_id}/callLegs", form, "callLegs")

    async def call_legs_of_call(self, call_id: str) -> list[CmsCallLegSummary]:
        elements = await self._collection(f"/calls/{call_id}/callLegs", "callLegs", "callLeg")
        return [
            CmsCallLegSummary(
                leg_id=_id_attr(element, "callLeg"),
                name=text_of(element, "name"),
                remote_party=text_of(element, "remoteParty"),
                call_id=text_of(element, "call"),
            )
            for element in elements
        ]

    async def get_call_leg(self, leg_id: str) -> CmsCallLeg:
        what = f"GET {API_PREFIX}/callLegs/{leg_id}"
        root = await self._get_xml(f"/callLegs/{leg_id}")
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
