"""Site groups: saved sets of rooms to add to a meeting at once.

A group belongs to a unit.  It is seen by whoever's scope holds that unit, and kept by the
secretariat or administrators among them.  Its members are the rooms listed by hand and the
rooms a rule takes from the unit tree when the group is read (every room of a subtree, or of
one level in it: "all provinces" is the root with level ``province``), so that a reform of
the tree needs no edit of the group.  A reader is shown only the members in their own scope;
the others are counted, never named.  Every write is audited with the group's unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Actor, Principal, audit
from vcorch.errors import (
    FieldProblem,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionRequired,
    StaleVersion,
)
from vcorch.rooms import schemas
from vcorch.rooms.base import Listing, RoomsBase, invalid
from vcorch.rooms.models import Room, SiteGroup, SiteGroupRoom, Unit, UnitLevel
from vcorch.text import search_blob

__all__ = ["GroupMember", "SiteGroupView", "SiteGroupsPart", "site_group_audit_view"]

MAX_MEMBERS = schemas.MAX_GROUP_ROOMS


@dataclass(frozen=True)
class GroupMember:
    room_id: int
    room_name: str
    unit_id: int
    unit_name: str
    unit_level: str
    listed: bool


@dataclass(frozen=True)
class SiteGroupView:
    """A group as one reader may see it."""

    id: int
    version: int
    unit_id: int
    unit_name: str
    name: str
    description: str | None
    room_ids: list[int]
    rule: schemas.SiteGroupRule | None
    members: list[GroupMember]
    hidden_members: int
    created_by: str
    created_at: datetime
    updated_at: datetime


def site_group_audit_view(group: SiteGroup, room_ids: list[int]) -> dict[str, object]:
    return {
        "id": group.id,
        "unit_id": group.unit_id,
        "name": group.name,
        "description": group.description,
        "room_ids": room_ids,
        "rule": None
        if group.rule_unit_id is None
        else {"unit_id": group.rule_unit_id, "level": group.rule_level},
        "version": group.version,
    }


class SiteGroupsPart(RoomsBase):
    # -- reading ----------------------------------------------------------------------------

    @staticmethod
    async def _listed(session: AsyncSession, group_id: int) -> list[int]:
        rows = await session.execute(
            select(SiteGroupRoom.room_id)
            .where(SiteGroupRoom.group_id == group_id)
            .order_by(SiteGroupRoom.position, SiteGroupRoom.room_id)
        )
        return list(rows.scalars())

    async def _view(self, session: AsyncSession, who: Principal, group: SiteGroup) -> SiteGroupView:
        owner = await session.get(Unit, group.unit_id)
        listed = await self._listed(session, group.id)
        wanted: dict[int, bool] = dict.fromkeys(listed, True)
        if group.rule_unit_id is not None:
            rule_unit = await session.get(Unit, group.rule_unit_id)
            if rule_unit is not None:
                stmt = (
                    select(Room.id)
                    .join(Unit, Unit.id == Room.unit_id)
                    .where(Unit.path.startswith(rule_unit.path))
                    .order_by(Unit.path, Room.id)
                    .limit(MAX_MEMBERS)
                )
                if group.rule_level is not None:
                    stmt = stmt.where(Unit.level == group.rule_level)
                for room_id in (await session.execute(stmt)).scalars():
                    wanted.setdefault(room_id, False)
        rows = (
            await session.execute(
                select(Room.id, Room.name, Unit.id, Unit.name, Unit.level, Unit.path)
                .join(Unit, Unit.id == Room.unit_id)
                .where(Room.id.in_(list(wanted)))
            )
        ).all()
        found = {row[0]: row for row in rows}
        seen = {room for room, row in found.items() if who.sees(row[5])}
        listed_first = [r for r in wanted if wanted[r] and r in seen]
        by_tree = sorted(
            (r for r in wanted if not wanted[r] and r in seen),
            key=lambda r: (found[r][5], r),
        )
        members = [
            GroupMember(
                room_id=r,
                room_name=found[r][1],
                unit_id=found[r][2],
                unit_name=found[r][3],
                unit_level=found[r][4],
                listed=wanted[r],
            )
            for r in listed_first + by_tree
        ]
        return SiteGroupView(
            id=group.id,
            version=group.version,
            unit_id=group.unit_id,
            unit_name=owner.name if owner is not None else "",
            name=group.name,
            description=group.description,
            room_ids=[r for r in listed if r in seen],
            rule=None
            if group.rule_unit_id is None
            else schemas.SiteGroupRule(unit_id=group.rule_unit_id, level=group.rule_level),
            members=members,
            hidden_members=len(found) - len(seen),
            created_by=group.created_by,
            created_at=group.created_at,
            updated_at=group.updated_at,
        )

    @staticmethod
    async def _visible_group(
        session: AsyncSession, who: Principal, group_id: int
    ) -> tuple[SiteGroup, Unit]:
        row = (
            await session.execute(
                select(SiteGroup, Unit)
                .join(Unit, Unit.id == SiteGroup.unit_id)
                .where(SiteGroup.id == group_id)
            )
        ).first()
        if row is None or not who.sees(row[1].path):
            raise NotFound("no such site group")
        return row[0], row[1]

    async def get_site_group(self, who: Principal, group_id: int) -> SiteGroupView:
        async with self._sessions() as session:
            group, _ = await self._visible_group(session, who, group_id)
            return await self._view(session, who, group)

    async def list_site_groups(
        self, who: Principal, query: schemas.SiteGroupQuery, after: int | None
    ) -> Listing[SiteGroupView]:
        async with self._sessions() as session:
            stmt = (
                select(SiteGroup)
                .join(Unit, Unit.id == SiteGroup.unit_id)
                .where(Unit.path.startswith(who.unit_path))
            )
            if query.unit is not None:
                within = await self._visible_unit(session, who, query.unit)
                stmt = stmt.where(Unit.path.startswith(within.path))
            if query.q:
                stmt = stmt.where(
                    SiteGroup.search_text.contains(search_blob(query.q), autoescape=True)
                )
            if after is not None:
                stmt = stmt.where(SiteGroup.id > after)
            groups = list(
                (await session.execute(stmt.order_by(SiteGroup.id).limit(query.limit + 1)))
                .scalars()
                .all()
            )
            more = len(groups) > query.limit
            groups = groups[: query.limit]
            views = [await self._view(session, who, g) for g in groups]
            return Listing(views, groups[-1].id if more and groups else None)

    # -- writing ----------------------------------------------------------------------------

    async def _checked_fields(
        self, session: AsyncSession, who: Principal, data: schemas.SiteGroupFields
    ) -> Unit:
        owner = await self._unit_for_write(session, who, data.unit_id, "unit_id")
        if not data.room_ids and data.rule is None:
            raise InvalidInput(
                "an empty site group",
                problems=[FieldProblem("room_ids", "list rooms, give a rule, or both")],
            )
        if len(set(data.room_ids)) != len(data.room_ids):
            raise invalid("room_ids", "a room is listed twice")
        if data.room_ids:
            rows = (
                await session.execute(
                    select(Room.id, Unit.path)
                    .join(Unit, Unit.id == Room.unit_id)
                    .where(Room.id.in_(data.room_ids))
                )
            ).all()
            paths = dict(rows)
            missing = [r for r in data.room_ids if r not in paths]
            if missing:
                raise invalid("room_ids", f"no such room: {missing[:20]}")
            outside = [r for r in data.room_ids if not who.sees(paths[r])]
            if outside:
                raise PermissionDenied(
                    "rooms outside your scope",
                    problems=[FieldProblem("room_ids", f"outside your unit scope: {outside[:20]}")],
                )
        if data.rule is not None:
            await self._unit_for_write(session, who, data.rule.unit_id, "rule.unit_id")
            if (
                data.rule.level is not None
                and await session.get(UnitLevel, data.rule.level) is None
            ):
                raise invalid("rule.level", "unknown level; see /api/unit-levels")
        return owner

    @staticmethod
    async def _store_rooms(session: AsyncSession, group_id: int, room_ids: list[int]) -> None:
        await session.execute(delete(SiteGroupRoom).where(SiteGroupRoom.group_id == group_id))
        session.add_all(
            SiteGroupRoom(group_id=group_id, room_id=room, position=i)
            for i, room in enumerate(room_ids)
        )

    @staticmethod
    def _apply(group: SiteGroup, data: schemas.SiteGroupFields) -> None:
        group.unit_id = data.unit_id
        group.name = data.name
        group.description = data.description
        group.rule_unit_id = data.rule.unit_id if data.rule is not None else None
        group.rule_level = data.rule.level if data.rule is not None else None
        group.search_text = search_blob(data.name, data.description)

    async def create_site_group(self, actor: Actor, data: schemas.SiteGroupCreate) -> SiteGroupView:
        async with self._sessions.begin() as session:
            owner = await self._checked_fields(session, actor.principal, data)
            now = self._clock()
            group = SiteGroup(
                version=1, created_by=actor.principal.label, created_at=now, updated_at=now
            )
            self._apply(group, data)
            session.add(group)
            await session.flush()
            await self._store_rooms(session, group.id, data.room_ids)
            audit.record(
                session,
                actor,
                at=now,
                action="create",
                entity="site_group",
                entity_id=group.id,
                unit_path=owner.path,
                after=site_group_audit_view(group, data.room_ids),
            )
            await session.flush()
            return await self._view(session, actor.principal, group)

    async def _writable_group(
        self, session: AsyncSession, actor: Actor, group_id: int, if_match: int | None
    ) -> tuple[SiteGroup, Unit]:
        group, owner = await self._visible_group(session, actor.principal, group_id)
        if if_match is None:
            raise PreconditionRequired("send If-Match with the version you last read (its ETag)")
        if if_match != group.version:
            raise StaleVersion(
                f"the site group is at version {group.version}, you sent {if_match}: read it again"
            )
        return group, owner

    async def update_site_group(
        self, actor: Actor, group_id: int, if_match: int | None, data: schemas.SiteGroupUpdate
    ) -> SiteGroupView:
        async with self._sessions.begin() as session:
            group, owner = await self._writable_group(session, actor, group_id, if_match)
            before = site_group_audit_view(group, await self._listed(session, group.id))
            owner = await self._checked_fields(session, actor.principal, data)
            self._apply(group, data)
            group.version += 1
            group.updated_at = self._clock()
            await self._store_rooms(session, group.id, data.room_ids)
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="update",
                entity="site_group",
                entity_id=group.id,
                unit_path=owner.path,
                before=before,
                after=site_group_audit_view(group, data.room_ids),
            )
            await session.flush()
            return await self._view(session, actor.principal, group)

    async def delete_site_group(self, actor: Actor, group_id: int, if_match: int | None) -> None:
        async with self._sessions.begin() as session:
            group, owner = await self._writable_group(session, actor, group_id, if_match)
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="delete",
                entity="site_group",
                entity_id=group.id,
                unit_path=owner.path,
                before=site_group_audit_view(group, await self._listed(session, group.id)),
            )
            await session.execute(delete(SiteGroupRoom).where(SiteGroupRoom.group_id == group.id))
            await session.delete(group)
