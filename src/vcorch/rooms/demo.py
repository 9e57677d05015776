"""Loading the demo organisation; running it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, audit
from vcorch.db import utcnow
from vcorch.rooms.demo_data import CENTRAL_NAME, LOWER_UNITS, PROVINCES, VENDORS
from vcorch.rooms.models import Endpoint, Room, Unit
from vcorch.rooms.service import endpoint_view, insert_unit, room_view, unit_view
from vcorch.text import search_blob


async def _unit(
    session: AsyncSession, actor: Actor, code: str, name: str, level: str, parent: Unit
) -> Unit:
    unit = (await session.execute(select(Unit).where(Unit.code == code))).scalar_one_or_none()
    if unit is not None:
        return unit
    return await insert_unit(
        session, actor, code=code, name=name, level=level, parent=parent, at=utcnow()
    )


async def _room_with_endpoint(
    session: AsyncSession, actor: Actor, unit: Unit, number: int, host_suffix: int
) -> None:
    name = f"Phòng họp trực tuyến — {unit.name}"
    room = (
        await session.execute(select(Room).where(Room.unit_id == unit.id, Room.name == name))
    ).scalar_one_or_none()
    if room is None:
        room = Room(
            unit_id=unit.id,
            name=name,
            seats=40 if unit.level != "commune" else 15,
            location=f"Trụ sở {unit.name}",
            search_text=search_blob(name, unit.name),
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
    if (await session.execute(select(Endpoint.id).where(Endpoint.room_id == room.id))).first():
        return
    vendor, model = VENDORS[(number + host_suffix) % len(VENDORS)]
    host = f"10.{100 + number // 100}.{number % 100}.{10 + host_suffix}"
    # Every third lower unit still runs an H.323-only system, as in the field.
    if host_suffix and host_suffix % 3 == 0:
        kind, address = "h323", f"h323:{number:02d}{host_suffix:03d}@{host}"
    else:
        kind, address = "sip", f"sip:phonghop@{host}"
    endpoint = Endpoint(
        room_id=room.id,
        name=f"{vendor} {model}",
        kind=kind,
        address=address,
        vendor=vendor,
        model=model,
        management_url=f"https://{host}/",
        probe_enabled=True,
        probe_transport="udp" if kind == "sip" else None,
        search_text=search_blob(vendor, model, address, room.name),
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


async def load_demo(sessions: async_sessionmaker[AsyncSession], actor: Actor) -> None:
    async with sessions.begin() as session:
        central = (await session.execute(select(Unit).where(Unit.code == "central"))).scalar_one()
        if central.name != CENTRAL_NAME:
            before = unit_view(central)
            central.name = CENTRAL_NAME
            central.search_text = search_blob(central.code, central.name)
            audit.record(
                session,
                actor,
                at=utcnow(),
                action="update",
                entity="unit",
                entity_id=central.id,
                unit_path=central.path,
                before=before,
                after=unit_view(central),
            )
        await _room_with_endpoint(session, actor, central, 0, 0)
        by_code: dict[str, tuple[Unit, int]] = {}
        for code, name, number in PROVINCES:
            province = await _unit(session, actor, code, name, "province", central)
            by_code[code] = (province, number)
            await _room_with_endpoint(session, actor, province, number, 0)
        for index, (code, name, level, parent_code) in enumerate(LOWER_UNITS, start=1):
            parent, number = by_code[parent_code]
            unit = await _unit(session, actor, code, name, level, parent)
            by_code[code] = (unit, number)
            await _room_with_endpoint(session, actor, unit, number, index)
