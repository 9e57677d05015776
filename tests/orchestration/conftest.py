"""An app with two simulated MCUs (one unreachable site) whose workers the tests drive."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.api import Api, FakeClock, make_settings
from tests.world import World
from vcorch.config import Settings

UNREACHABLE = "sip:phonghop@dien-bien.example.vn"


def sim(name: str, priority: int, **options: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "latency_ms": 0,
        "answer_delay_ms": 5,
        "ring_timeout_ms": 20,
        "unreachable": [UNREACHABLE],
    }
    values.update(options)
    return {
        "name": name,
        "type": "simulated",
        "ports": 40,
        "priority": priority,
        "retries": 0,
        "timeout_seconds": 0.5,
        "options": values,
    }


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        bridges=[sim("mcu-a", 10), sim("mcu-b", 20)],
        dial_attempts=2,
        failover_after=2,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
    )


async def settle(app: Any, clock: FakeClock, rounds: int = 12) -> None:
    """Supervisor rounds until no site is being called: real time for the simulated
    calls to ring, fake time for the orchestrator's retry and ring deadlines."""
    from sqlalchemy import select

    from vcorch.orchestration.models import RunSite
    from vcorch.orchestration.routes import ORCHESTRATOR
    from vcorch.web.keys import SESSIONS

    for _ in range(rounds):
        await app[ORCHESTRATOR].step_all()
        await asyncio.sleep(0.06)
        async with app[SESSIONS]() as session:
            busy = (
                await session.execute(
                    select(RunSite.id).where(RunSite.state.in_(("pending", "dialling")))
                )
            ).first()
        if busy is None:
            await app[ORCHESTRATOR].step_all()
            return
        clock.advance(seconds=5)
    raise AssertionError("sites still being called after every round")


def booking(world: World, start: Any, minutes: int = 60, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Họp Ban Chỉ đạo trực tuyến",
        "kind": "meeting",
        "mode": "online",
        "organizer_unit_id": world.units["central"],
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=minutes)).isoformat(),
        "host_room_id": world.rooms["central"],
        "sites": [
            {"room_id": world.rooms[code]}
            for code in ("central", "lao-cai", "dien-bien", "lao-cai.bac-ha")
        ],
    }
    body.update(overrides)
    return body


async def book(api: Api, world: World, start: Any, **overrides: Any) -> int:
    status, body = await api.as_(world.tokens["central_sec"]).post(
        "/api/meetings", booking(world, start, **overrides)
    )
    assert status == 201, body
    return int(body["id"])
