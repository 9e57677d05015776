"""The site-requests page (/site-requests): the room's unit sees another unit's request for
its room and accepts it; the organiser then sees the site accepted (issue 16's console)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.async_api import expect

from tests.api import FakeClock
from tests.console.conftest import Console, SignedIn, check_accessibility, screenshots


async def request_rooms(console: Console, clock: FakeClock) -> int:
    """Điện Biên books a weekly meeting with its own room and two Lào Cai rooms."""
    world = console.world
    start = (clock.now + timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)
    status, meeting = await console.api.as_(console.token("dienbien_sec")).post(
        "/api/meetings",
        {
            "title": "Giao ban tuần tỉnh Điện Biên",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": world.units["dien-bien"],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "rrule": "FREQ=WEEKLY;COUNT=4",
            "sites": [
                {"room_id": world.rooms[code]}
                for code in ("dien-bien", "lao-cai", "lao-cai.bac-ha")
            ],
        },
    )
    assert status == 201, meeting
    return int(meeting["id"])


async def test_the_rooms_unit_accepts_a_request_and_the_organiser_sees_it(
    console: Console, signed_in: SignedIn, clock: FakeClock
) -> None:
    meeting_id = await request_rooms(console, clock)
    page = await signed_in("laocai_sec", "/site-requests")
    requests = page.get_by_role("list", name="Các yêu cầu").get_by_role("listitem")
    await expect(requests).to_have_count(2)
    await expect(page.locator("#request-count")).to_have_text("2 yêu cầu chờ duyệt")
    first = requests.filter(has_text="Phòng họp lao-cai (Tỉnh Lào Cai)")
    await expect(first).to_contain_text("Giao ban tuần tỉnh Điện Biên")
    await expect(first).to_contain_text("Tỉnh Điện Biên")
    await expect(first).to_contain_text("Lặp hằng tuần")
    await check_accessibility(page)
    await screenshots(page, "site-requests")

    note = first.get_by_label("Ghi chú gửi đơn vị tổ chức (không bắt buộc)")
    await note.fill("Đồng ý, phòng trống")
    await first.get_by_role("button", name="Chấp nhận").click()
    await expect(page.get_by_text("Đã chấp nhận: Phòng họp lao-cai")).to_be_visible()
    await expect(requests).to_have_count(1)
    await expect(requests).to_contain_text("Phòng họp lao-cai.bac-ha")
    await page.get_by_label("Trạng thái").select_option("accepted")
    await expect(requests).to_have_count(1)
    await expect(requests).to_contain_text("Đồng ý, phòng trống")

    # The organiser's meeting shows the site accepted; the other one still asked.
    status, meeting = await console.api.as_(console.token("dienbien_sec")).get(
        f"/api/meetings/{meeting_id}"
    )
    assert status == 200
    approvals = {s["room_id"]: s["approval"] for s in meeting["sites"]}
    assert approvals[console.world.rooms["lao-cai"]] == "accepted"
    assert approvals[console.world.rooms["lao-cai.bac-ha"]] == "pending"
    assert not console.errors, console.errors


async def test_an_operator_is_not_offered_the_page(signed_in: SignedIn) -> Any:
    page = await signed_in("laocai_op")
    nav = page.get_by_role("navigation", name="Các trang")
    await expect(nav.get_by_role("link", name="Yêu cầu điểm cầu")).to_have_count(0)
