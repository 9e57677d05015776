"""The board knows meetings: each endpoint's next meeting within a day and, while it runs,
the site's state in it with a link to the live view — in the API and on the page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.api import Api, FakeClock, make_settings
from tests.browser import Browser, artifact
from tests.monitoring.conftest import Monitored
from tests.monitoring.test_board import _card, _log_in
from tests.orchestration.conftest import booking, settle, sim
from vcorch.config import Settings
from vcorch.scheduler.routes import SCHEDULER

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        bridges=[sim("mcu-a", 10, unreachable=[])],
        dial_attempts=1,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
    )


async def _book(monitored: Monitored, start: Any, title: str, codes: list[str]) -> int:
    world = monitored.world
    body = booking(
        world,
        start,
        title=title,
        host_room_id=world.rooms[codes[0]],
        sites=[{"room_id": world.rooms[code]} for code in codes],
    )
    status, made = await monitored.api.as_(world.tokens["central_sec"]).post("/api/meetings", body)
    assert status == 201, made
    return int(made["id"])


async def _meetings(api: Api, token: str) -> dict[int, dict[str, Any]]:
    status, body = await api.as_(token).get("/api/health/meetings?limit=2")
    assert status == 200, body
    items = list(body["items"])
    while body["next"]:
        status, body = await api.as_(token).get(
            f"/api/health/meetings?limit=2&cursor={body['next']}"
        )
        assert status == 200, body
        items.extend(body["items"])
    return {item["endpoint_id"]: item for item in items}


async def _three_meetings(monitored: Monitored, clock: FakeClock) -> tuple[int, int, int]:
    now = clock.now.replace(microsecond=0)
    soon = await _book(
        monitored, now + timedelta(minutes=20), "Giao ban sáng", ["lao-cai", "dien-bien"]
    )
    later = await _book(
        monitored, now + timedelta(hours=2), "Họp chiều", ["central", "lao-cai", "dien-bien"]
    )
    far = await _book(monitored, now + timedelta(hours=30), "Họp tuần sau", ["lao-cai.bac-ha"])
    return soon, later, far


async def test_each_endpoint_shows_its_next_meeting_then_its_state_in_it_within_scope(
    monitored: Monitored, api: Api, clock: FakeClock
) -> None:
    world, app = monitored.world, monitored.app
    await monitored.service.sweep_all(clock.now)
    soon, later, _far = await _three_meetings(monitored, clock)
    endpoints = world.endpoints

    seen = await _meetings(api, world.tokens["admin"])
    # The earliest meeting of each endpoint; a meeting more than a day ahead is not shown.
    assert {e: m["meeting_id"] for e, m in seen.items()} == {
        endpoints["lao-cai"]: soon,
        endpoints["dien-bien"]: soon,
        endpoints["central"]: later,
    }
    assert seen[endpoints["central"]]["title"] == "Họp chiều"
    assert not seen[endpoints["lao-cai"]]["running"]
    assert seen[endpoints["lao-cai"]]["state"] is None

    # A province's operator sees their endpoints only, and only their meetings.
    mine = await _meetings(api, world.tokens["laocai_op"])
    assert set(mine) == {endpoints["lao-cai"]}

    # The meeting comes up: lao-cai is connected in it, dien-bien (down) fell back.
    clock.now = clock.now + timedelta(minutes=15)
    assert any(job.startswith("launch:") for job in await app[SCHEDULER].tick())
    await settle(app, clock)
    seen = await _meetings(api, world.tokens["admin"])
    assert seen[endpoints["lao-cai"]]["running"]
    assert seen[endpoints["lao-cai"]]["state"] == "connected"
    assert seen[endpoints["dien-bien"]]["state"] == "fallback"
    live = seen[endpoints["lao-cai"]]["live"]
    assert live == f"/api/meetings/{soon}/live"
    status, view = await api.as_(world.tokens["laocai_op"]).get(live)
    assert status == 200, view

    # Bad input is a problem, not a crash.
    status, problem = await api.as_(world.tokens["admin"]).get("/api/health/meetings?unit=999999")
    assert status == 404, problem


async def test_the_board_page_shows_the_next_meeting_and_the_live_state(
    monitored: Monitored, clock: FakeClock, browser: Browser, app_client: Any
) -> None:
    world, app = monitored.world, monitored.app
    await monitored.service.sweep_all(clock.now)
    soon, _later, _far = await _three_meetings(monitored, clock)
    page = await browser.new_page(width=1280, height=900)
    await _log_in(page, app_client, "admin", "?refresh=1")

    central = _card(world.endpoints["central"])
    await page.wait_for(f"{central}?.querySelector('.meeting') != null")
    text = await page.evaluate(f"{central}.querySelector('.meeting').textContent")
    start = (clock.now.replace(microsecond=0) + timedelta(hours=2)).astimezone(ZONE)
    assert text == "Họp lúc " + start.strftime("%H:%M %d/%m") + ": Họp chiều"
    assert (
        await page.evaluate(f"{_card(world.endpoints['lao-cai.bac-ha'])}.querySelector('.meeting')")
        is None
    )

    clock.now = clock.now + timedelta(minutes=15)
    assert any(job.startswith("launch:") for job in await app[SCHEDULER].tick())
    await settle(app, clock)
    lao_cai = _card(world.endpoints["lao-cai"])
    await page.wait_for(f"{lao_cai}?.querySelector('.meeting.running') != null", timeout=15)
    line = f"{lao_cai}.querySelector('.meeting')"
    shown = await page.evaluate(f"{line}.textContent")
    assert shown.startswith("Đang họp: Giao ban sáng · Đã kết nối"), shown
    assert shown.endswith(" Xem trực tiếp"), shown
    assert await page.evaluate(f"{line}.querySelector('a.live').getAttribute('href')") == (
        f"/meetings/{soon}/live"
    )
    # The meetings themselves, running first, with their live room.
    listed = await page.evaluate(
        "[...document.querySelectorAll('#meeting-list .board-meeting')]"
        ".map(m => [Number(m.dataset.meetingId), m.dataset.running])"
    )
    assert listed[0] == [soon, "true"], listed
    dien_bien = _card(world.endpoints["dien-bien"])
    await page.wait_for(f"{dien_bien}?.querySelector('.meeting')?.dataset.siteState === 'fallback'")
    assert "Dự phòng qua trình duyệt" in await page.evaluate(
        f"{dien_bien}.querySelector('.meeting').textContent"
    )
    await page.screenshot(artifact("board-meetings.png"))
    assert page.errors == [], page.errors
