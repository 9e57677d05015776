"""What the parts of the rooms service share: pages, scope lookups, the reference finders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Principal
from vcorch.errors import FieldProblem, InvalidInput, NotFound, PermissionDenied, Reference
from vcorch.rooms.models import Unit

# Other packages (accounts, meetings...) tell the rooms service what refers to a
# unit/room/endpoint.
ReferenceFinder = Callable[[AsyncSession, str, int], Awaitable[list[Reference]]]

REFERENCE_LIST_LIMIT = 20


T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    items: list[T]
    next_after: int | None


def invalid(field: str, message: str, detail: str | None = None) -> InvalidInput:
    return InvalidInput(detail or message, problems=[FieldProblem(field, message)])


async def page(
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


class RoomsBase:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reference_finders: Sequence[ReferenceFinder] = (),
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._finders = list(reference_finders)

    def add_reference_finder(self, finder: ReferenceFinder) -> None:
        self._finders.append(finder)

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
            raise invalid(field, "no such unit")
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
