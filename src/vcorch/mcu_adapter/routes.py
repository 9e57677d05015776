"""HTTP edge of the bridges: their status for operators, and the hooks they push events to."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from vcorch.access import STAFF
from vcorch.errors import NotFound
from vcorch.mcu_adapter.base import BridgeEvent, BridgeProtocolError, InboundRequest, NotSupported
from vcorch.mcu_adapter.errors import HookUnauthenticated, MalformedEvents
from vcorch.mcu_adapter.health import BridgeHealthCoordinator
from vcorch.mcu_adapter.registry import BridgeRegistry
from vcorch.web import ApiRoutes, HttpProblem, checked_json

REGISTRY = web.AppKey("bridge_registry", BridgeRegistry)
EVENT_SINK = web.AppKey[Callable[[str, Sequence[BridgeEvent]], Awaitable[int]]]("bridge_event_sink")
# Keeps a body the bridge's adapter cannot read: (bridge, reason, content type, body) -> id.
REJECTED_SINK = web.AppKey[Callable[[str, str, str, bytes], Awaitable[int]]]("bridge_rejected_sink")
BRIDGE_HEALTH = web.AppKey("bridge_health", BridgeHealthCoordinator)

log = logging.getLogger(__name__)
routes = ApiRoutes(tag="Bridges")
VIEWERS = STAFF


class BridgeOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: str
    enabled: bool
    loaded: bool
    healthy: bool | None
    version: str | None
    ports_total: int | None
    ports_in_use: int | None
    load: float | None
    priority: int
    units: list[str]
    last_error: str | None


class BridgeList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BridgeOut]


class HookAccepted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    received: int
    stored: int
    # Set when the body could not be read: it was kept as this rejected record instead.
    rejected_id: int | None = None
    rejected_reason: str | None = None


async def _fresh_snapshot(app: web.Application) -> list[BridgeOut]:
    health = app[BRIDGE_HEALTH]
    await health.fresh()
    return [
        BridgeOut.model_validate({**asdict(row), "units": list(row.units)})
        for row in health.statuses()
    ]


@routes.get(
    "/api/bridges",
    summary="Bridges: health, ports, version, last error",
    response=BridgeList,
    roles=VIEWERS,
)
async def list_bridges(app: web.Application) -> BridgeList:
    return BridgeList(items=await _fresh_snapshot(app))


@routes.get("/api/bridges/{name}", summary="One bridge", response=BridgeOut, roles=VIEWERS)
async def get_bridge(name: str, app: web.Application) -> BridgeOut:
    for row in await _fresh_snapshot(app):
        if row.name == name:
            return row
    raise NotFound("no such bridge")


WRONG_CREDENTIALS = "the bridge's hook credentials are wrong"


def _looks_like_json(content_type: str, body: bytes) -> bool:
    return "json" in content_type or body.lstrip()[:1] in (b"[", b"{")


@routes.post(
    "/api/hooks/{bridge}{tail:(/.*)?}",
    summary="Events a bridge pushes (CDRs, event handlers, webhooks); stored before the answer",
    response=HookAccepted,
    authenticated=False,
    description="Authenticated per bridge (shared secret header, basic auth or token parameter).",
)
async def receive_hook(request: web.Request) -> HookAccepted:
    name = request.match_info["bridge"]
    bridge = request.app[REGISTRY].get(name)
    if bridge is None:
        # Exactly as a wrong secret: the names of the bridges are not told to strangers.
        raise HookUnauthenticated(WRONG_CREDENTIALS)
    inbound = InboundRequest(
        method=request.method,
        path=request.path,
        headers=dict(request.headers),
        query=dict(request.query),
        body=await request.read(),
    )
    try:
        authentic = bridge.authenticate_hook(inbound)
    except ValueError:  # UnicodeError, binascii.Error: bytes that are not even text
        authentic = False
    if not authentic:
        raise HookUnauthenticated(WRONG_CREDENTIALS)
    if _looks_like_json(request.content_type, inbound.body):
        # The API's limits (depth, UTF-8) before a bridge's own parser recurses into it;
        # the size limit is the application's, as for every body.  A body beyond them is
        # kept as rejected, not refused: an authenticated sender is never answered an error
        # (Janus' event handler drops what is answered 4xx/5xx; CMS resends it for ever).
        try:
            checked_json(inbound.body)
        except HttpProblem as err:
            return await _reject(request, name, err.detail, inbound.body)
    try:
        events = bridge.parse_events(inbound)
    except RecursionError:
        return await _reject(request, name, "the body is nested too deep", inbound.body)
    except BridgeProtocolError as err:
        return await _reject(request, name, err.reason, inbound.body)
    except NotSupported as err:
        raise NotFound("this bridge pushes no events") from err
    except Exception as err:
        # A shape the adapter's parser did not foresee: kept, answered 200, logged (the
        # error's type only: the body may hold what a log must not).
        log.warning("bridge %s: a pushed body broke its parser (%s)", name, type(err).__name__)
        return await _reject(
            request, name, f"the body could not be read ({type(err).__name__})", inbound.body
        )
    stored = await request.app[EVENT_SINK](name, events)
    return HookAccepted(received=len(events), stored=stored)


async def _reject(request: web.Request, bridge: str, reason: str, body: bytes) -> HookAccepted:
    # Answered 2xx once kept: a bridge resends what is refused, and a CMS resending one bad
    # CDR batch for ever holds back every later record.
    keep = request.app.get(REJECTED_SINK)
    if keep is None:
        raise MalformedEvents(reason)
    kept = await keep(bridge, reason, request.content_type, body)
    return HookAccepted(received=0, stored=0, rejected_id=kept, rejected_reason=reason[:500])
