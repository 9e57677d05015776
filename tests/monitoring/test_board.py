"""The operator board in a real headless chromium, against the running test server."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from tests.api import PASSWORD, FakeClock
from tests.browser import Browser, Page, artifact
from tests.monitoring.conftest import Monitored

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
RED = "rgb(198, 40, 40)"  # --down in board.css
GREEN = "rgb(27, 127, 59)"  # --up


def _card(endpoint_id: int) -> str:
    return f"document.querySelector('[data-endpoint-id=\"{endpoint_id}\"]')"


async def _log_in(page: Page, app_client: Any, username: str, query: str = "") -> None:
    await page.goto(str(app_client.make_url(f"/board{query}")))
    await page.wait_for("document.body.dataset.view === 'signin'")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#vc-signin button[type=submit]")
    await page.wait_for("document.body.dataset.loaded !== undefined")


async def test_the_board_shows_a_down_endpoint_as_down_and_follows_changes(
    monitored: Monitored, clock: FakeClock, browser: Browser, app_client: Any
) -> None:
    world = monitored.world
    await monitored.service.sweep_all(clock.now)
    page = await browser.new_page(width=1280, height=900)
    await _log_in(page, app_client, "admin", "?refresh=1")

    down = world.endpoints["dien-bien"]
    await page.wait_for(f"{_card(down)}?.dataset.state === 'down'")
    # Signed in: the form is gone, the board is on the screen.
    assert await page.evaluate("document.getElementById('vc-signin') === null")
    assert await page.evaluate("document.getElementById('board').offsetHeight > 0")
    assert await page.evaluate(f"{_card(down)}.querySelector('.state-label').textContent") == (
        "Mất kết nối"
    )
    assert await page.evaluate(f"getComputedStyle({_card(down)}).borderLeftColor") == RED
    meta = await page.evaluate(f"{_card(down)}.querySelector('.meta').textContent")
    # What the probe found, in Vietnamese.
    assert "thiết bị từ chối kết nối" in meta and "refused" not in meta
    # Since when, in Vietnam's time, written the Vietnamese way.
    assert clock.now.astimezone(ZONE).strftime("từ %H:%M %d/%m") in meta
    up = world.endpoints["central"]
    assert await page.evaluate(f"{_card(up)}.dataset.state") == "up"
    assert await page.evaluate(f"getComputedStyle({_card(up)}).borderLeftColor") == GREEN
    counts = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.pill')]"
        ".map(p => [p.dataset.state, Number(p.dataset.count)]))"
    )
    assert counts == {"up": 2, "down": 2, "unknown": 0}
    # Grouped by province, provinces with a down endpoint first, names as the units have
    # them; the commune (Bắc Hà, down) inside its province.
    units = await page.evaluate(
        "[...document.querySelectorAll('.unit h2')].map(h => h.firstChild.textContent)"
    )
    assert set(units[:2]) == {"Tỉnh Điện Biên", "Tỉnh Lào Cai"}
    assert set(units) == {"Tỉnh Điện Biên", "Tỉnh Lào Cai", world_root_name(units)}
    communes = await page.evaluate(
        f'[...document.querySelectorAll(\'.unit[data-unit-id="{world.units["lao-cai"]}"]'
        " .subunit h3')].map(h => h.firstChild.textContent)"
    )
    assert communes == ["Xã Bắc Hà"]
    # Several columns on a desktop: the units do not stand in one narrow column.
    lefts = await page.evaluate(
        "new Set([...document.querySelectorAll('.unit')]"
        ".map(u => Math.round(u.getBoundingClientRect().left))).size"
    )
    assert lefts >= 2
    await page.screenshot(artifact("board-desktop.png"))

    # Lào Cai's endpoint fails three times: the open page shows it down by itself.
    await monitored.point("lao-cai", monitored.refusing_address())
    for _ in range(3):
        clock.advance(seconds=60)
        await monitored.service.sweep_all(clock.now)
    await page.wait_for(
        f"{_card(world.endpoints['lao-cai'])}?.dataset.state === 'down'", timeout=15
    )
    await page.screenshot(artifact("board-desktop-after-change.png"))
    assert page.errors == [], page.errors


def world_root_name(units: list[str]) -> str:
    """The central unit's name is whatever the fresh database calls it."""
    known = {"Tỉnh Điện Biên", "Tỉnh Lào Cai"}
    rest = [name for name in units if name not in known]
    assert len(rest) == 1, units
    return rest[0]


