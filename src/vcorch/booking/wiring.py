"""Wires the meeting register: booking, its conflict check over the bridges' ports."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.booking.placement_pool import PortPool
from vcorch.booking.routes import BOOKING
from vcorch.booking.service import BookingPolicy, BookingService
from vcorch.config import BridgeConfig, Settings
from vcorch.rooms import RoomsService, Unit
from vcorch.runtime import Runtime

__all__ = ["booking_policy", "setup"]

log = logging.getLogger(__name__)


def booking_policy(settings: Settings) -> BookingPolicy:
    return BookingPolicy(
        setup_buffer=timedelta(minutes=settings.booking_setup_buffer_minutes),
        max_series_span=timedelta(days=math.ceil(365.25 * settings.booking_series_max_years)),
    )


async def port_pools(
    sessions: async_sessionmaker[AsyncSession], bridges: list[BridgeConfig]
) -> list[PortPool]:
    """The configured bridges as booking counts them; unit codes become subtree paths."""
    async with sessions() as session:
        paths = dict((await session.execute(select(Unit.code, Unit.path))).all())
    pools = []
    for bridge in bridges:
        if not bridge.enabled:
            continue
        unknown = [code for code in bridge.units if code not in paths]
        if unknown:
            log.warning("bridge %s serves unknown units %s; ignoring them", bridge.name, unknown)
        served = tuple(paths[code] for code in bridge.units if code in paths)
        if bridge.units and not served:
            continue
        pools.append(PortPool(bridge.name, bridge.ports, served))
    return pools


async def setup(
    runtime: Runtime,
    *,
    rooms: RoomsService,
    bridges: list[BridgeConfig],
) -> BookingService:
    pools = await port_pools(runtime.sessions, bridges)
    booking = BookingService(
        runtime.sessions,
        policy=booking_policy(runtime.settings),
        pools=lambda: pools,
        default_zone=runtime.settings.timezone,
        clock=runtime.clock,
        public_url=runtime.settings.public_url,
    )
    rooms.add_reference_finder(booking.references)
    runtime.provide(BOOKING, booking)
    return booking
