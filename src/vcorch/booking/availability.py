"""Free/busy of rooms and free bridge ports over a window, for whoever plans a meeting."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Principal
from vcorch.booking.conflicts import ConflictCheck
from vcorch.booking.overlap import FreeBusy, PortPeriod, PortUse, free_busy, port_timeline
from vcorch.booking.placement_pool import PortPool, eligible
from vcorch.errors import FieldProblem, InvalidInput
from vcorch.rooms import Room, Unit


async def availability(
    sessions: async_sessionmaker[AsyncSession],
    conflicts: ConflictCheck,
    pools: Callable[[], Sequence[PortPool]],
    who: Principal,
    room_ids: list[int],
    start: datetime,
    end: datetime,
) -> tuple[dict[int, list[FreeBusy]], list[PortPeriod], int]:
    """Free/busy per room in the caller's unit scope and the free bridge ports over the
    window for the caller's unit.  A room outside the scope is answered exactly as a room
    that does not exist: its busy times would tell another unit's calendar."""
    if end <= start:
        raise InvalidInput("empty window", problems=[FieldProblem("to", "must be after from")])
    if end - start > timedelta(days=366):
        raise InvalidInput(
            "window too long", problems=[FieldProblem("to", "at most 366 days after from")]
        )
    async with sessions() as session:
        known = set(
            (
                await session.execute(
                    select(Room.id)
                    .join(Unit, Unit.id == Room.unit_id)
                    .where(Room.id.in_(room_ids), Unit.path.startswith(who.unit_path))
                )
            ).scalars()
        )
        missing = [r for r in room_ids if r not in known]
        if missing:
            raise InvalidInput(
                "unknown rooms", problems=[FieldProblem("rooms", f"no such room: {missing}")]
            )
        shared, port_uses, _ = await conflicts.existing(
            session, start, end, None, set(room_ids), set(), True
        )
    rooms = {
        room: free_busy([(o.start, o.end) for o in shared if room in o.rooms], start, end)
        for room in room_ids
    }
    capacity = sum(pool.ports for pool in eligible(pools(), who.unit_path, None))
    ports = port_timeline(
        [PortUse(o.start, o.end, n) for o, n in port_uses],
        capacity=capacity,
        start=start,
        end=end,
    )
    return rooms, ports, capacity
