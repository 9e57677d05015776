"""HTTP edge of the organisation: /api/units, /api/unit-levels, /api/rooms, /api/endpoints."""

from __future__ import annotations

from aiohttp import web

from vcorch.access import EVERYONE, STAFF, Actor, Role
from vcorch.errors import PermissionDenied
from vcorch.rooms import schemas
from vcorch.rooms.service import RoomsService
from vcorch.web import ApiRoutes, CrudResource, Methods, Summaries

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
