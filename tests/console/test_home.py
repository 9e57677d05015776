"""Home (/): sign in once, then each role sees its work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import expect

from tests.console.conftest import Console, SignedIn, check_accessibility, screenshots


def soon(hours: float) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=hours)


async def book(console: Console, who: str, **fields: Any) -> dict[str, Any]:
    world = console.world
    body: dict[str, Any] = {
        "title": "Họp giao ban",
        "kind": "meeting",
        "mode": "online",
        "organizer_unit_id": world.units["central"],
        "start": soon(0.05).isoformat(),
        "end": soon(1).isoformat(),
        "host_room_id": world.rooms["central"],
        "sites": [{"room_id": world.rooms["central"]}, {"room_id": world.rooms["lao-cai"]}],
    }
    body.update(fields)
    status, created = await console.api.as_(console.token(who)).post("/api/meetings", body)
    assert status == 201, created
    return created


async def test_signing_in_at_home_shows_today_and_the_pages_of_the_role(
    console: Console, signed_in: SignedIn
) -> None:
    await book(console, "central_sec", title="Họp Ban Chỉ đạo hôm nay")
    page = await signed_in("secretariat")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Xin chào, central_sec")
    await expect(page.locator("#home-who")).to_contain_text("Văn thư – thư ký · Cơ quan Trung ương")
    today = page.locator("#today")
    await expect(today.locator("li.meeting")).to_have_count(1)
    await expect(today.locator("li.meeting")).to_contain_text("Họp Ban Chỉ đạo hôm nay")
    await expect(today.locator("li.meeting")).to_contain_text("Trực tuyến")
    # The secretariat's pages, and not the leadership's dashboard.
    nav = page.get_by_role("navigation", name="Các trang")
    await expect(nav.get_by_role("link", name="Lịch họp", exact=True)).to_be_visible()
    await expect(nav.get_by_role("link", name="Đặt lịch họp")).to_be_visible()
    await expect(nav.get_by_role("link", name="Tỷ lệ trực tuyến")).to_have_count(0)
    # The title opens the meeting's details with the links of its pages.
    await today.get_by_role("button", name="Họp Ban Chỉ đạo hôm nay").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_role("link", name="Xem và sửa đặt lịch")).to_have_attribute(
        "href", f"/meetings/{(await _first_id(console))}/edit"
    )
    await expect(dialog).to_contain_text("Cơ quan Trung ương")
    await check_accessibility(page)
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    await check_accessibility(page)
    await screenshots(page, "home-secretariat")
    assert console.errors == []


async def _first_id(console: Console) -> int:
    status, page = await console.api.as_(console.token("central_sec")).get("/api/meetings")
    assert status == 200
    return int(page["items"][0]["id"])


async def test_what_needs_attention_a_pending_request_and_a_device_down_before_a_meeting(
    console: Console, signed_in: SignedIn
) -> None:
    # Lào Cai asks for Điện Biên's room: Điện Biên's secretariat has a request to decide.
    await book(
        console,
        "laocai_sec",
        title="Hội nghị liên tỉnh",
        organizer_unit_id=console.world.units["lao-cai"],
        host_room_id=console.world.rooms["lao-cai"],
        sites=[
            {"room_id": console.world.rooms["lao-cai"]},
            {"room_id": console.world.rooms["dien-bien"]},
        ],
    )
    page = await signed_in("dienbien_sec")
    attention = page.locator("#attention")
    request = attention.locator("[data-kind=site-requests]")
    await expect(request).to_contain_text("1 yêu cầu điểm cầu đang chờ bạn duyệt")
    await expect(request).to_contain_text("Hội nghị liên tỉnh")
    await expect(request.get_by_role("link")).to_have_attribute("href", "/site-requests")

    # Lào Cai's room system goes down an hour before its meeting: its operator is told.
    await console.mark_down("lao-cai")
    operator = await signed_in("laocai_op")
    down = operator.locator("#attention [data-kind=endpoint-down]")
    await expect(down).to_have_count(1)
    await expect(down).to_contain_text("Mất kết nối")
    await expect(down).to_contain_text("Thiết bị lao-cai")
    await expect(down).to_contain_text("Hội nghị liên tỉnh")
    await expect(
        operator.get_by_role("navigation", name="Các trang").get_by_role(
            "link", name="Đặt lịch họp"
        )
    ).to_have_count(0)
    await check_accessibility(operator)
    await screenshots(operator, "home-operator")


async def test_leadership_sees_the_share_first_and_nothing_held_is_said_plainly(
    signed_in: SignedIn,
) -> None:
    page = await signed_in("leadership")
    first = page.locator(".home-grid > section").first
    await expect(first).to_have_id("share")
    await expect(page.locator("#share-figure")).to_contain_text("chưa có cuộc họp nào đã họp")
    await expect(page.locator("#attention")).to_contain_text("Không có việc gì cần chú ý.")
    nav = page.get_by_role("navigation", name="Các trang")
    await expect(nav.get_by_role("link", name="Tỷ lệ trực tuyến")).to_be_visible()
    await check_accessibility(page)
    await screenshots(page, "home-leadership")


async def test_signing_out_and_a_wrong_password(console: Console) -> None:
    page = await console.page(phone=True)
    await page.goto(console.url("/"))
    await page.get_by_label("Tên đăng nhập").fill("central_sec")
    await page.get_by_label("Mật khẩu").fill("sai-mat-khau-roi")
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.locator("#vc-signin-error")).to_have_text(
        "Tên đăng nhập hoặc mật khẩu không đúng."
    )
    await check_accessibility(page)
    await screenshots(page, "signin")
    page = await console.sign_in(page, "secretariat")
    # The menu folds on a phone; the keyboard opens it.
    toggle = page.get_by_role("button", name="Trình đơn")
    await toggle.focus()
    await page.keyboard.press("Enter")
    nav = page.get_by_role("navigation", name="Các trang")
    await expect(nav.get_by_role("link", name="Trang chủ")).to_be_focused()
    await expect(nav.get_by_role("link", name="Trang chủ")).to_have_attribute(
        "aria-current", "page"
    )
    await page.get_by_role("button", name="Đăng xuất").click()
    await expect(page.locator("body")).to_have_attribute("data-view", "signin")
    await page.goto(console.url("/calendar"))
    await expect(page.locator("body")).to_have_attribute("data-view", "signin")
