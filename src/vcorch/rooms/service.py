"""Units, rooms and endpoints: the organisation every meeting is booked against.

Every method takes the acting principal and keeps to its unit scope; every write runs in
one transaction together with its audit entry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, String, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.auth import audit
from vcorch.auth.models import Client, User
from vcorch.auth.principal import Actor, Principal
from vcorch.db.base import utcnow
from vcorch.errors import (
    FieldProblem,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Reference,
    StillReferenced,
)
from vcorch.rooms import schemas
from vcorch.rooms.errors import DuplicateCode, UnitTreeError
from vcorch.rooms.models import Endpoint, Room, Unit, UnitLevel
from vcorch.text import search_blob

# Other packages (meetings...) tell the rooms service what refers to a unit/room/endpoint.
ReferenceFinder = Callable[[AsyncSession, str, int], Awaitable[list[Reference]]]

REFERENCE_LIST_LIMIT = 20


T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    items: list[T]
    next_after: int | None


def unit_view(unit: Unit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "parent_id": unit.parent_id,
        "timezone": unit.timezone,
    }


def room_view(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "unit_id": room.unit_id,
        "name": room.name,
        "seats": room.seats,
        "location": room.location,
    }


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "room_id": endpoint.room_id,
        "name": endpoint.name,
        "kind": endpoint.kind,
        "address": endpoint.address,
        "vendor": endpoint.vendor,
        "model": endpoint.model,
        "management_url": endpoint.management_url,
        "probe_enabled": endpoint.probe_enabled,
        "probe_interval_seconds": endpoint.probe_interval_seconds,
        "probe_transport": endpoint.probe_transport,
    }


def _invalid(field: str, message: str, detail: str | None = None) -> InvalidInput:
    return InvalidInput(detail or message, problems=[FieldProblem(field, message)])


async def _page(
    session: AsyncSession, query: Select[T], id_column: Any, after: int | None, limit: int
) -> Listing[T]:
    if after is not None:
        query = query.where(id_column > after)
    rows: list[T] = list(
        (await session.execute(query.order_by(id_column).limit(limit + 1))).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last_id = getattr(rows[-1], "id", None) if rows and more else None
    return Listing(rows, last_id)


async def insert_unit(
    session: AsyncSession,
    actor: Actor,
    *,
    code: str,
    name: str,
    level: str,
    parent: Unit,
    timezone: str | None = None,
) -> Unit:
    """Add a unit under ``parent`` with its materialised path, and audit it.

    The caller has checked the tree's rules (scope, level order, free code).
    """
    unit = Unit(
        code=code,
        name=name,
        level=level,
        parent_id=parent.id,
        path="",
        timezone=timezone,
        search_text=search_blob(code, name),
    )
    session.add(unit)
    # The path holds the unit's own id, known only once it is inserted.
    await session.flush()
    unit.path = f"{parent.path}{unit.id}/"
    audit.record(
        session,
        actor,
        at=utcnow(),
        action="create",
        entity="unit",
        entity_id=unit.id,
        unit_path=unit.path,
        after=unit_view(unit),
    )
    return unit


class RoomsService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reference_finders: Sequence[ReferenceFinder] = (),
    ) -> None:
        self._sessions = sessions
        self._finders = list(reference_finders)

    def add_reference_finder(self, finder: ReferenceFinder) -> None:
        self._finders.append(finder)

    # -- shared lookups -------------------------------------------------------------------

    @staticmethod
    async def _visible_unit(session: AsyncSession, who: Principal, unit_id: int) -> Unit:
        unit = await session.get(Unit, unit_id)
        if unit is None or not who.sees(unit.path):
            raise NotFound("no such unit")
        return unit

    @staticmethod
    async def _unit_for_write(
        session: AsyncSession, who: Principal, unit_id: int, field: str
    ) -> Unit:
        unit = await session.get(Unit, unit_id)
        if unit is None:
            raise _invalid(field, "no such unit")
        if not who.sees(unit.path):
            raise PermissionDenied(
                "that unit lies outside your scope",
                problems=[FieldProblem(field, "outside your unit scope")],
            )
        return unit

    async def _references(self, session: AsyncSession, kind: str, ident: int) -> list[Reference]:
        found: list[Reference] = []
        for finder in self._finders:
            found.extend(await finder(session, kind, ident))
        return found[:REFERENCE_LIST_LIMIT]

    # -- levels ---------------------------------------------------------------------------

    async def list_levels(self) -> list[UnitLevel]:
        async with self._sessions() as session:
            return list(
                (await session.execute(select(UnitLevel).order_by(UnitLevel.rank))).scalars()
            )

    async def create_level(self, actor: Actor, data: schemas.LevelCreate) -> UnitLevel:
        async with self._sessions.begin() as session:
            if await session.get(UnitLevel, data.code) is not None:
                raise DuplicateCode(
                    "level code in use", problems=[FieldProblem("code", "already in use")]
                )
            level = UnitLevel(code=data.code, name=data.name, rank=data.rank)
            session.add(level)
            audit.record(
                session,
                actor,
                at=utcnow(),
                action="create",
                entity="unit_level",
                entity_id=data.code,
                unit_path="/",
                after=data.model_dump(),
            )
            return level

    async def _level(self, session: AsyncSession, code: str) -> UnitLevel:
        level = await session.get(UnitLevel, code)
        if level is None:
            known = ", ".join(
                (await session.execute(select(UnitLevel.code).order_by(UnitLevel.rank))).scalars()
            )
            raise _invalid("level", f"unknown level; known levels: {known}")
        return level

    # -- units ----------------------------------------------------------------------------

    async def get_unit(self, who: Principal, unit_id: int) -> Unit:
        async with self._sessions() as session:
            return await self._visible_unit(session, who, unit_id)

    async def list_units(
        self, who: Principal, query: schemas.UnitQuery, after: int | None
    ) -> Listing[Unit]:
        async with self._sessions() as session:
            stmt = select(Unit).where(Unit.path.startswith(who.unit_path))
            if query.within is not None:
                within = await self._visible_unit(session, who, query.within)
                stmt = stmt.where(Unit.path.startswith(within.path))
            if query.parent_id is not None:
                stmt = stmt.where(Unit.parent_id == query.parent_id)
            if query.level is not None:
                stmt = stmt.where(Unit.level == query.level)
            if query.q:
                stmt = stmt.where(Unit.search_text.contains(search_blob(query.q), autoescape=True))
            return await _page(session, stmt, Unit.id, after, query.limit)

    async def _check_parent(
        self, session: AsyncSession, who: Principal, parent_id: int | None, level: UnitLevel
    ) -> Unit:
        if parent_id is None:
            raise UnitTreeError(
                "a unit needs a parent",
                problems=[FieldProblem("parent_id", "required: the tree has one root, 'central'")],
            )
        parent = await session.get(Unit, parent_id)
        if parent is None:
            raise UnitTreeError(
                "unknown parent", problems=[FieldProblem("parent_id", "no such unit")]
            )
        if not who.sees(parent.path):
            raise PermissionDenied(
                "the parent lies outside your scope",
                problems=[FieldProblem("parent_id", "outside your unit scope")],
            )
        parent_level = await self._level(session, parent.level)
        if level.rank <= parent_level.rank:
            raise UnitTreeError(
                "level order",
                problems=[
                    FieldProblem(
                        "level",
                        f"a {level.code} cannot sit under a {parent_level.code}",
                    )
                ],
            )
        return parent

    async def create_unit(self, actor: Actor, data: schemas.UnitCreate) -> Unit:
        async with self._sessions.begin() as session:
            level = await self._level(session, data.level)
            parent = await self._check_parent(session, actor.principal, data.parent_id, level)
            if (await session.execute(select(Unit.id).where(Unit.code == data.code))).first():
                raise DuplicateCode(
                    "unit code in use", problems=[FieldProblem("code", "already in use")]
                )
            try:
                return await insert_unit(
                    session,
                    actor,
                    code=data.code,
                    name=data.name,
                    level=level.code,
                    parent=parent,
                    timezone=data.timezone,
                )
            except IntegrityError as err:
                raise DuplicateCode(
                    "unit code in use", problems=[FieldProblem("code", "already in use")]
                ) from err

    async def update_unit(self, actor: Actor, unit_id: int, data: schemas.UnitUpdate) -> Unit:
        given = data.model_fields_set
        async with self._sessions.begin() as session:
            unit = await self._visible_unit(session, actor.principal, unit_id)
            before = unit_view(unit)
            if "code" in given and data.code != unit.code:
                if data.code is None:
                    raise _invalid("code", "must not be null")
                if (await session.execute(select(Unit.id).where(Unit.code == data.code))).first():
                    raise DuplicateCode(
                        "unit code in use", problems=[FieldProblem("code", "already in use")]
                    )
                unit.code = data.code
            if "name" in given:
                if data.name is None:
                    raise _invalid("name", "must not be null")
                unit.name = data.name
            if "timezone" in given:
                unit.timezone = data.timezone
            level = await self._level(session, data.level if data.level else unit.level)
            if "level" in given and data.level is None:
                raise _invalid("level", "must not be null")
            moving = "parent_id" in given and data.parent_id != unit.parent_id
            if unit.parent_id is None and ("parent_id" in given and data.parent_id is not None):
                raise UnitTreeError(
                    "the root cannot move",
                    problems=[FieldProblem("parent_id", "the root unit has no parent")],
                )
            if unit.parent_id is not None and (moving or "level" in given):
                new_parent_id = data.parent_id if "parent_id" in given else unit.parent_id
                if new_parent_id is not None:
                    candidate = await session.get(Unit, new_parent_id)
                    if candidate is not None and candidate.path.startswith(unit.path):
                        raise UnitTreeError(
                            "that would make a cycle",
                            problems=[
                                FieldProblem(
                                    "parent_id",
                                    "a unit cannot move under itself or its own descendant",
                                )
                            ],
                        )
                parent = await self._check_parent(session, actor.principal, new_parent_id, level)
                await self._check_children_levels(session, unit, level)
                unit.level = level.code
                if moving:
                    old_path = unit.path
                    new_path = f"{parent.path}{unit.id}/"
                    await session.execute(
                        update(Unit)
                        .where(Unit.path.startswith(old_path))
                        .values(
                            path=literal(new_path, String)
                            + func.substr(Unit.path, len(old_path) + 1)
                        )
                        .execution_options(synchronize_session=False)
                    )
                    unit.parent_id = parent.id
                    unit.path = new_path
            elif "level" in given and data.level is not None:
                await self._check_children_levels(session, unit, level)
                unit.level = level.code
            unit.search_text = search_blob(unit.code, unit.name)
            await session.flush()
            audit.record(
                session,
                actor,
                at=utcnow(),
                action="update",
                entity="unit",
                entity_id=unit.id,
                unit_path=unit.path,
                before=before,
                after=unit_view(unit),
            )
            return unit

    async def _check_children_levels(
        self, session: AsyncSession, unit: Unit, level: UnitLevel
    ) -> None:
        child_ranks = (
            await session.execute(
                select(func.min(UnitLevel.rank))
                .join(Unit, Unit.level == UnitLevel.code)
                .where(Unit.parent_id == unit.id)
            )
        ).scalar()
        if child_ranks is not None and child_ranks <= level.rank:
            raise UnitTreeError(
                "level order",
                problems=[
                    FieldProblem("level", "the unit's children would no longer sit below it")
                ],
            )

    async def delete_unit(self, actor: Actor, unit_id: int) -> None:
        async with self._sessions.begin() as session:
            unit = await self._visible_unit(session, actor.principal, unit_id)
            if unit.parent_id is None:
                raise PermissionDenied("the root unit cannot be deleted")
            refs: list[Reference] = []
            children = await session.execute(
                select(Unit.id, Unit.name)
                .where(Unit.parent_id == unit.id)
                .limit(REFERENCE_LIST_LIMIT)
            )
            refs += [Reference("unit", i, n) for i, n in children]
            rooms = await session.execute(
                select(Room.id, Room.name)
                .where(Room.unit_id == unit.id)
                .limit(REFERENCE_LIST_LIMIT)
            )
            refs += [Reference("room", i, n) for i, n in rooms]
            users = await session.execute(
                select(User.id, User.username)
                .where(User.unit_id == unit.id)
                .limit(REFERENCE_LIST_LIMIT)
            )
            refs += [Reference("user", i, n) for i, n in users]
            clients = await session.execute(
                select(Client.id, Client.name)
                .where(Client.unit_id == unit.id)
                .limit(REFERENCE_LIST_LIMIT)
            )
            refs += [Reference("client", i, n) for i, n in clients]
            refs += await self._references(session, "unit", unit.id)
            if refs:
                raise StillReferenced("the unit is still referenced", refs[:REFERENCE_LIST_LIMIT])
            audit.record(
                session,
                actor,
                at=utcnow(),
                action="delete",
                entity="unit",
                entity_id=unit.id,
                unit_path=unit.path,
                before=unit_view(unit),
            )
            await session.delete(unit)

    # -- rooms ----------------------------------------------------------------------------

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
            return await _page(session, stmt, Room.id, after, query.limit)

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
                at=utcnow(),
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
                    raise _invalid(name, "must not be null")
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
                at=utcnow(),
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
                at=utcnow(),
                action="delete",
                entity="room",
                entity_id=room.id,
                unit_path=unit.path,
                before=room_view(room),
            )
            await session.delete(room)

    # -- endpoints ------------------------------------------------------------------------

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
            return await _page(session, stmt, Endpoint.id, after, query.limit)

    async def _room_for_write(
        self, session: AsyncSession, who: Principal, room_id: int
    ) -> tuple[Room, Unit]:
        row = (
            await session.execute(
                select(Room, Unit).join(Unit, Room.unit_id == Unit.id).where(Room.id == room_id)
            )
        ).first()
        if row is None:
            raise _invalid("room_id", "no such room")
        if not who.sees(row[1].path):
            raise PermissionDenied(
                "that room lies outside your scope",
                problems=[FieldProblem("room_id", "outside your unit scope")],
            )
        return row[0], row[1]

    async def create_endpoint(self, actor: Actor, data: schemas.EndpointCreate) -> Endpoint:
        problem = schemas.check_address(data.kind, data.address)
        if problem:
            raise _invalid("address", problem)
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
                at=utcnow(),
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
                    raise _invalid(name, "must not be null")
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
                raise _invalid("address", problem)
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
                at=utcnow(),
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
                at=utcnow(),
                action="delete",
                entity="endpoint",
                entity_id=endpoint.id,
                unit_path=unit.path,
                before=endpoint_view(endpoint),
            )
            await session.delete(endpoint)