async def test_an_operator_on_a_phone_sees_their_province_only(
    monitored: Monitored, clock: FakeClock, browser: Browser, app_client: Any
) -> None:
    world = monitored.world
    await monitored.service.sweep_all(clock.now)
    page = await browser.new_page(width=390, height=844, mobile=True, scale=2)
    await _log_in(page, app_client, "laocai_op")
    await page.wait_for("document.querySelectorAll('.endpoint').length === 2")
    shown = await page.evaluate(
        "[...document.querySelectorAll('.endpoint')].map(e => [Number(e.dataset.endpointId),"
        " e.dataset.state])"
    )
    assert sorted(shown) == sorted(
        [[world.endpoints["lao-cai"], "up"], [world.endpoints["lao-cai.bac-ha"], "down"]]
    )
    # Usable on a phone: one column, nothing wider than the screen.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    widths = await page.evaluate(
        "[...document.querySelectorAll('.endpoint')].map(e => e.getBoundingClientRect().width)"
    )
    assert all(width > 300 for width in widths), widths
    # Only the problems, at a tap.
    await page.click("#only-problems")
    await page.wait_for("document.querySelectorAll('.endpoint').length === 1")
    await page.screenshot(artifact("board-phone.png"))
    assert page.errors == [], page.errors


async def test_bad_logins_expired_sessions_and_hostile_names(
    monitored: Monitored, clock: FakeClock, browser: Browser, app_client: Any
) -> None:
    world = monitored.world
    hostile = "<img src=x onerror=\"document.body.dataset.pwned='1'\">Phòng <b>A</b>"
    status, created = await monitored.admin.post(
        "/api/endpoints",
        {
            "room_id": world.rooms["central"],
            "name": hostile,
            "kind": "sip",
            "address": monitored.healthy_address(),
        },
    )
    assert status == 201, created
    page = await browser.new_page()
    await page.goto(str(app_client.make_url("/board")))
    await page.wait_for("document.body.dataset.view === 'signin'")
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", "sai-mật-khẩu")
    await page.click("#vc-signin button[type=submit]")
    await page.wait_for("document.getElementById('vc-signin-error').textContent !== ''")
    assert await page.evaluate("document.getElementById('vc-signin-error').textContent") == (
        "Tên đăng nhập hoặc mật khẩu không đúng."
    )
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#vc-signin button[type=submit]")
    await page.wait_for(f"{_card(created['id'])} !== null")
    # Names are text, never markup.
    assert await page.evaluate(f"{_card(created['id'])}.querySelector('.name').textContent") == (
        hostile
    )
    assert await page.evaluate(f"{_card(created['id'])}.querySelector('img, b') === null")
    assert await page.evaluate("document.body.dataset.pwned") is None
    # A token that no longer works sends the operator back to the login form.
    await page.evaluate(
        f"sessionStorage.setItem('vcorch.console.token', {json.dumps('hỏng')}.replace(/./g, 'x'))"
    )
    await page.goto(str(app_client.make_url("/board")))
    await page.wait_for("document.body.dataset.view === 'signin'")
    assert "hết hạn" in await page.evaluate(
        "document.getElementById('vc-signin-error').textContent"
    )
    assert page.errors == [], page.errors


async def test_the_page_is_served_with_a_strict_content_policy(app_client: Any) -> None:
    response = await app_client.get("/board")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    html = await response.text()
    assert '<html lang="vi">' in html and "/static/console/board.js" in html
    script = await app_client.get("/static/console/board.js")
    assert script.status == 200 and "javascript" in script.content_type
    assert (await app_client.get("/static/../templates/board.html")).status in (403, 404)
