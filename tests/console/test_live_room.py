"""The live room (/meetings/{id}/live) and the attendance page, in the browser: an operator
watches a launch tile by tile, redials a site and hands another its browser link; the
secretariat ends the meeting and downloads the XLSX; a provincial operator sees its sites
only."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.async_api import Page, expect

from tests.api import FakeClock, make_settings
from tests.console.conftest import Console, SignedIn, check_accessibility, screenshots
from tests.orchestration.conftest import book, settle, sim
from tests.world import World
from vcorch.config import Settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Two simulated MCUs; Điện Biên's room system cannot be reached (it falls back).
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


async def test_an_operator_watches_the_launch_redials_and_hands_out_a_link_then_it_ends(
    console: Console, signed_in: SignedIn, app_client: Any, clock: FakeClock
) -> None:
    app = app_client.server.app
    world: World = console.world
    meeting_id = await book(
        console.api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2)
    )
    path = f"/meetings/{meeting_id}/live"
    operator = await signed_in("operator", path)  # the central operator: every site
    await expect(operator.get_by_role("heading", level=1)).to_have_text(
        "Họp Ban Chỉ đạo trực tuyến"
    )
    await expect(operator.locator("#launch-count")).to_have_text("0/4 điểm cầu đã kết nối")
    await expect(operator.locator("li.tile")).to_have_count(4)
    await expect(tile(operator, "Phòng họp lao-cai")).to_contain_text("Chờ gọi")
    # An operator does not start or end meetings.
    await expect(operator.locator("#meeting-start")).to_be_hidden()

    secretariat = await signed_in("secretariat", path)
    await secretariat.locator("#meeting-start").click()
    await expect(secretariat.get_by_text("Đã bắt đầu cuộc họp")).to_be_visible()
    # The supervisor's rounds (driven here: the test server runs no background work); the
    # operator's page follows each site's state from the stream.
    await settle(app, clock)
    await expect(tile(operator, "Phòng họp lao-cai")).to_contain_text("Đã kết nối")
    await expect(tile(operator, "Phòng họp lao-cai")).to_contain_text("Thiết bị phòng họp")
    await expect(tile(operator, "Phòng họp dien-bien")).to_contain_text("Dự phòng qua trình duyệt")
    await expect(operator.locator("#launch-count")).to_have_text("3/4 điểm cầu đã kết nối")
    await expect(operator.locator("#redial-failed")).to_have_text("Gọi lại các điểm lỗi (1)")

    # Redial Bắc Hà: the bridge drops and calls it again; the tile shows the new call's time.
    bac_ha = tile(operator, "Phòng họp lao-cai.bac-ha")
    since_before = await bac_ha.locator("dd").nth(1).text_content()
    await bac_ha.get_by_role("button", name="Gọi lại — Phòng họp lao-cai.bac-ha").click()
    await expect(operator.get_by_text("Đang gọi lại: Phòng họp lao-cai.bac-ha")).to_be_visible()
    await settle(app, clock)
    await expect(bac_ha).to_contain_text("Đã kết nối")
    await expect(bac_ha.locator("dd").nth(1)).not_to_have_text(since_before or "")

    # Điện Biên gets its browser link: shown with a copy button and its QR code.
    dien_bien = tile(operator, "Phòng họp dien-bien")
    await dien_bien.get_by_role("button", name="Liên kết trình duyệt — Phòng họp dien-bien").click()
    dialog = operator.get_by_role("dialog", name="Liên kết trình duyệt — Phòng họp dien-bien")
    await expect(dialog).to_be_visible()
    url = await dialog.get_by_label("Liên kết").input_value()
    assert url.startswith("http://127.0.0.1:8080/join/")
    qr = dialog.get_by_role("img", name="Mã QR của liên kết trình duyệt cho Phòng họp dien-bien")
    await expect(qr).to_be_visible()
    assert (await qr.evaluate("(img) => img.naturalWidth")) > 100
    await dialog.get_by_role("button", name="Sao chép liên kết").click()
    await expect(dialog.get_by_text("Đã sao chép liên kết.")).to_be_visible()
    await check_accessibility(operator)
    await screenshots(operator, "live-link")
    await dialog.get_by_role("button", name="Đóng").click()
    await expect(dialog).to_be_hidden()
    await check_accessibility(operator)
    await screenshots(operator, "live-room")

    # The secretariat ends it, after a confirmation; the operator's page sees it end.
    await secretariat.locator("#meeting-end").click()
    confirm = secretariat.get_by_role("dialog")
    await expect(confirm).to_contain_text("Kết thúc cuộc họp cho mọi điểm cầu?")
    await confirm.get_by_role("button", name="Kết thúc").click()
    await expect(secretariat.get_by_text("Đã kết thúc cuộc họp")).to_be_visible()
    await expect(operator.locator(".run-state")).to_have_text("Đã kết thúc")
    await expect(operator.locator("#vc-status")).to_contain_text("Cuộc họp đã kết thúc")
    assert not console.errors, console.errors

    # The attendance page: the sites, and the XLSX downloaded with the bearer token.
    await secretariat.goto(console.url(f"/meetings/{meeting_id}/attendance"))
    await secretariat.wait_for_selector("body[data-ready]")
    table = secretariat.get_by_role("table", name="Điểm cầu")
    await expect(table.get_by_role("row")).to_have_count(5)
    await expect(table).to_contain_text("Phòng họp lao-cai")
    async with secretariat.expect_download() as waiting:
        await secretariat.get_by_role("button", name="Tải về XLSX").click()
    download = await waiting.value
    assert download.suggested_filename.endswith(".xlsx")
    data = Path(await download.path()).read_bytes()  # noqa: ASYNC240 - a local temp file
    book_ = load_workbook(io.BytesIO(data), read_only=True)
    cells = {
        str(cell)
        for sheet in book_.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    }
    for code in ("central", "lao-cai", "dien-bien", "lao-cai.bac-ha"):
        assert f"Phòng họp {code}" in cells, code
    # A headcount and a person on the roster, checked in.
    await secretariat.get_by_label("Điểm cầu", exact=True).first.select_option(
        label="Phòng họp lao-cai"
    )
    await secretariat.get_by_role("spinbutton", name="Số người").fill("12")
    await secretariat.get_by_role("button", name="Lưu số người").click()
    await expect(secretariat.get_by_text("Đã lưu số người của Phòng họp lao-cai")).to_be_visible()
    laocai_row = table.locator(f'tr[data-room-id="{world.rooms["lao-cai"]}"]')
    await expect(laocai_row.locator("td").nth(6)).to_have_text("12")
    await secretariat.get_by_role("textbox", name="Họ tên").fill("Nguyễn Văn An")
    await secretariat.get_by_role("textbox", name="Chức vụ").fill("Phó Chủ tịch")
    await secretariat.locator("#person-room").select_option(label="Phòng họp lao-cai")
    await secretariat.get_by_role("button", name="Thêm vào danh sách").click()
    roster = secretariat.get_by_role("table", name="Danh sách dự kiến")
    await expect(roster).to_contain_text("Nguyễn Văn An")
    await roster.get_by_role("button", name="Điểm danh Nguyễn Văn An").click()
    await expect(roster).to_contain_text("Đã điểm danh")
    await expect(
        secretariat.get_by_text("1 người đã điểm danh, 1/1 người trong danh sách.")
    ).to_be_visible()
    await check_accessibility(secretariat)
    await screenshots(secretariat, "attendance")
    assert not console.errors, console.errors


async def test_a_provincial_operator_sees_and_acts_on_its_sites_only(
    console: Console, signed_in: SignedIn, app_client: Any, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id = await book(
        console.api, console.world, clock.now.replace(microsecond=0) + timedelta(minutes=2)
    )
    status, _ = await console.api.as_(console.token("central_sec")).post(
        f"/api/meetings/{meeting_id}/start"
    )
    assert status == 202
    await settle(app, clock)
    page = await signed_in("laocai_op", f"/meetings/{meeting_id}/live", phone=True)
    await expect(page.locator("li.tile")).to_have_count(2)
    await expect(tile(page, "Phòng họp lao-cai")).to_be_visible()
    await expect(tile(page, "Phòng họp lao-cai.bac-ha")).to_be_visible()
    await expect(page.get_by_text("Phòng họp dien-bien")).to_have_count(0)
    await expect(page.get_by_text("Phòng họp central")).to_have_count(0)
    await expect(page.locator("#launch-count")).to_have_text("2/2 điểm cầu đã kết nối")
    await expect(page.locator("#meeting-end")).to_be_hidden()
    await expect(
        tile(page, "Phòng họp lao-cai").get_by_role("button", name="Tắt tiếng — Phòng họp lao-cai")
    ).to_be_visible()
    await check_accessibility(page)
    await screenshots(page, "live-room-province")
    assert not console.errors, console.errors
