"""HTTP edge of the organisation: units, unit levels, rooms, endpoints and site groups."""

from __future__ import annotations

import re

from aiohttp import web

from vcorch.access import EVERYONE, STAFF, Actor, Principal, Role
from vcorch.errors import PermissionDenied
from vcorch.rooms import schemas
from vcorch.rooms.service import RoomsService
from vcorch.rooms.site_groups import SiteGroupView
from vcorch.web import (
    ApiRoutes,
    Created,
    CrudResource,
    Methods,
    NoContent,
    Reply,
    Summaries,
    decode_cursor,
    encode_cursor,
)

routes = ApiRoutes(tag="Organisation")
ROOMS = web.AppKey("rooms", RoomsService)

READERS = EVERYONE
UNIT_WRITERS = (Role.ADMIN,)
ROOM_WRITERS = (Role.ADMIN, Role.SECRETARIAT)
ENDPOINT_WRITERS = (Role.ADMIN, Role.SECRETARIAT, Role.OPERATOR)


def _service(app: web.Application) -> RoomsService:
    return app[ROOMS]


# -- levels -------------------------------------------------------------------------------------


@routes.get(
    "/api/unit-levels",
    summary="List the levels of the unit tree",
    response=schemas.LevelList,
    roles=READERS,
)
async def list_levels(app: web.Application) -> schemas.LevelList:
    levels = await app[ROOMS].list_levels()
    items = [schemas.LevelOut.model_validate(level, from_attributes=True) for level in levels]
    return schemas.LevelList(items=items)


@routes.post(
    "/api/unit-levels",
    summary="Add a level (after an administrative reform)",
    body=schemas.LevelCreate,
    response=schemas.LevelOut,
    status=201,
    roles=UNIT_WRITERS,
)
async def create_level(
    data: schemas.LevelCreate, actor: Actor, app: web.Application
) -> schemas.LevelOut:
    if actor.principal.unit_path.count("/") != 2:
        raise PermissionDenied("only administrators of the root unit define levels")
    level = await app[ROOMS].create_level(actor, data)
    return schemas.LevelOut.model_validate(level, from_attributes=True)


# -- units, rooms, endpoints ------------------------------------------------------------------

CrudResource(
    path="/api/units",
    name="unit",
    plural="units",
    service=_service,
    methods=Methods(
        list=RoomsService.list_units,
        create=RoomsService.create_unit,
        get=RoomsService.get_unit,
        update=RoomsService.update_unit,
        delete=RoomsService.delete_unit,
    ),
    query=schemas.UnitQuery,
    page=schemas.UnitPage,
    create_body=schemas.UnitCreate,
    update_body=schemas.UnitUpdate,
    out=schemas.UnitOut,
    summaries=Summaries(
        list="List units in your scope",
        create="Create a unit",
        get="Read a unit",
        update="Change or move a unit",
        delete="Delete a unit nothing refers to",
    ),
    readers=READERS,
    writers=UNIT_WRITERS,
).declare(routes)

CrudResource(
    path="/api/rooms",
    name="room",
    plural="rooms",
    service=_service,
    methods=Methods(
        list=RoomsService.list_rooms,
        create=RoomsService.create_room,
        get=RoomsService.get_room,
        update=RoomsService.update_room,
        delete=RoomsService.delete_room,
    ),
    query=schemas.RoomQuery,
    page=schemas.RoomPage,
    create_body=schemas.RoomCreate,
    update_body=schemas.RoomUpdate,
    out=schemas.RoomOut,
    summaries=Summaries(
        list="List rooms in your scope",
        create="Create a room",
        get="Read a room",
        update="Change a room",
        delete="Delete a room nothing refers to",
    ),
    readers=READERS,
    writers=ROOM_WRITERS,
).declare(routes)

CrudResource(
    path="/api/endpoints",
    name="endpoint",
    plural="endpoints",
    service=_service,
    methods=Methods(
        list=RoomsService.list_endpoints,
        create=RoomsService.create_endpoint,
        get=RoomsService.get_endpoint,
        update=RoomsService.update_endpoint,
        delete=RoomsService.delete_endpoint,
    ),
    query=schemas.EndpointQuery,
    page=schemas.EndpointPage,
    create_body=schemas.EndpointCreate,
    update_body=schemas.EndpointUpdate,
    out=schemas.EndpointOut,
    summaries=Summaries(
        list="List endpoints in your scope",
        create="Register an endpoint (room system)",
        get="Read an endpoint",
        update="Change an endpoint",
        delete="Delete an endpoint nothing refers to",
    ),
    readers=STAFF,
    writers=ENDPOINT_WRITERS,
).declare(routes)


