"""Endpoints: the devices in a room, with the address rules of their kind."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Actor, Principal, audit
from vcorch.errors import FieldProblem, NotFound, PermissionDenied, StillReferenced
from vcorch.rooms import schemas
from vcorch.rooms.base import Listing, RoomsBase, invalid, page
from vcorch.rooms.models import Endpoint, Room, Unit
from vcorch.rooms.views import endpoint_view
from vcorch.text import search_blob


class EndpointsPart(RoomsBase):
    async def _visible_endpoint(
        self, session: AsyncSession, who: Principal, endpoint_id: int
    ) -> tuple[Endpoint, Unit]:
        row = (
            await session.execute(
                select(Endpoint, Unit)
                .join(Room, Endpoint.room_id == Room.id)
                .join(Unit, Room.unit_id == Unit.id)
                .where(Endpoint.id == endpoint_id)
            )
        ).first()
        if row is None or not who.sees(row[1].path):
            raise NotFound("no such endpoint")
        return row[0], row[1]

    async def get_endpoint(self, who: Principal, endpoint_id: int) -> Endpoint:
        async with self._sessions() as session:
            return (await self._visible_endpoint(session, who, endpoint_id))[0]

    async def list_endpoints(
        self, who: Principal, query: schemas.EndpointQuery, after: int | None
    ) -> Listing[Endpoint]:
        async with self._sessions() as session:
            stmt = (
                select(Endpoint)
                .join(Room, Endpoint.room_id == Room.id)
                .join(Unit, Room.unit_id == Unit.id)
                .where(Unit.path.startswith(who.unit_path))
            )
            if query.within is not None:
                within = await self._visible_unit(session, who, query.within)
                stmt = stmt.where(Unit.path.startswith(within.path))
            if query.unit_id is not None:
                stmt = stmt.where(Room.unit_id == query.unit_id)
            if query.room_id is not None:
                stmt = stmt.where(Endpoint.room_id == query.room_id)
            if query.kind is not None:
                stmt = stmt.where(Endpoint.kind == query.kind)
            if query.q:
                stmt = stmt.where(
                    Endpoint.search_text.contains(search_blob(query.q), autoescape=True)
                )
            return await page(session, stmt, Endpoint.id, after, query.limit)

    async def _room_for_write(
        self, session: AsyncSession, who: Principal, room_id: int
    ) -> tuple[Room, Unit]:
        row = (
            await session.execute(
                select(Room, Unit).join(Unit, Room.unit_id == Unit.id).where(Room.id == room_id)
            )
        ).first()
        if row is None:
            raise invalid("room_id", "no such room")
        if not who.sees(row[1].path):
            raise PermissionDenied(
                "that room lies outside your scope",
                problems=[FieldProblem("room_id", "outside your unit scope")],
            )
        return row[0], row[1]

    async def create_endpoint(self, actor: Actor, data: schemas.EndpointCreate) -> Endpoint:
        problem = schemas.check_address(data.kind, data.address)
        if problem:
            raise invalid("address", problem)
        async with self._sessions.begin() as session:
            room, unit = await self._room_for_write(session, actor.principal, data.room_id)
            endpoint = Endpoint(
                room_id=room.id,
                name=data.name,
                kind=data.kind,
                address=data.address,
                vendor=data.vendor,
                model=data.model,
                management_url=data.management_url,
                probe_enabled=True if data.probe_enabled is None else data.probe_enabled,
                probe_interval_seconds=data.probe_interval_seconds,
                probe_transport=data.probe_transport,
                search_text=search_blob(
                    data.name, data.address, data.vendor, data.model, room.name
                ),
            )
            session.add(endpoint)
            await session.flush()
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="create",
                entity="endpoint",
                entity_id=endpoint.id,
                unit_path=unit.path,
                after=endpoint_view(endpoint),
            )
            return endpoint

    async def update_endpoint(
        self, actor: Actor, endpoint_id: int, data: schemas.EndpointUpdate
    ) -> Endpoint:
        given = data.model_fields_set
        async with self._sessions.begin() as session:
            endpoint, unit = await self._visible_endpoint(session, actor.principal, endpoint_id)
            before = endpoint_view(endpoint)
            for name in ("room_id", "name", "kind", "address", "probe_enabled"):
                if name in given and getattr(data, name) is None:
                    raise invalid(name, "must not be null")
            room = await session.get(Room, endpoint.room_id)
            if data.room_id is not None and data.room_id != endpoint.room_id:
                room, unit = await self._room_for_write(session, actor.principal, data.room_id)
                endpoint.room_id = room.id
            for name in ("name", "kind", "address", "probe_enabled"):
                if getattr(data, name) is not None:
                    setattr(endpoint, name, getattr(data, name))
            for name in (
                "vendor",
                "model",
                "management_url",
                "probe_interval_seconds",
                "probe_transport",
            ):
                if name in given:
                    setattr(endpoint, name, getattr(data, name))
            problem = schemas.check_address(endpoint.kind, endpoint.address)
            if problem:
                raise invalid("address", problem)
            endpoint.search_text = search_blob(
                endpoint.name,
                endpoint.address,
                endpoint.vendor,
                endpoint.model,
                room.name if room else None,
            )
            await session.flush()
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="update",
                entity="endpoint",
                entity_id=endpoint.id,
                unit_path=unit.path,
                before=before,
                after=endpoint_view(endpoint),
            )
            return endpoint

    async def delete_endpoint(self, actor: Actor, endpoint_id: int) -> None:
        async with self._sessions.begin() as session:
            endpoint, unit = await self._visible_endpoint(session, actor.principal, endpoint_id)
            refs = await self._references(session, "endpoint", endpoint.id)
            if refs:
                raise StillReferenced("the endpoint is still referenced", refs)
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="delete",
                entity="endpoint",
                entity_id=endpoint.id,
                unit_path=unit.path,
                before=endpoint_view(endpoint),
            )
            await session.delete(endpoint)
