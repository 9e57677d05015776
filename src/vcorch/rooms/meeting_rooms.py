"""Meeting rooms: each belongs to a unit and is seen within that unit's scope."""

from __future__ import annotations

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Actor, Principal, audit
from vcorch.errors import NotFound, Reference, StillReferenced
from vcorch.rooms import schemas
from vcorch.rooms.base import REFERENCE_LIST_LIMIT, Listing, RoomsBase, invalid, page
from vcorch.rooms.models import Endpoint, Room, SiteGroupRoom, Unit
from vcorch.rooms.views import room_view
from vcorch.text import search_blob


class RoomsPart(RoomsBase):
    @staticmethod
    def _rooms_in_scope(who: Principal) -> Select[Room]:
        return (
            select(Room)
            .join(Unit, Room.unit_id == Unit.id)
            .where(Unit.path.startswith(who.unit_path))
        )

    async def _visible_room(
        self, session: AsyncSession, who: Principal, room_id: int
    ) -> tuple[Room, Unit]:
        row = (
            await session.execute(
                select(Room, Unit).join(Unit, Room.unit_id == Unit.id).where(Room.id == room_id)
            )
        ).first()
        if row is None or not who.sees(row[1].path):
            raise NotFound("no such room")
        return row[0], row[1]

    async def get_room(self, who: Principal, room_id: int) -> Room:
        async with self._sessions() as session:
            return (await self._visible_room(session, who, room_id))[0]

    async def list_rooms(
        self, who: Principal, query: schemas.RoomQuery, after: int | None
    ) -> Listing[Room]:
        async with self._sessions() as session:
            stmt = self._rooms_in_scope(who)
            if query.within is not None:
                within = await self._visible_unit(session, who, query.within)
                stmt = stmt.where(Unit.path.startswith(within.path))
            if query.unit_id is not None:
                stmt = stmt.where(Room.unit_id == query.unit_id)
            if query.q:
                stmt = stmt.where(Room.search_text.contains(search_blob(query.q), autoescape=True))
            return await page(session, stmt, Room.id, after, query.limit)

    async def create_room(self, actor: Actor, data: schemas.RoomCreate) -> Room:
        async with self._sessions.begin() as session:
            unit = await self._unit_for_write(session, actor.principal, data.unit_id, "unit_id")
            room = Room(
                unit_id=unit.id,
                name=data.name,
                seats=data.seats,
                location=data.location,
                search_text=search_blob(data.name, data.location, unit.name),
            )
            session.add(room)
            await session.flush()
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="create",
                entity="room",
                entity_id=room.id,
                unit_path=unit.path,
                after=room_view(room),
            )
            return room

    async def update_room(self, actor: Actor, room_id: int, data: schemas.RoomUpdate) -> Room:
        given = data.model_fields_set
        async with self._sessions.begin() as session:
            room, unit = await self._visible_room(session, actor.principal, room_id)
            before = room_view(room)
            for name in ("unit_id", "name", "seats"):
                if name in given and getattr(data, name) is None:
                    raise invalid(name, "must not be null")
            if data.unit_id is not None and data.unit_id != room.unit_id:
                unit = await self._unit_for_write(session, actor.principal, data.unit_id, "unit_id")
                room.unit_id = unit.id
            if data.name is not None:
                room.name = data.name
            if data.seats is not None:
                room.seats = data.seats
            if "location" in given:
                room.location = data.location
            room.search_text = search_blob(room.name, room.location, unit.name)
            await session.flush()
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="update",
                entity="room",
                entity_id=room.id,
                unit_path=unit.path,
                before=before,
                after=room_view(room),
            )
            return room

    async def delete_room(self, actor: Actor, room_id: int) -> None:
        async with self._sessions.begin() as session:
            room, unit = await self._visible_room(session, actor.principal, room_id)
            endpoints = await session.execute(
                select(Endpoint.id, Endpoint.name)
                .where(Endpoint.room_id == room.id)
                .limit(REFERENCE_LIST_LIMIT)
            )
            refs = [Reference("endpoint", i, n) for i, n in endpoints]
            refs += await self._references(session, "room", room.id)
            if refs:
                raise StillReferenced("the room is still referenced", refs[:REFERENCE_LIST_LIMIT])
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="delete",
                entity="room",
                entity_id=room.id,
                unit_path=unit.path,
                before=room_view(room),
            )
            # A site group lists the room no more (the group's own audit is its next read).
            await session.execute(delete(SiteGroupRoom).where(SiteGroupRoom.room_id == room.id))
            await session.delete(room)
