"""The demo as `make run` makes it: `vcorch demo` books a meeting a few minutes ahead on the
simulated MCU; monitoring sees one of its room systems down, the board says so, and when
the meeting comes up that site falls back and the service logs its browser link."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.api import Api, FakeClock, make_settings
from tests.orchestration.conftest import settle, sim
from tests.test_cli import vcorch
from vcorch.access.principal import SYSTEM_ACTOR
from vcorch.booking import Meeting, MeetingSite
from vcorch.demo import DEMO, DEMO_REF
from vcorch.monitoring.routes import MONITORING
from vcorch.rooms import SILENT_UNIT, Room, Unit
from vcorch.scheduler.routes import SCHEDULER
from vcorch.web.keys import SESSIONS


def _admin_password(database_url: str) -> str:
    made = vcorch(database_url, "users", "bootstrap-admin")
    assert made.returncode == 0, made.stderr
    found = re.search(r"password '([^']+)'", made.stdout)
    assert found, made.stdout
    return found.group(1)


async def _demo_meetings(app: Any) -> list[Meeting]:
    async with app[SESSIONS]() as session:
        return list(
            (
                await session.scalars(
                    select(Meeting).where(Meeting.external_ref == DEMO_REF).order_by(Meeting.id)
                )
            ).all()
        )


async def _sites(app: Any, meeting_id: int) -> dict[str, tuple[int, int]]:
    """unit code -> (room id, endpoint id) of the meeting's sites."""
    async with app[SESSIONS]() as session:
        rows = await session.execute(
            select(Unit.code, MeetingSite.room_id, MeetingSite.endpoint_id)
            .join(Room, Room.id == MeetingSite.room_id)
            .join(Unit, Unit.id == Room.unit_id)
            .where(MeetingSite.meeting_id == meeting_id)
        )
        return {code: (room_id, endpoint_id) for code, room_id, endpoint_id in rows}


async def test_the_demo_meeting_is_ahead_and_its_silent_site_falls_back_with_its_link_logged(
    database_url: str, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from vcorch.app import create_app

    loaded = vcorch(database_url, "demo")
    assert loaded.returncode == 0, loaded.stderr
    # Run again (a second `make run`): the meeting still ahead is kept, not doubled.
    again = vcorch(database_url, "demo")
    assert again.returncode == 0, again.stderr
    password = _admin_password(database_url)

    clock = FakeClock()
    # The simulated MCU of the demo, ringing in milliseconds rather than seconds.
    settings = make_settings(
        database_url,
        bridges=[sim("mo-phong", 10, unreachable=[])],
        dial_attempts=2,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
    )
    client = await aiohttp_client(create_app(settings, clock=clock, background=False))
    app = client.server.app
    api = Api(client)

    meetings = await _demo_meetings(app)
    assert len(meetings) == 1
    meeting = meetings[0]
    assert meeting.status == "scheduled"
    assert timedelta(minutes=5) < meeting.start_at - clock.now < timedelta(minutes=9)
    sites = await _sites(app, meeting.id)
    assert len(sites) == 5 and SILENT_UNIT in sites

    # Monitoring's first sweep: the silent room system is down, the others up — on the board.
    await app[MONITORING].sweep_all(clock.now)
    admin = api.as_(await api.login("admin", password))
    status, health = await admin.get("/api/health/endpoints?limit=1000")
    assert status == 200, health
    states = {item["endpoint_id"]: item["state"] for item in health["items"]}
    assert {code: states[endpoint] for code, (_room, endpoint) in sites.items()} == {
        "central": "up",
        "lao-cai": "up",
        "lao-cai.bac-ha": "up",
        "tuyen-quang.dong-van": "up",
        SILENT_UNIT: "down",
    }
    assert set(states.values()) == {"up", "down"}
    assert list(states.values()).count("down") == 1

    caplog.set_level(logging.INFO, logger="vcorch.demo")
    clock.now = meeting.start_at - timedelta(minutes=5)
    assert any(job.startswith("launch:") for job in await app[SCHEDULER].tick())
    await settle(app, clock)

    status, live = await admin.get(f"/api/meetings/{meeting.id}/live")
    assert status == 200, live
    by_room = {site["room_id"]: site for site in live["sites"]}
    silent = by_room[sites[SILENT_UNIT][0]]
    assert silent["state"] == "fallback"
    assert [s["state"] for s in live["sites"]].count("connected") == 4
    url = silent["fallback_url"]
    assert url.startswith(settings.public_url + "/join/")
    told = [r for r in caplog.records if r.name == "vcorch.demo" and r.levelno >= logging.INFO]
    assert [r.getMessage() for r in told if url in r.getMessage()], [r.getMessage() for r in told]
    # Told once, however often the live view is read.
    await admin.get(f"/api/meetings/{meeting.id}/live")
    assert sum(url in r.getMessage() for r in caplog.records) == 1


async def test_a_demo_meeting_too_close_to_launch_is_replaced_by_the_next(
    database_url: str, aiohttp_client: Any
) -> None:
    from vcorch.app import create_app

    assert vcorch(database_url, "demo").returncode == 0
    clock = FakeClock()
    client = await aiohttp_client(
        create_app(make_settings(database_url), clock=clock, background=False)
    )
    app = client.server.app
    (first,) = await _demo_meetings(app)
    # Later the same day: the booked one is about to launch (or past), so a new one is booked.
    clock.now = first.start_at - timedelta(minutes=3)
    second_id = await app[DEMO].book_next(SYSTEM_ACTOR)
    assert second_id != first.id
    meetings = {m.id: m for m in await _demo_meetings(app)}
    assert meetings[first.id].status == "cancelled"
    assert meetings[second_id].start_at - clock.now > timedelta(minutes=6)
    # Asked again at once, it is kept.
    assert await app[DEMO].book_next(SYSTEM_ACTOR) == second_id