# -- site groups ------------------------------------------------------------------------------

GROUP_WRITERS = (Role.ADMIN, Role.SECRETARIAT)
GROUP_ID = "{id:[0-9]+}"
_GROUP_SCOPE = (
    "A group belongs to a unit: it is seen by whoever's scope holds that unit and kept by "
    "the secretariat or administrators among them. Its members are the rooms listed by hand "
    "and those its rule takes from the unit tree when it is read; a reader is shown only the "
    "members in their own scope (the others are counted in `hidden_members`, never named)."
)


def group_etag(version: int) -> str:
    return f'"v{version}"'


def group_if_match(request: web.Request) -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    match = re.fullmatch(r'\s*(?:W/)?"v?([0-9]{1,9})"\s*|\s*([0-9]{1,9})\s*', header)
    if match is None:
        # An unparseable If-Match can match no version: a stale write.
        return -1
    return int(match.group(1) or match.group(2))


def _group_out(view: SiteGroupView) -> schemas.SiteGroupOut:
    return schemas.SiteGroupOut.model_validate(view, from_attributes=True)


def _group_reply(view: SiteGroupView) -> Reply:
    return Reply(_group_out(view), headers={"ETag": group_etag(view.version)})


@routes.get(
    "/api/site-groups",
    summary="List the site groups you may see",
    description=_GROUP_SCOPE,
    query=schemas.SiteGroupQuery,
    response=schemas.SiteGroupPage,
    roles=STAFF,
)
async def list_site_groups(
    query: schemas.SiteGroupQuery, me: Principal, app: web.Application
) -> schemas.SiteGroupPage:
    listing = await app[ROOMS].list_site_groups(me, query, decode_cursor(query.cursor))
    after = listing.next_after
    return schemas.SiteGroupPage(
        items=[_group_out(v) for v in listing.items],
        next=encode_cursor(after) if after is not None else None,
    )


@routes.post(
    "/api/site-groups",
    summary="Save a set of sites to add to meetings at once",
    description=_GROUP_SCOPE + " Listed rooms and the rule's unit must lie in your scope.",
    body=schemas.SiteGroupCreate,
    response=schemas.SiteGroupOut,
    status=201,
    roles=GROUP_WRITERS,
)
async def create_site_group(
    data: schemas.SiteGroupCreate, actor: Actor, app: web.Application
) -> Created:
    view = await app[ROOMS].create_site_group(actor, data)
    return Created(
        _group_out(view),
        location=f"/api/site-groups/{view.id}",
        headers={"ETag": group_etag(view.version)},
    )


@routes.get(
    f"/api/site-groups/{GROUP_ID}",
    summary="Read a site group with its members (ETag carries its version)",
    description=_GROUP_SCOPE,
    response=schemas.SiteGroupOut,
    roles=STAFF,
)
async def get_site_group(id: int, me: Principal, app: web.Application) -> Reply:
    return _group_reply(await app[ROOMS].get_site_group(me, id))


@routes.put(
    f"/api/site-groups/{GROUP_ID}",
    summary="Replace a site group (If-Match required)",
    description="Send the whole group as it should be, with `If-Match` set to the ETag you "
    "read: 412 stale-version when it changed since, 428 without `If-Match`. Listed rooms you "
    "cannot see are replaced by what you send.",
    body=schemas.SiteGroupUpdate,
    response=schemas.SiteGroupOut,
    roles=GROUP_WRITERS,
)
async def update_site_group(
    id: int, data: schemas.SiteGroupUpdate, actor: Actor, request: web.Request
) -> Reply:
    view = await request.app[ROOMS].update_site_group(actor, id, group_if_match(request), data)
    return _group_reply(view)


@routes.delete(
    f"/api/site-groups/{GROUP_ID}",
    summary="Delete a site group (If-Match required; meetings keep their sites)",
    status=204,
    roles=GROUP_WRITERS,
)
async def delete_site_group(id: int, actor: Actor, request: web.Request) -> NoContent:
    await request.app[ROOMS].delete_site_group(actor, id, group_if_match(request))
    return NoContent()
