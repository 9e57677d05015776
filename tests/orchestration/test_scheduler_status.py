"""Operators can see which process leads the scheduler and what it will do next."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api import Api, FakeClock
from tests.orchestration.conftest import book
from tests.world import World
from vcorch.scheduler.routes import SCHEDULER


async def test_status_shows_the_leader_and_the_next_jobs(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(hours=1))
    await app_client.server.app[SCHEDULER].tick()
    status, body = await api.as_(world.tokens["admin"]).get("/api/scheduler")
    assert status == 200, body
    assert body["leader"] == body["this_process"]
    kinds = [job["kind"] for job in body["next_jobs"] if job["meeting_id"] == meeting_id]
    assert kinds == ["preflight", "launch", "end_warning", "end"]
    status, body = await api.as_(world.tokens["leader"]).get("/api/scheduler")
    assert status == 403
