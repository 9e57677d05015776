"""The self check-in page in a real headless chromium, as a phone that scanned the QR code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api import Api, FakeClock
from tests.attendance.helpers import book, whole_minute
from tests.browser import Browser, artifact
from tests.world import World


async def test_checking_oneself_in_from_a_phone_and_showing_the_code(
    app_client: Any, api: Api, world: World, clock: FakeClock, browser: Browser
) -> None:
    start = whole_minute(clock.now) - timedelta(minutes=5)
    meeting = await book(
        api, world, start=start, end=start + timedelta(hours=2), rooms=("central", "lao-cai")
    )
    status, link = await api.as_(world.tokens["laocai_op"]).post(
        f"/api/meetings/{meeting['id']}/checkin-links", {"room_id": world.rooms["lao-cai"]}
    )
    assert status == 201, link
    token = link["url"].rsplit("/", 1)[1]
    url = str(app_client.make_url(f"/checkin/{token}"))

    page = await browser.new_page(width=390, height=844, mobile=True)
    await page.goto(url)
    await page.wait_for("!document.getElementById('form').hidden")
    assert (
        await page.evaluate("document.getElementById('meeting').textContent") == (meeting["title"])
    )
    assert await page.evaluate("document.getElementById('site').textContent") == (
        "Điểm cầu: Phòng họp lao-cai"
    )
    # Without a name nothing is sent: the browser asks for it, and blanks are caught too.
    await page.click("#submit")
    assert await page.evaluate("document.getElementById('full_name').validity.valueMissing")
    await page.fill("#full_name", "   ")
    await page.click("#submit")
    await page.wait_for("!document.getElementById('form-problem').hidden")
    assert await page.evaluate("document.getElementById('done').hidden")
    await page.evaluate("document.getElementById('full_name').value = ''")
    await page.fill("#full_name", "Sùng Thị Mỷ")
    await page.fill("#unit_name", "Hội Phụ nữ xã Bắc Hà")
    await page.fill("#position", "Chủ tịch")
    await page.click("#submit")
    await page.wait_for("!document.getElementById('done').hidden")
    assert await page.evaluate("document.getElementById('done-text').textContent") == (
        "Sùng Thị Mỷ đã được ghi nhận có mặt."
    )
    # Done: the form is gone from the screen, the confirmation is on it.
    assert await page.evaluate("document.getElementById('form').offsetHeight") == 0
    assert await page.evaluate("document.getElementById('done').offsetHeight") > 0
    await page.screenshot(artifact("checkin-phone.png"))
    assert page.errors == [], page.errors

    _, people = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting['id']}/checkins"
    )
    assert [
        (p["full_name"], p["unit_name"], p["position"], p["method"]) for p in people["items"]
    ] == [("Sùng Thị Mỷ", "Hội Phụ nữ xã Bắc Hà", "Chủ tịch", "self")]

    # The same link with #qr: the code, big, for the screen at the site.
    screen = await browser.new_page(width=1280, height=800)
    await screen.goto(url + "#qr")
    await screen.wait_for(
        "!document.getElementById('qr').hidden"
        " && document.getElementById('qr-image').complete"
        " && document.getElementById('qr-image').naturalWidth > 0"
    )
    assert await screen.evaluate("document.getElementById('form').offsetHeight") == 0
    await screen.screenshot(artifact("checkin-screen.png"))
    assert screen.errors == [], screen.errors

    # An altered link says so, in Vietnamese, instead of a form.
    broken = await browser.new_page(width=390, height=844, mobile=True)
    await broken.goto(url[:-3] + "xyz")
    await broken.wait_for("!document.getElementById('problem').hidden")
    assert "không hợp lệ" in await broken.evaluate("document.getElementById('problem').textContent")
    assert await broken.evaluate("document.getElementById('form').offsetHeight") == 0
