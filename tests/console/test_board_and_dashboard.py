"""The board and the dashboard on the console's shared module, as their users see them."""

from __future__ import annotations

from playwright.async_api import expect

from tests.api import FakeClock
from tests.console.conftest import Console, SignedIn, check_accessibility, screenshots
from tests.console.test_home import book


async def test_the_board_groups_communes_under_their_province_and_lists_meetings(
    console: Console, signed_in: SignedIn
) -> None:
    world = console.world
    meeting = await book(console, "central_sec", title="Hội nghị trực tuyến toàn quốc")
    await console.mark_down("lao-cai.bac-ha")
    page = await signed_in("admin", "/board")
    await page.wait_for_selector("body[data-loaded]", state="attached")
    lao_cai = page.locator(f".unit[data-unit-id='{world.units['lao-cai']}']")
    await expect(lao_cai.locator("h2")).to_contain_text("Tỉnh Lào Cai")
    commune = lao_cai.locator(f".subunit[data-unit-id='{world.units['lao-cai.bac-ha']}']")
    await expect(commune.locator("h3")).to_contain_text("Xã Bắc Hà")
    down = commune.locator(f"[data-endpoint-id='{world.endpoints['lao-cai.bac-ha']}']")
    await expect(down).to_have_attribute("data-state", "down")
    await expect(down.locator(".state-label")).to_have_text("Mất kết nối")
    await expect(down.locator(".meta")).to_contain_text("thiết bị từ chối kết nối")
    # The meeting of the next hour, with its live room; the rooms show it too.
    listed = page.locator(f"#meeting-list [data-meeting-id='{meeting['id']}']")
    await expect(listed).to_contain_text("Hội nghị trực tuyến toàn quốc")
    await expect(listed).to_contain_text("2 điểm cầu trong phạm vi")
    await expect(listed.get_by_role("link", name="Phòng điều hành")).to_have_attribute(
        "href", f"/meetings/{meeting['id']}/live"
    )
    central = page.locator(f"[data-endpoint-id='{world.endpoints['central']}']")
    await expect(central.locator(".meeting")).to_contain_text("Hội nghị trực tuyến toàn quốc")
    # A name that does not resolve, said in Vietnamese.
    await expect(central.locator(".meta")).to_contain_text(
        "không tìm thấy tên máy central.example.vn (DNS)"
    )
    # Columns at 1366 px: units side by side.
    lefts = await page.evaluate(
        "new Set([...document.querySelectorAll('.unit')]"
        ".map(u => Math.round(u.getBoundingClientRect().left))).size"
    )
    assert lefts >= 2
    # Only the problems, by keyboard.
    await page.get_by_label("Chỉ hiện thiết bị mất kết nối hoặc chưa rõ").check()
    await expect(page.locator(f"[data-endpoint-id='{world.endpoints['central']}']")).to_have_count(
        1
    )  # its name does not resolve here: down too
    await check_accessibility(page)
    await screenshots(page, "board")
    assert console.errors == []


async def test_the_dashboard_of_a_year_and_its_province_table_on_a_phone(
    console: Console, signed_in: SignedIn, clock: FakeClock
) -> None:
    from tests.stats.conftest import BOOKED_ON, Calendar
    from tests.stats.test_online_share import build
    from vcorch.stats.routes import STATS

    clock.now = BOOKED_ON
    calendar = Calendar(console.app, console.api, console.world, clock)
    await build(calendar)
    await console.app[STATS].refresher.refresh()
    page = await signed_in("leadership", "/dashboard?year=2026", phone=True)
    await page.wait_for_selector("body[data-loaded]", state="attached")
    await expect(page.locator(".stats")).to_have_attribute("data-year", "2026")
    tiles = page.locator(".tile-value")
    await expect(tiles.nth(0)).to_have_text("36,4%")
    await expect(tiles.nth(2)).to_have_text("30%")
    rows = page.locator("table.places tbody tr")
    await expect(rows.first.locator("th")).to_have_text("Trung ương (đơn vị không thuộc tỉnh)")
    await expect(rows.nth(1).locator(".verdict")).to_have_text("Đạt")
    # On a phone every row is a card no wider than the screen.
    width = await page.evaluate("document.querySelector('table.places').scrollWidth")
    assert width <= 390, width
    # The years: from five years back to the next one.
    years = await page.locator("#year option").all_text_contents()
    assert "2027" in years and "2021" in years
    await check_accessibility(page)
    await screenshots(page, "dashboard")
    # Another year, by keyboard: nothing held.
    await page.get_by_label("Năm", exact=True).select_option("2025")
    await expect(page.locator(".stats")).to_have_attribute("data-year", "2025")
    await expect(page.locator("svg .month-bar")).to_have_count(0)
    assert console.errors == []


async def test_forty_six_endpoints_fit_a_desktop_screen_in_columns(
    console: Console, signed_in: SignedIn
) -> None:
    # The board: 46 endpoints were 9,047 px tall in one 340 px column at 1366 px.
    from tests.api import TEST_ACTOR
    from vcorch.rooms import schemas
    from vcorch.rooms.routes import ROOMS

    rooms = console.app[ROOMS]
    world = console.world
    count = len(world.endpoints)
    for province in ("lao-cai", "dien-bien"):
        for n in range(7):
            commune = await rooms.create_unit(
                TEST_ACTOR,
                schemas.UnitCreate(
                    code=f"{province}.xa-{n}",
                    name=f"Xã số {n + 1} ({province})",
                    level="commune",
                    parent_id=world.units[province],
                ),
            )
            for r in range(3):
                if count == 46:
                    break
                room = await rooms.create_room(
                    TEST_ACTOR,
                    schemas.RoomCreate(unit_id=commune.id, name=f"Phòng {r + 1}", seats=20),
                )
                await rooms.create_endpoint(
                    TEST_ACTOR,
                    schemas.EndpointCreate(
                        room_id=room.id,
                        name=f"Thiết bị {n}-{r}",
                        kind="sip",
                        address=f"sip:phong{r}@xa-{n}.{province}.example.vn",
                    ),
                )
                count += 1
    assert count == 46
    page = await signed_in("admin", "/board")
    await expect(page.locator(".endpoint")).to_have_count(46)
    height = await page.evaluate("document.documentElement.scrollHeight")
    widths = await page.evaluate(
        "[...document.querySelectorAll('.unit')].map(u => u.getBoundingClientRect().width)"
    )
    print(f"board with 46 endpoints at 1366 px: {height} px tall, units {min(widths):.0f} px wide")
    assert height < 4500, height
    assert min(widths) > 380, widths
    await screenshots(page, "board-46-endpoints")
