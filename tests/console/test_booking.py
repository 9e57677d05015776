"""The booking form and site groups in the browser: what a secretariat user sees and does."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from tests.console.conftest import Console, SignedIn, check_accessibility, screenshots

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def next_monday() -> datetime:
    """A Monday at least three days ahead, midnight in Hà Nội."""
    today = datetime.now(HANOI).replace(hour=0, minute=0, second=0, microsecond=0)
    ahead = today + timedelta(days=3)
    return ahead + timedelta(days=(7 - ahead.weekday()) % 7)


def at(day: datetime, hour: int, minute: int = 0) -> str:
    return day.replace(hour=hour, minute=minute).astimezone(UTC).isoformat()


async def five_site_group(console: Console) -> tuple[dict[str, Any], list[int]]:
    sec = console.api.as_(console.token("central_sec"))
    status, hall = await sec.post(
        "/api/rooms",
        {"unit_id": console.world.units["central"], "name": "Hội trường Trung ương", "seats": 300},
    )
    assert status == 201, hall
    rooms = [console.world.rooms[c] for c in ("central", "lao-cai", "dien-bien", "lao-cai.bac-ha")]
    rooms.append(hall["id"])
    status, group = await sec.post(
        "/api/site-groups",
        {"unit_id": console.world.units["central"], "name": "Năm điểm cầu", "room_ids": rooms},
    )
    assert status == 201, group
    return group, rooms


async def test_secretariat_books_a_weekly_meeting_from_a_site_group_fixes_a_clash_and_moves_one(
    console: Console, signed_in: SignedIn
) -> None:
    group, rooms = await five_site_group(console)
    monday = next_monday()
    # Lào Cai already holds its room on that Monday morning.
    status, other = await console.api.as_(console.token("laocai_sec")).post(
        "/api/meetings",
        {
            "title": "Giao ban Lào Cai",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": console.world.units["lao-cai"],
            "start": at(monday, 8),
            "end": at(monday, 10),
            "sites": [{"room_id": console.world.rooms["lao-cai"]}],
        },
    )
    assert status == 201, other

    page = await signed_in("secretariat", "/meetings/new")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Đặt lịch họp")
    await page.get_by_label("Tiêu đề", exact=True).fill("Giao ban tuần toàn quốc")
    await page.get_by_label("Chủ trì", exact=True).fill("Đồng chí Chánh Văn phòng")
    await page.get_by_label("Ngày", exact=True).fill(monday.strftime("%Y-%m-%d"))
    await page.get_by_label("Bắt đầu", exact=True).fill("08:00")
    await page.get_by_label("Kết thúc", exact=True).fill("09:30")
    await page.get_by_label("Lặp lại").select_option("WEEKLY")
    await expect(page.get_by_label("Thứ Hai")).to_be_checked()
    await page.locator("#f-endkind").select_option("count")
    await page.get_by_label("Số buổi").fill("4")
    await page.get_by_label("Nhóm điểm cầu").select_option(str(group["id"]))
    await page.get_by_role("button", name="Thêm cả nhóm").click()
    rows = page.locator("#site-rows tr")
    await expect(rows).to_have_count(5)
    await expect(page.locator("#site-count")).to_have_text("5 điểm cầu đã chọn")

    # The check names the clash before anything is saved, and the room shows as busy.
    await page.get_by_role("button", name="Kiểm tra trùng lịch").click()
    result = page.locator("#check-result")
    await expect(result).to_contain_text("Trùng lịch (1)")
    await expect(page.locator("#clash-list li")).to_contain_text(["Phòng họp lao-cai: 08:00–10:00"])
    await expect(page.locator("#clash-list")).to_contain_text("Giao ban Lào Cai")
    laocai_row = page.locator(f"#site-rows tr[data-room='{console.world.rooms['lao-cai']}']")
    await expect(laocai_row).to_contain_text("Bận")
    await check_accessibility(page)
    await screenshots(page, "booking-clash")
    await page.get_by_role("button", name="Đặt lịch").click()
    await expect(result).to_contain_text("hãy đổi giờ hoặc bỏ điểm cầu bị trùng")
    assert page.url.endswith("/meetings/new")

    # Right after the other meeting is still too close (the room needs setting up); half an
    # hour later nothing clashes, and the booking goes through.
    await page.get_by_label("Bắt đầu", exact=True).fill("10:00")
    await page.get_by_label("Kết thúc", exact=True).fill("11:30")
    await page.get_by_role("button", name="Kiểm tra trùng lịch").click()
    await expect(result).to_contain_text("thời gian chuẩn bị")
    await page.get_by_label("Bắt đầu", exact=True).fill("10:30")
    await page.get_by_label("Kết thúc", exact=True).fill("12:00")
    await page.get_by_role("button", name="Kiểm tra trùng lịch").click()
    await expect(result).to_contain_text("Không trùng lịch.")
    await expect(laocai_row).to_contain_text("Rảnh")
    await page.get_by_role("button", name="Đặt lịch").click()
    await page.wait_for_url(re.compile(r"/meetings/[0-9]+/edit\?created=1$"))
    await page.wait_for_selector("body[data-ready]")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Sửa cuộc họp: Giao ban tuần toàn quốc"
    )
    occurrences = page.locator("#occurrences > li")
    await expect(occurrences).to_have_count(4)
    meeting_id = int(page.url.split("/")[-2])
    status, saved = await console.api.as_(console.token("central_sec")).get(
        f"/api/meetings/{meeting_id}"
    )
    assert status == 200 and sorted(s["room_id"] for s in saved["sites"]) == sorted(rooms)
    assert set(saved["rrule"].split(";")) == {"FREQ=WEEKLY", "BYDAY=MO", "COUNT=4"}
    assert saved["start"].startswith(
        monday.replace(hour=10, minute=30).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    )

    # The second Monday moves to Tuesday afternoon.
    second = monday + timedelta(days=7)
    tuesday = second + timedelta(days=1)
    item = occurrences.nth(1)
    await item.get_by_role("button", name=re.compile("^Dời buổi")).click()
    await item.get_by_label("Ngày mới").fill(tuesday.strftime("%Y-%m-%d"))
    await item.get_by_label("Giờ bắt đầu mới").fill("14:00")
    await item.get_by_role("button", name="Lưu buổi này").click()
    await expect(page.locator("#vc-toasts")).to_contain_text("Đã dời buổi")
    moved = page.locator("#occurrences > li[data-moved=true]")
    await expect(moved).to_have_count(1)
    await expect(moved).to_contain_text("14:00–15:30")
    await expect(moved).to_contain_text(tuesday.strftime("%d/%m/%Y"))
    await expect(moved).to_contain_text("Đã dời")
    await check_accessibility(page)
    await screenshots(page, "booking-edit")
    assert not console.errors, console.errors


async def test_an_edit_crossed_by_another_shows_what_changed_and_reloads(
    console: Console, signed_in: SignedIn
) -> None:
    monday = next_monday()
    sec = console.api.as_(console.token("central_sec"))
    status, meeting = await sec.post(
        "/api/meetings",
        {
            "title": "Họp chuẩn bị hội nghị",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": console.world.units["central"],
            "start": at(monday, 14),
            "end": at(monday, 15),
            "sites": [{"room_id": console.world.rooms["central"]}],
        },
    )
    assert status == 201, meeting
    page = await signed_in("secretariat", f"/meetings/{meeting['id']}/edit")
    await expect(page.get_by_label("Tiêu đề", exact=True)).to_have_value("Họp chuẩn bị hội nghị")
    # Someone else renames it meanwhile.
    status, _ = await sec.patch(
        f"/api/meetings/{meeting['id']}",
        {"title": "Họp chuẩn bị hội nghị (đã dời phòng)"},
        headers={"If-Match": '"v1"'},
    )
    assert status == 200
    await page.get_by_label("Chủ trì", exact=True).fill("Phó Chánh Văn phòng")
    await page.get_by_role("button", name="Lưu thay đổi").click()
    stale = page.locator("#stale")
    await expect(stale).to_be_visible()
    await expect(stale.get_by_role("heading")).to_have_text("Người khác vừa sửa cuộc họp này")
    await expect(stale).to_contain_text("phiên bản 1; bản hiện tại là phiên bản 2")
    changed = stale.locator("tbody tr")
    await expect(changed).to_have_count(1)
    await expect(changed).to_contain_text("Tiêu đề")
    await expect(changed).to_contain_text("Họp chuẩn bị hội nghị (đã dời phòng)")
    await check_accessibility(page)
    await screenshots(page, "booking-stale")
    await stale.get_by_role("button", name="Tải lại bản mới nhất").click()
    await expect(stale).to_be_hidden()
    renamed = "Họp chuẩn bị hội nghị (đã dời phòng)"
    await expect(page.get_by_label("Tiêu đề", exact=True)).to_have_value(renamed)
    # Saved again on the new version, the change goes through.
    await page.get_by_label("Chủ trì", exact=True).fill("Phó Chánh Văn phòng")
    await page.get_by_role("button", name="Lưu thay đổi").click()
    await expect(page.locator("#vc-toasts")).to_contain_text("Đã lưu (phiên bản 3)")
    status, read = await sec.get(f"/api/meetings/{meeting['id']}")
    assert read["chair"] == "Phó Chánh Văn phòng" and read["version"] == 3
    # The browser logs the one 412 it was answered; nothing else went wrong.
    assert [e for e in console.errors if "412" not in e] == [], console.errors


async def test_site_groups_page_saves_all_provinces_by_rule(
    console: Console, signed_in: SignedIn
) -> None:
    page = await signed_in("secretariat", "/site-groups")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Nhóm điểm cầu")
    await expect(page.locator("#group-list")).to_contain_text("Chưa có nhóm nào")
    await page.get_by_label("Tên nhóm").fill("Tất cả các tỉnh")
    await page.get_by_label("Lấy theo cây đơn vị").check()
    await page.get_by_label("Chỉ đơn vị cấp").select_option("province")
    await page.get_by_role("button", name="Lưu nhóm").click()
    await expect(page.locator("#vc-toasts")).to_contain_text(
        "Đã tạo nhóm “Tất cả các tỉnh” (2 điểm cầu)"
    )
    entry = page.locator("#group-list > li").first
    await expect(entry).to_contain_text("2 điểm cầu · theo quy tắc")
    await entry.get_by_text("Xem các điểm cầu").click()
    await expect(entry).to_contain_text("Phòng họp lao-cai · Tỉnh Lào Cai")
    await expect(entry).to_contain_text("Phòng họp dien-bien · Tỉnh Điện Biên")
    await check_accessibility(page)
    await screenshots(page, "site-groups")
    # A commune room listed by hand joins the rule's members.
    await entry.get_by_role("button", name="Sửa nhóm Tất cả các tỉnh").click()
    await page.get_by_label("Tìm phòng").fill("bac ha")
    await page.get_by_label(re.compile("^Phòng họp lao-cai.bac-ha")).check()
    await page.get_by_role("button", name="Lưu nhóm").click()
    await expect(page.locator("#vc-toasts")).to_contain_text("(3 điểm cầu)")
    assert not console.errors, console.errors


async def test_copying_a_meeting_into_the_past_records_it_and_a_series_is_cancelled(
    console: Console, signed_in: SignedIn
) -> None:
    monday = next_monday()
    sec = console.api.as_(console.token("central_sec"))
    status, original = await sec.post(
        "/api/meetings",
        {
            "title": "Tập huấn phần mềm",
            "kind": "training",
            "mode": "hybrid",
            "organizer_unit_id": console.world.units["central"],
            "start": at(monday, 8),
            "end": at(monday, 11),
            "rrule": "FREQ=WEEKLY;COUNT=3",
            "sites": [
                {"room_id": console.world.rooms["central"]},
                {"room_id": console.world.rooms["lao-cai"]},
            ],
        },
    )
    assert status == 201, original
    page = await signed_in("secretariat", f"/meetings/new?copy={original['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sao chép cuộc họp")
    await expect(page.get_by_label("Tiêu đề", exact=True)).to_have_value(
        "Tập huấn phần mềm (bản sao)"
    )
    await expect(page.get_by_label("Loại")).to_have_value("training")
    await expect(page.locator("#site-rows tr")).to_have_count(2)
    # Held last Wednesday, once: recorded after the fact.
    last_week = datetime.now(HANOI) - timedelta(days=6)
    await page.get_by_label("Ngày", exact=True).fill(last_week.strftime("%Y-%m-%d"))
    await page.get_by_label("Lặp lại").select_option("")
    await page.get_by_role("button", name="Kiểm tra trùng lịch").click()
    await expect(page.locator("#past-note")).to_be_visible()
    await expect(page.locator("#past-note")).to_contain_text("đã diễn ra")
    await page.get_by_role("button", name="Đặt lịch").click()
    await page.wait_for_url(re.compile(r"/meetings/[0-9]+/edit\?created=1$"))
    await page.wait_for_selector("body[data-ready]")
    await expect(page.locator("#meeting-status")).to_have_text("Đã kết thúc")
    copy_id = int(page.url.split("/")[-2])
    status, copy = await sec.get(f"/api/meetings/{copy_id}")
    assert copy["status"] == "ended" and copy["rrule"] is None and len(copy["sites"]) == 2

    # The original series is cancelled from its edit page, after a confirmation.
    await page.goto(console.url(f"/meetings/{original['id']}/edit"))
    await page.wait_for_selector("body[data-ready]")
    await expect(page.locator("#occurrences > li")).to_have_count(3)
    await page.get_by_role("button", name="Hủy cả chuỗi").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Hủy cả chuỗi cuộc họp “Tập huấn phần mềm”?")
    await dialog.get_by_role("button", name="Hủy cuộc họp").click()
    await expect(page.locator("#meeting-status")).to_have_text("Đã hủy")
    status, cancelled = await sec.get(f"/api/meetings/{original['id']}")
    assert cancelled["status"] == "cancelled"
    assert not console.errors, console.errors
