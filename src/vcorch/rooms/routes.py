"""HTTP edge of the organisation: /api/units, /api/unit-levels, /api/rooms, /api/endpoints."""

from __future__ import annotations

from aiohttp import web

from vcorch.auth.principal import EVERYONE, STAFF, Role
from vcorch.errors import PermissionDenied
from vcorch.rooms import schemas
from vcorch.web.api import (
    ApiRequest,
    ApiRoutes,
    decode_cursor,
    encode_cursor,
    json_response,
)
from vcorch.web.keys import ROOMS

routes = ApiRoutes(tag="Organisation")

READERS = EVERYONE
UNIT_WRITERS = (Role.ADMIN,)
ROOM_WRITERS = (Role.ADMIN, Role.SECRETARIAT)
ENDPOINT_WRITERS = (Role.ADMIN, Role.SECRETARIAT, Role.OPERATOR)


def _next(after: int | None) -> str | None:
    return encode_cursor(after) if after is not None else None


# -- levels -------------------------------------------------------------------------------------


@routes.get(
    "/api/unit-levels",
    summary="List the levels of the unit tree",
    response=schemas.LevelList,
    roles=READERS,
)
async def list_levels(req: ApiRequest) -> web.StreamResponse:
    levels = await req.http.app[ROOMS].list_levels()
    items = [schemas.LevelOut.model_validate(level, from_attributes=True) for level in levels]
    return json_response(schemas.LevelList(items=items))


@routes.post(
    "/api/unit-levels",
    summary="Add a level (after an administrative reform)",
    body=schemas.LevelCreate,
    response=schemas.LevelOut,
    status=201,
    roles=UNIT_WRITERS,
)
async def create_level(req: ApiRequest) -> web.StreamResponse:
    if req.me.unit_path.count("/") != 2:
        raise PermissionDenied("only administrators of the root unit define levels")
    level = await req.http.app[ROOMS].create_level(req.actor, req.body_as(schemas.LevelCreate))
    return json_response(schemas.LevelOut.model_validate(level, from_attributes=True), status=201)


# -- units --------------------------------------------------------------------------------------


def _unit(unit: object) -> schemas.UnitOut:
    return schemas.UnitOut.model_validate(unit, from_attributes=True)


@routes.get(
    "/api/units",
    summary="List units in your scope",
    query=schemas.UnitQuery,
    response=schemas.UnitPage,
    roles=READERS,
)
async def list_units(req: ApiRequest) -> web.StreamResponse:
    query = req.query_as(schemas.UnitQuery)
    listing = await req.http.app[ROOMS].list_units(req.me, query, decode_cursor(query.cursor))
    return json_response(
        schemas.UnitPage(items=[_unit(u) for u in listing.items], next=_next(listing.next_after))
    )


@routes.post(
    "/api/units",
    summary="Create a unit",
    body=schemas.UnitCreate,
    response=schemas.UnitOut,
    status=201,
    roles=UNIT_WRITERS,
)
async def create_unit(req: ApiRequest) -> web.StreamResponse:
    unit = await req.http.app[ROOMS].create_unit(req.actor, req.body_as(schemas.UnitCreate))
    return json_response(_unit(unit), status=201, headers={"Location": f"/api/units/{unit.id}"})


@routes.get("/api/units/{id}", summary="Read a unit", response=schemas.UnitOut, roles=READERS)
async def get_unit(req: ApiRequest) -> web.StreamResponse:
    return json_response(_unit(await req.http.app[ROOMS].get_unit(req.me, req.path_id())))


@routes.patch(
    "/api/units/{id}",
    summary="Change or move a unit",
    body=schemas.UnitUpdate,
    response=schemas.UnitOut,
    roles=UNIT_WRITERS,
)
async def update_unit(req: ApiRequest) -> web.StreamResponse:
    unit = await req.http.app[ROOMS].update_unit(
        req.actor, req.path_id(), req.body_as(schemas.UnitUpdate)
    )
    return json_response(_unit(unit))


@routes.delete(
    "/api/units/{id}", summary="Delete a unit nothing refers to", status=204, roles=UNIT_WRITERS
)
async def delete_unit(req: ApiRequest) -> web.StreamResponse:
    await req.http.app[ROOMS].delete_unit(req.actor, req.path_id())
    return web.Response(status=204)


# -- rooms --------------------------------------------------------------------------------------


def _room(room: object) -> schemas.RoomOut:
    return schemas.RoomOut.model_validate(room, from_attributes=True)


