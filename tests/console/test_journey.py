"""Issue 18's whole journey in the browser, one step after another, each asserting what the
page shows: the secretariat books a weekly meeting with five sites from a site group through
the form, sees a clash and fixes it, moves one occurrence; an operator watches the first
occurrence launch in the live room (the simulated MCU; Điện Biên's room system does not
answer), redials a site and hands Điện Biên its browser link; the secretariat ends it and
downloads the XLSX from the attendance page; leadership opens the dashboard."""

from __future__ import annotations

import io
import re
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.async_api import Page, expect

from tests.api import FakeClock, make_settings
from tests.console.conftest import Console, SignedIn, check_accessibility, screenshots
from tests.console.test_booking import at, five_site_group, next_monday
from tests.orchestration.conftest import settle, sim
from vcorch.config import Settings

ROOMS = (
    "Phòng họp central",
    "Phòng họp lao-cai",
    "Phòng họp dien-bien",
    "Phòng họp lao-cai.bac-ha",
    "Hội trường Trung ương",
)


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


def tile(page: Page, room: str) -> Any:
    return page.locator("li.tile", has=page.get_by_role("heading", name=room, exact=True))


async def test_book_launch_steer_end_export_and_read_the_share(
    console: Console, signed_in: SignedIn, app_client: Any, clock: FakeClock
) -> None:
    app = app_client.server.app
    world = console.world
    group, rooms = await five_site_group(console)
    # The hall gets a room system too, so that all five sites are dialled.
    status, body = await console.api.as_(console.token("central_sec")).post(
        "/api/endpoints",
        {
            "room_id": rooms[-1],
            "name": "Thiết bị hội trường",
            "kind": "sip",
            "address": "sip:hoitruong@central.example.vn",
        },
    )
    assert status == 201, body
    monday = next_monday()
    status, other = await console.api.as_(console.token("laocai_sec")).post(
        "/api/meetings",
        {
            "title": "Giao ban Lào Cai",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": world.units["lao-cai"],
            "start": at(monday, 8),
            "end": at(monday, 10),
            "sites": [{"room_id": world.rooms["lao-cai"]}],
        },
    )
    assert status == 201, other

    # 1. The secretariat books it through the form: weekly, four Mondays, the group's five sites.
    page = await signed_in("secretariat", "/meetings/new")
    await page.get_by_label("Tiêu đề", exact=True).fill("Giao ban tuần toàn quốc")
    await page.get_by_label("Chủ trì", exact=True).fill("Đồng chí Chánh Văn phòng")
    await page.get_by_label("Ngày", exact=True).fill(monday.strftime("%Y-%m-%d"))
    await page.get_by_label("Bắt đầu", exact=True).fill("08:00")
    await page.get_by_label("Kết thúc", exact=True).fill("09:30")
    await page.get_by_label("Lặp lại").select_option("WEEKLY")
    await page.locator("#f-endkind").select_option("count")
    await page.get_by_label("Số buổi").fill("4")
    await page.get_by_label("Nhóm điểm cầu").select_option(str(group["id"]))
    await page.get_by_role("button", name="Thêm cả nhóm").click()
    await expect(page.locator("#site-count")).to_have_text("5 điểm cầu đã chọn")
    # 2. The clash with Lào Cai's own meeting is shown before saving; later it is free.
    await page.get_by_role("button", name="Kiểm tra trùng lịch").click()
    result = page.locator("#check-result")
    await expect(result).to_contain_text("Trùng lịch (1)")
    await expect(page.locator("#clash-list")).to_contain_text("Giao ban Lào Cai")
    await page.get_by_label("Bắt đầu", exact=True).fill("10:30")
    await page.get_by_label("Kết thúc", exact=True).fill("12:00")
    await page.get_by_role("button", name="Kiểm tra trùng lịch").click()
    await expect(result).to_contain_text("Không trùng lịch.")
    await page.get_by_role("button", name="Đặt lịch").click()
    await page.wait_for_url(re.compile(r"/meetings/[0-9]+/edit\?created=1$"))
    await page.wait_for_selector("body[data-ready]")
    meeting_id = int(page.url.split("/")[-2])
    occurrences = page.locator("#occurrences > li")
    await expect(occurrences).to_have_count(4)
    # 3. The second Monday moves to Tuesday afternoon.
    tuesday = monday + timedelta(days=8)
    item = occurrences.nth(1)
    await item.get_by_role("button", name=re.compile("^Dời buổi")).click()
    await item.get_by_label("Ngày mới").fill(tuesday.strftime("%Y-%m-%d"))
    await item.get_by_label("Giờ bắt đầu mới").fill("14:00")
    await item.get_by_role("button", name="Lưu buổi này").click()
    await expect(page.locator("#occurrences > li[data-moved=true]")).to_contain_text(
        tuesday.strftime("%d/%m/%Y")
    )
    await screenshots(page, "journey-booked")

    # 4. The first Monday, a few minutes before 10:30: the operator opens the live room and
    # the secretariat starts the meeting (the service's clock moves; everyone signs in again).
    clock.now = monday.replace(hour=10, minute=27).astimezone(UTC)
    live_path = f"/meetings/{meeting_id}/live"
    operator = await signed_in("operator", live_path)
    await expect(operator.get_by_role("heading", level=1)).to_have_text("Giao ban tuần toàn quốc")
    await expect(operator.locator("li.tile")).to_have_count(5)
    await expect(operator.locator("#launch-count")).to_have_text("0/5 điểm cầu đã kết nối")
    secretariat = await signed_in("secretariat", live_path)
    await secretariat.locator("#meeting-start").click()
    await expect(secretariat.get_by_text("Đã bắt đầu cuộc họp")).to_be_visible()
    await settle(app, clock)
    for room in ROOMS:
        if room != "Phòng họp dien-bien":
            await expect(tile(operator, room)).to_contain_text("Đã kết nối")
    await expect(tile(operator, "Phòng họp dien-bien")).to_contain_text("Dự phòng qua trình duyệt")
    await expect(operator.locator("#launch-count")).to_have_text("4/5 điểm cầu đã kết nối")

    # 5. The operator redials Lào Cai and hands Điện Biên its browser link (copy and QR).
    laocai = tile(operator, "Phòng họp lao-cai")
    since = await laocai.locator("dd").nth(1).text_content()
    await laocai.get_by_role("button", name="Gọi lại — Phòng họp lao-cai").click()
    await expect(operator.get_by_text("Đang gọi lại: Phòng họp lao-cai")).to_be_visible()
    await settle(app, clock)
    await expect(laocai).to_contain_text("Đã kết nối")
    await expect(laocai.locator("dd").nth(1)).not_to_have_text(since or "")
    await (
        tile(operator, "Phòng họp dien-bien")
        .get_by_role("button", name="Liên kết trình duyệt — Phòng họp dien-bien")
        .click()
    )
    dialog = operator.get_by_role("dialog", name="Liên kết trình duyệt — Phòng họp dien-bien")
    assert "/join/" in await dialog.get_by_label("Liên kết").input_value()
    await expect(dialog.get_by_role("img", name=re.compile("^Mã QR"))).to_be_visible()
    await dialog.get_by_role("button", name="Sao chép liên kết").click()
    await expect(dialog.get_by_text("Đã sao chép liên kết.")).to_be_visible()
    await screenshots(operator, "journey-live-link")
    await dialog.get_by_role("button", name="Đóng").click()

    # 6. The secretariat ends it, confirming; the operator's room shows it ended.
    await secretariat.locator("#meeting-end").click()
    await secretariat.get_by_role("dialog").get_by_role("button", name="Kết thúc").click()
    await expect(secretariat.get_by_text("Đã kết thúc cuộc họp")).to_be_visible()
    await expect(operator.locator(".run-state")).to_have_text("Đã kết thúc")

    # 7. The attendance page: the five sites, and the XLSX holds them.
    await secretariat.goto(console.url(f"/meetings/{meeting_id}/attendance"))
    await secretariat.wait_for_selector("body[data-ready]")
    table = secretariat.get_by_role("table", name="Điểm cầu")
    await expect(table.locator("tbody tr")).to_have_count(5)
    async with secretariat.expect_download() as waiting:
        await secretariat.get_by_role("button", name="Tải về XLSX").click()
    download = await waiting.value
    data = Path(await download.path()).read_bytes()  # noqa: ASYNC240 - a local temp file
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    cells = {
        str(cell)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    }
    assert set(ROOMS) <= cells, sorted(cells)[:40]
    await check_accessibility(secretariat)

    # 8. Leadership opens the dashboard: the occurrence just held counts, declared online,
    # with Lào Cai's meeting of that morning (its time has passed too).
    from vcorch.stats.routes import STATS

    await app[STATS].refresher.refresh()
    leader = await signed_in("leadership", f"/dashboard?year={monday.year}")
    await leader.wait_for_selector("body[data-loaded]", state="attached")
    await expect(leader.locator(".stats")).to_have_attribute("data-year", str(monday.year))
    await expect(leader.locator(".tile-note").nth(1)).to_contain_text("2/2 cuộc họp")
    await screenshots(leader, "journey-dashboard")
    assert not console.errors, console.errors
