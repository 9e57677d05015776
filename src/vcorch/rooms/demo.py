"""Loading the demo organisation; running it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, audit
from vcorch.db import utcnow
from vcorch.rooms.demo_data import (
    CENTRAL_NAME,
    LOWER_UNITS,
    PROVINCES,
    SILENT_ADDRESS,
    SILENT_UNIT,
    SIMULATED_DOMAIN,
    VENDORS,
)
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
    vendor, model = VENDORS[(number + host_suffix) % len(VENDORS)]
    kind, address, transport = demo_address(unit.code, number, host_suffix)
    existing = (
        await session.execute(select(Endpoint).where(Endpoint.room_id == room.id).limit(1))
    ).scalar_one_or_none()
    if existing is not None:
        # A demo loaded before the simulated network had addresses nothing could reach.
        if existing.address == _old_address(number, host_suffix):
            before = endpoint_view(existing)
            existing.kind, existing.address, existing.probe_transport = kind, address, transport
            existing.search_text = search_blob(vendor, model, address, room.name)
            audit.record(
                session,
                actor,
                at=utcnow(),
                action="update",
                entity="endpoint",
                entity_id=existing.id,
                unit_path=unit.path,
                before=before,
                after=endpoint_view(existing),
            )
        return
    host = address.split(";", 1)[0].rsplit("@", 1)[-1]
    endpoint = Endpoint(
        room_id=room.id,
        name=f"{vendor} {model}",
        kind=kind,
        address=address,
        vendor=vendor,
        model=model,
        management_url=f"https://{host}/",
        probe_enabled=True,
        probe_transport=transport,
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


def demo_address(code: str, number: int, host_suffix: int) -> tuple[str, str, str | None]:
    """A demo room system's kind, address and probe transport.

    Room systems live on the simulated network (the simulated MCU calls them, monitoring
    answers for them as it does); the silent unit's is cut off: nothing listens at its
    address, so monitoring's real probe is refused and the simulated MCU's call is not
    answered (monitoring says it is down).
    """
    if code == SILENT_UNIT:
        return "sip", SILENT_ADDRESS, "tcp"
    host = f"{code}.{SIMULATED_DOMAIN}"
    # Every third lower unit still runs an H.323-only system, as in the field.
    if host_suffix and host_suffix % 3 == 0:
        return "h323", f"h323:{number:02d}{host_suffix:03d}@{host}", None
    return "sip", f"sip:phonghop@{host}", "udp"


def _old_address(number: int, host_suffix: int) -> str:
    host = f"10.{100 + number // 100}.{number % 100}.{10 + host_suffix}"
    if host_suffix and host_suffix % 3 == 0:
        return f"h323:{number:02d}{host_suffix:03d}@{host}"
    return f"sip:phonghop@{host}"


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