@routes.get(
    "/api/rooms",
    summary="List rooms in your scope",
    query=schemas.RoomQuery,
    response=schemas.RoomPage,
    roles=READERS,
)
async def list_rooms(req: ApiRequest) -> web.StreamResponse:
    query = req.query_as(schemas.RoomQuery)
    listing = await req.http.app[ROOMS].list_rooms(req.me, query, decode_cursor(query.cursor))
    return json_response(
        schemas.RoomPage(items=[_room(r) for r in listing.items], next=_next(listing.next_after))
    )


@routes.post(
    "/api/rooms",
    summary="Create a room",
    body=schemas.RoomCreate,
    response=schemas.RoomOut,
    status=201,
    roles=ROOM_WRITERS,
)
async def create_room(req: ApiRequest) -> web.StreamResponse:
    room = await req.http.app[ROOMS].create_room(req.actor, req.body_as(schemas.RoomCreate))
    return json_response(_room(room), status=201, headers={"Location": f"/api/rooms/{room.id}"})


@routes.get("/api/rooms/{id}", summary="Read a room", response=schemas.RoomOut, roles=READERS)
async def get_room(req: ApiRequest) -> web.StreamResponse:
    return json_response(_room(await req.http.app[ROOMS].get_room(req.me, req.path_id())))


@routes.patch(
    "/api/rooms/{id}",
    summary="Change a room",
    body=schemas.RoomUpdate,
    response=schemas.RoomOut,
    roles=ROOM_WRITERS,
)
async def update_room(req: ApiRequest) -> web.StreamResponse:
    room = await req.http.app[ROOMS].update_room(
        req.actor, req.path_id(), req.body_as(schemas.RoomUpdate)
    )
    return json_response(_room(room))


@routes.delete(
    "/api/rooms/{id}", summary="Delete a room nothing refers to", status=204, roles=ROOM_WRITERS
)
async def delete_room(req: ApiRequest) -> web.StreamResponse:
    await req.http.app[ROOMS].delete_room(req.actor, req.path_id())
    return web.Response(status=204)


# -- endpoints ----------------------------------------------------------------------------------


def _endpoint(endpoint: object) -> schemas.EndpointOut:
    return schemas.EndpointOut.model_validate(endpoint, from_attributes=True)


@routes.get(
    "/api/endpoints",
    summary="List endpoints in your scope",
    query=schemas.EndpointQuery,
    response=schemas.EndpointPage,
    roles=STAFF,
)
async def list_endpoints(req: ApiRequest) -> web.StreamResponse:
    query = req.query_as(schemas.EndpointQuery)
    listing = await req.http.app[ROOMS].list_endpoints(req.me, query, decode_cursor(query.cursor))
    return json_response(
        schemas.EndpointPage(
            items=[_endpoint(e) for e in listing.items], next=_next(listing.next_after)
        )
    )


@routes.post(
    "/api/endpoints",
    summary="Register an endpoint (room system)",
    body=schemas.EndpointCreate,
    response=schemas.EndpointOut,
    status=201,
    roles=ENDPOINT_WRITERS,
)
async def create_endpoint(req: ApiRequest) -> web.StreamResponse:
    endpoint = await req.http.app[ROOMS].create_endpoint(
        req.actor, req.body_as(schemas.EndpointCreate)
    )
    return json_response(
        _endpoint(endpoint), status=201, headers={"Location": f"/api/endpoints/{endpoint.id}"}
    )


@routes.get(
    "/api/endpoints/{id}", summary="Read an endpoint", response=schemas.EndpointOut, roles=STAFF
)
async def get_endpoint(req: ApiRequest) -> web.StreamResponse:
    return json_response(_endpoint(await req.http.app[ROOMS].get_endpoint(req.me, req.path_id())))


@routes.patch(
    "/api/endpoints/{id}",
    summary="Change an endpoint",
    body=schemas.EndpointUpdate,
    response=schemas.EndpointOut,
    roles=ENDPOINT_WRITERS,
)
async def update_endpoint(req: ApiRequest) -> web.StreamResponse:
    endpoint = await req.http.app[ROOMS].update_endpoint(
        req.actor, req.path_id(), req.body_as(schemas.EndpointUpdate)
    )
    return json_response(_endpoint(endpoint))


@routes.delete(
    "/api/endpoints/{id}",
    summary="Delete an endpoint nothing refers to",
    status=204,
    roles=ENDPOINT_WRITERS,
)
async def delete_endpoint(req: ApiRequest) -> web.StreamResponse:
    await req.http.app[ROOMS].delete_endpoint(req.actor, req.path_id())
    return web.Response(status=204)
