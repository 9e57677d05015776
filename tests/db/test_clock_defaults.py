"""Rows take their default times from the service's clock, not from the machine's."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from tests.api import Api, FakeClock
from tests.world import World
from vcorch.access.models import AuditEntry
from vcorch.web.keys import SESSIONS


async def test_created_updated_and_audited_at_the_service_clock(
    api: Api, world: World, clock: FakeClock, app_client: object
) -> None:
    # Far from the wall clock, so a row stamped by the machine would show at once (and a
    # token issued before the jump has expired: sign in again).
    clock.advance(days=400)
    admin = api.as_(await api.login("admin"))
    status, room = await admin.post(
        "/api/rooms", {"unit_id": world.units["lao-cai"], "name": "Phòng họp số 2", "seats": 20}
    )
    assert status == 201, room
    assert datetime.fromisoformat(room["created_at"]) == clock.now
    assert datetime.fromisoformat(room["updated_at"]) == clock.now

    clock.advance(minutes=5)
    status, changed = await admin.patch(f"/api/rooms/{room['id']}", {"seats": 30})
    assert status == 200, changed
    assert datetime.fromisoformat(changed["created_at"]) == clock.now - timedelta(minutes=5)
    assert datetime.fromisoformat(changed["updated_at"]) == clock.now

    sessions = app_client.server.app[SESSIONS]  # type: ignore[attr-defined]
    async with sessions() as session:
        stamps = (
            await session.scalars(
                select(AuditEntry.at).where(
                    AuditEntry.entity == "room", AuditEntry.entity_id == str(room["id"])
                )
            )
        ).all()
    assert sorted(stamps) == [clock.now - timedelta(minutes=5), clock.now]
