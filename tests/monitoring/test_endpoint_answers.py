"""The simulated MCU asks endpoint health whether a site answers, in the running service:
a site whose endpoint monitoring found down falls back; one found up is connected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api import Api, FakeClock, make_settings
from tests.monitoring.conftest import Monitored
from tests.orchestration.conftest import book, settle, sim
from vcorch.config import Settings
from vcorch.scheduler.routes import SCHEDULER


@pytest.fixture
def settings(database_url: str) -> Settings:
    # One simulated MCU that would call every address: only health can make a site silent.
    return make_settings(
        database_url,
        bridges=[sim("mcu-a", 10, unreachable=[])],
        dial_attempts=1,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
    )


async def test_a_site_whose_endpoint_is_down_falls_back_and_one_up_connects(
    monitored: Monitored, api: Api, clock: FakeClock
) -> None:
    world, app = monitored.world, monitored.app
    # central and lao-cai answer (kamailio); dien-bien is refused; bac-ha answers 404.
    await monitored.service.sweep_all(clock.now)
    status, health = await monitored.admin.get("/api/health/endpoints")
    assert status == 200, health
    by_endpoint = {item["endpoint_id"]: item["state"] for item in health["items"]}
    assert by_endpoint[world.endpoints["dien-bien"]] == "down"
    assert by_endpoint[world.endpoints["lao-cai"]] == "up"

    start = clock.now.replace(microsecond=0) + timedelta(minutes=20)
    meeting_id = await book(api, world, start)
    clock.now = start - timedelta(minutes=5)
    assert any(job.startswith("launch:") for job in await app[SCHEDULER].tick())
    await settle(app, clock)

    status, live = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting_id}/live"
    )
    assert status == 200, live
    names = {room_id: code for code, room_id in world.rooms.items()}
    sites: dict[str, Any] = {names[site["room_id"]]: site for site in live["sites"]}
    assert {code: site["state"] for code, site in sites.items()} == {
        "central": "connected",
        "lao-cai": "connected",
        "dien-bien": "fallback",
        "lao-cai.bac-ha": "fallback",
    }
    assert sites["dien-bien"]["fallback_url"].startswith("http://127.0.0.1:8080/join/")
    assert sites["lao-cai"]["fallback_url"] is None

    # Attendance agrees: the connected sites took part by room system, the silent one not.
    status, attendance = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting_id}/attendance"
    )
    assert status == 200, attendance
    joined = {names[site["room_id"]]: site for site in attendance["sites"]}
    assert joined["lao-cai"]["first_join"] is not None
    assert joined["dien-bien"]["first_join"] is None
