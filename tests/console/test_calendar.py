"""Calendar (/calendar): week, month and list views with filters, in the unit's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from tests.console.conftest import Console, SignedIn, check_accessibility, screenshots
from tests.console.test_home import book

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]


def vietnamese_date(moment: datetime) -> str:
    local = moment.astimezone(ZONE)
    return f"{WEEKDAYS[local.weekday()]}, {local:%d/%m/%Y}"


async def test_week_month_and_list_with_filters(console: Console, signed_in: SignedIn) -> None:
    world = console.world
    # Next Monday 08:30 in Hà Nội (01:30 UTC): a weekly training, three times.
    today = datetime.now(ZONE).date()
    monday = today + timedelta(days=7 - today.weekday())
    first = datetime(monday.year, monday.month, monday.day, 8, 30, tzinfo=ZONE).astimezone(UTC)
    weekly = await book(
        console,
        "central_sec",
        title="Tập huấn chuyển đổi số",
        kind="training",
        start=first.isoformat(),
        end=(first + timedelta(hours=2)).isoformat(),
        rrule="FREQ=WEEKLY;COUNT=3",
    )
    wednesday = first + timedelta(days=2, hours=5)
    await book(
        console,
        "laocai_sec",
        title="Họp trực tiếp Lào Cai",
        mode="in_person",
        organizer_unit_id=world.units["lao-cai"],
        host_room_id=world.rooms["lao-cai"],
        sites=[{"room_id": world.rooms["lao-cai"]}],
        start=wednesday.isoformat(),
        end=(wednesday + timedelta(hours=1)).isoformat(),
    )
    day = first.astimezone(ZONE).date().isoformat()
    page = await signed_in("secretariat", f"/calendar?view=week&date={day}")
    sunday = (first + timedelta(days=6)).astimezone(ZONE)
    await expect(page.locator("#calendar-range")).to_have_text(
        f"Tuần {first.astimezone(ZONE):%d/%m/%Y} – {sunday:%d/%m/%Y}"
    )
    monday_cell = page.locator(f"section.day[data-day='{day}']")
    await expect(monday_cell.locator("h3")).to_have_text(vietnamese_date(first))
    training = monday_cell.locator("li.meeting")
    await expect(training).to_contain_text("08:30–10:30")  # Hà Nội time, 24 h
    await expect(training).to_contain_text("Tập huấn chuyển đổi số")
    await expect(training).to_contain_text("Tập huấn")
    wednesday_cell = page.locator(f"section.day[data-day='{wednesday.astimezone(ZONE).date()}']")
    await expect(wednesday_cell).to_contain_text("13:30–14:30")
    await expect(wednesday_cell).to_contain_text("Trực tiếp")
    await check_accessibility(page)
    await screenshots(page, "calendar-week")

    # Filters: the mode, then the unit's subtree, then words without accents.
    await page.get_by_label("Hình thức").select_option(label="Trực tiếp")
    await expect(page.locator("li.meeting")).to_have_count(1)
    await expect(page.locator("li.meeting")).to_contain_text("Họp trực tiếp Lào Cai")
    assert "mode=in_person" in page.url
    await page.get_by_label("Hình thức").select_option(value="")
    await page.get_by_label("Đơn vị (cả cấp dưới)").select_option(label="— Tỉnh Lào Cai")
    await expect(page.locator("li.meeting")).to_have_count(1)
    await page.get_by_label("Đơn vị (cả cấp dưới)").select_option(value="")
    await page.get_by_label("Tìm").fill("chuyen doi so")
    await page.get_by_role("button", name="Lọc").click()
    await expect(page.locator("li.meeting")).to_have_count(1)
    await expect(page.locator("li.meeting")).to_contain_text("Tập huấn chuyển đổi số")
    await page.get_by_label("Tìm").fill("")
    await page.get_by_role("button", name="Lọc").click()

    # Month: the three trainings on three Mondays (some may fall in the next month).
    await page.get_by_role("button", name="Tháng").click()
    await expect(page.locator("body")).to_have_attribute("data-calendar-view", "month")
    local = first.astimezone(ZONE)
    await expect(page.locator("#calendar-range")).to_have_text(f"Tháng {local.month}/{local.year}")
    in_month = [
        first + timedelta(weeks=n)
        for n in range(3)
        if (first + timedelta(weeks=n)).astimezone(ZONE).month == local.month
    ]
    for moment in in_month:
        cell = page.locator(f".month-day[data-day='{moment.astimezone(ZONE).date()}']")
        await expect(cell).to_contain_text("Tập huấn chuyển đổi số")
    await check_accessibility(page)
    await screenshots(page, "calendar-month")

    # List: thirty days from a day, grouped by day, and the details with the pages' links.
    await page.get_by_role("button", name="Danh sách").click()
    await page.goto(console.url(f"/calendar?view=list&date={day}"))
    await page.wait_for_selector("body[data-ready]", state="attached")
    await expect(page.locator(".day-list section.day")).to_have_count(4)
    await (
        page.locator(".day-list").get_by_role("button", name="Tập huấn chuyển đổi số").first.click()
    )
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_role("link", name="Phòng điều hành")).to_have_attribute(
        "href", f"/meetings/{weekly['id']}/live"
    )
    await expect(dialog.get_by_role("link", name="Điểm danh")).to_have_attribute(
        "href", f"/meetings/{weekly['id']}/attendance"
    )
    await expect(dialog).to_contain_text("Lặp lại")
    await check_accessibility(page)
    await page.keyboard.press("Escape")
    await screenshots(page, "calendar-list")
    assert console.errors == []


async def test_an_operator_sees_the_meetings_of_their_rooms_only(
    console: Console, signed_in: SignedIn
) -> None:
    world = console.world
    await book(console, "central_sec", title="Họp có Lào Cai")
    await book(
        console,
        "dienbien_sec",
        title="Họp riêng Điện Biên",
        organizer_unit_id=world.units["dien-bien"],
        host_room_id=world.rooms["dien-bien"],
        sites=[{"room_id": world.rooms["dien-bien"]}],
    )
    page = await signed_in("laocai_op", "/calendar?view=list", phone=True)
    await expect(page.locator("li.meeting")).to_have_count(1)
    await expect(page.locator("li.meeting")).to_contain_text("Họp có Lào Cai")
    await check_accessibility(page)
    await screenshots(page, "calendar-operator")
