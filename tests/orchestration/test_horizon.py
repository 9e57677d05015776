"""Open-ended series keep being stored ahead, so the scheduler always finds them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from tests.api import Api, FakeClock
from tests.orchestration.conftest import book
from tests.world import World
from vcorch.booking.models import MeetingOccurrence
from vcorch.scheduler.routes import SCHEDULER
from vcorch.web.keys import SESSIONS


async def last_stored(app: Any) -> Any:
    async with app[SESSIONS]() as session:
        return await session.scalar(select(func.max(MeetingOccurrence.start_at)))


async def test_the_scheduler_stores_further_occurrences_of_endless_series(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(days=1)
    await book(
        api,
        world,
        start,
        rrule="FREQ=MONTHLY",
        sites=[{"room_id": world.rooms["lao-cai"]}],
        host_room_id=None,
    )
    before = await last_stored(app)
    await app[SCHEDULER].tick()
    assert await last_stored(app) == before  # far from running out: nothing to do
    clock.advance(days=700)
    await app[SCHEDULER].tick()
    after = await last_stored(app)
    assert after > before + timedelta(days=600)
