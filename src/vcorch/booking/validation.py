"""Checking what a booking names: the organising unit (in the caller's scope) and the sites."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Principal
from vcorch.booking import schemas
from vcorch.errors import FieldProblem, InvalidInput, PermissionDenied
from vcorch.rooms import Endpoint, Room, Unit


async def organizer_unit(session: AsyncSession, who: Principal, unit_id: int) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise InvalidInput(
            "unknown unit", problems=[FieldProblem("organizer_unit_id", "no such unit")]
        )
    if not who.sees(unit.path):
        raise PermissionDenied(
            "you book for your own unit's subtree only",
            problems=[FieldProblem("organizer_unit_id", "outside your unit scope")],
        )
    return unit


async def check_host_room(session: AsyncSession, room_id: int, organizer: Unit) -> None:
    """The host room is where the meeting is chaired from: a room of the organiser's unit
    or of a unit below it (it is dialled first and shown as the host everywhere)."""
    path = (
        await session.execute(
            select(Unit.path).join(Room, Room.unit_id == Unit.id).where(Room.id == room_id)
        )
    ).scalar()
    if path is None:
        raise InvalidInput("unknown room", problems=[FieldProblem("host_room_id", "no such room")])
    if not path.startswith(organizer.path):
        raise InvalidInput(
            "the host room is not in the organiser's units",
            problems=[
                FieldProblem("host_room_id", "not a room of the organising unit or below it")
            ],
        )


async def resolve_sites(
    session: AsyncSession, sites: Sequence[schemas.SiteIn], mode: str, field: str = "sites"
) -> list[tuple[int, int | None, list[str]]]:
    """Check the sites (any unit may be invited) and pick each room's endpoint if none given."""
    problems: list[FieldProblem] = []
    seen: dict[int, int] = {}
    for index, site in enumerate(sites):
        if site.room_id in seen:
            problems.append(
                FieldProblem(
                    f"{field}.{index}.room_id", f"the room is already site {seen[site.room_id]}"
                )
            )
        seen.setdefault(site.room_id, index)
    room_ids = list(seen)
    rooms = {
        r.id for r in (await session.execute(select(Room).where(Room.id.in_(room_ids)))).scalars()
    }
    endpoints: dict[int, list[Endpoint]] = defaultdict(list)
    for endpoint in (
        await session.execute(
            select(Endpoint).where(Endpoint.room_id.in_(room_ids)).order_by(Endpoint.id)
        )
    ).scalars():
        endpoints[endpoint.room_id].append(endpoint)
    resolved: list[tuple[int, int | None, list[str]]] = []
    for index, site in enumerate(sites):
        if site.room_id not in rooms:
            problems.append(FieldProblem(f"{field}.{index}.room_id", "no such room"))
            continue
        endpoint_id = site.endpoint_id
        if endpoint_id is not None and endpoint_id not in {e.id for e in endpoints[site.room_id]}:
            problems.append(
                FieldProblem(f"{field}.{index}.endpoint_id", "not an endpoint of that room")
            )
            continue
        if endpoint_id is None and mode != "in_person" and endpoints[site.room_id]:
            endpoint_id = endpoints[site.room_id][0].id
        resolved.append((site.room_id, endpoint_id, [str(c) for c in site.contacts]))
    if problems:
        raise InvalidInput("some sites cannot be used", problems=problems)
    return resolved
