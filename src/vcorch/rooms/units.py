"""The unit tree: its levels and its units, with the rules that keep it a tree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Actor, Principal, audit
from vcorch.errors import FieldProblem, PermissionDenied, Reference, StillReferenced
from vcorch.rooms import schemas
from vcorch.rooms.base import REFERENCE_LIST_LIMIT, Listing, RoomsBase, invalid, page
from vcorch.rooms.errors import DuplicateCode, UnitTreeError
from vcorch.rooms.models import Room, SiteGroup, Unit, UnitLevel
from vcorch.rooms.views import unit_view
from vcorch.text import search_blob


async def insert_unit(
    session: AsyncSession,
    actor: Actor,
    *,
    code: str,
    name: str,
    level: str,
    parent: Unit,
    at: datetime,
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
        at=at,
        action="create",
        entity="unit",
        entity_id=unit.id,
        unit_path=unit.path,
        after=unit_view(unit),
    )
    return unit


class UnitsPart(RoomsBase):
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
                at=self._clock(),
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
            raise invalid("level", f"unknown level; known levels: {known}")
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
            return await page(session, stmt, Unit.id, after, query.limit)

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
                    at=self._clock(),
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
                    raise invalid("code", "must not be null")
                if (await session.execute(select(Unit.id).where(Unit.code == data.code))).first():
                    raise DuplicateCode(
                        "unit code in use", problems=[FieldProblem("code", "already in use")]
                    )
                unit.code = data.code
            if "name" in given:
                if data.name is None:
                    raise invalid("name", "must not be null")
                unit.name = data.name
            if "timezone" in given:
                unit.timezone = data.timezone
            level = await self._level(session, data.level if data.level else unit.level)
            if "level" in given and data.level is None:
                raise invalid("level", "must not be null")
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
                at=self._clock(),
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
            groups = await session.execute(
                select(SiteGroup.id, SiteGroup.name)
                .where((SiteGroup.unit_id == unit.id) | (SiteGroup.rule_unit_id == unit.id))
                .limit(REFERENCE_LIST_LIMIT)
            )
            refs += [Reference("site_group", i, n) for i, n in groups]
            refs += await self._references(session, "unit", unit.id)
            if refs:
                raise StillReferenced("the unit is still referenced", refs[:REFERENCE_LIST_LIMIT])
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="delete",
                entity="unit",
                entity_id=unit.id,
                unit_path=unit.path,
                before=unit_view(unit),
            )
            await session.delete(unit)
