"""Console page tests: Playwright for Python driving Debian's chromium against a test server.

    async def test_home(signed_in: SignedIn) -> None:
        page = await signed_in("secretariat")            # at "/", through the sign-in form
        await expect(page.get_by_role("heading", name="Hôm nay")).to_be_visible()
        await check_accessibility(page)                  # no serious/critical axe violation
        await screenshots(page, "home-secretariat")      # 1366 px and 390 px PNGs

The server is the usual aiohttp test server (``app_client``, 127.0.0.1, a random port) with
the test world (tests/world.py: Lào Cai with a commune, Điện Biên, one user per role) and a
few more users so that every role exists at the central unit and in both provinces.
Without chromium or Playwright the tests skip on a developer machine and fail in CI
(``missing_service``).  Screenshots go to ``test-artifacts/screenshots/`` (README).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.api import PASSWORD, TEST_ACTOR, Api, FakeClock
from tests.services import missing_service
from tests.world import World

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Playwright

CHROMIUM = os.environ.get("VCORCH_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root in containers
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]

# The users the console tests sign in as: every role at the central unit and in both
# provinces.  The first eight come from tests/world.py; the rest are added here.
EXTRA_USERS = {
    "central_op": ("operator", "central"),
    "dienbien_admin": ("admin", "dien-bien"),
    "dienbien_leader": ("leadership", "dien-bien"),
}
# signed_in("<role>") signs in as the central user of that role.
BY_ROLE = {
    "admin": "admin",
    "secretariat": "central_sec",
    "operator": "central_op",
    "leadership": "leader",
}


@dataclass
class Console:
    """What a console test works with: the server's address, the world, the browser."""

    base_url: str
    api: Api
    world: World
    browser: Browser
    app: Any
    clock: FakeClock
    pages: list[Page] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def token(self, username: str) -> str:
        return self.world.tokens[username]

    async def page(self, *, phone: bool = False) -> Page:
        """A fresh page (its own context: its own sessionStorage), errors collected."""
        context = await self.browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            locale="vi-VN",
            timezone_id="Asia/Ho_Chi_Minh",
            is_mobile=phone,
        )
        page = await context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        self.pages.append(page)
        return page

    async def mark_down(self, code: str) -> None:
        """Point the endpoint of ``code``'s room at a closed port and probe until it is down."""
        from tests.monitoring.sip_servers import free_port
        from vcorch.monitoring.routes import MONITORING

        admin = self.api.as_(self.token("admin"))
        endpoint_id = self.world.endpoints[code]
        address = f"sip:bot@127.0.0.1:{free_port()}"
        status, body = await admin.patch(f"/api/endpoints/{endpoint_id}", {"address": address})
        assert status == 200, body
        service = self.app[MONITORING]
        await service.refresh_targets(force=True)
        for _ in range(5):
            await service.sweep_all(self.clock.now)
            status, health = await admin.get(f"/api/endpoints/{endpoint_id}/health")
            if health.get("state") == "down":
                return
            self.clock.advance(seconds=60)
        raise AssertionError(f"{code} never went down: {health}")

    async def sign_in(self, page: Page, who: str, path: str = "/") -> Page:
        """Open ``path`` and sign in through the form as ``who`` (a role or a user name)."""
        username = BY_ROLE.get(who, who)
        await page.goto(self.url(path))
        await page.wait_for_selector("body[data-view=signin]")
        await page.get_by_label("Tên đăng nhập").fill(username)
        await page.get_by_label("Mật khẩu").fill(PASSWORD)
        await page.get_by_role("button", name="Đăng nhập").click()
        await page.wait_for_selector("body[data-view=page][data-ready]")
        return page


SignedIn = Callable[..., Awaitable["Page"]]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    # What the pages show does not depend on the database (the API tests run on both):
    # SQLite only, so that each browser test runs once.
    from tests import databases

    return databases.copy_sqlite(sqlite_template, tmp_path)


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing_service("Playwright for Python is not installed (pip install -e '.[test]')")
        raise AssertionError("unreachable") from None
    if not os.access(CHROMIUM, os.X_OK):
        missing_service(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as driver:
        yield driver


@pytest.fixture
async def chromium_browser(playwright: Playwright) -> AsyncIterator[Browser]:
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        await browser.close()


@pytest.fixture
async def console_world(app_client: Any, api: Api, world: World) -> World:
    from vcorch.auth.routes import AUTH

    auth = app_client.server.app[AUTH]
    for username, (role, unit_code) in EXTRA_USERS.items():
        await auth.create_user(
            TEST_ACTOR,
            username=username,
            role=role,
            unit_id=world.units[unit_code],
            password=PASSWORD,
        )
        world.tokens[username] = await api.login(username)
    return world


@pytest.fixture
async def console(
    app_client: Any, api: Api, console_world: World, chromium_browser: Browser, clock: FakeClock
) -> AsyncIterator[Console]:
    console = Console(
        str(app_client.make_url("/")),
        api,
        console_world,
        chromium_browser,
        app_client.server.app,
        clock,
    )
    yield console
    for page in console.pages:
        await page.context.close()


@pytest.fixture
def signed_in(console: Console) -> SignedIn:
    """``await signed_in("secretariat", "/calendar", phone=False)``: a page signed in there."""

    async def open_signed_in(who: str, path: str = "/", *, phone: bool = False) -> Page:
        return await console.sign_in(await console.page(phone=phone), who, path)

    return open_signed_in


# -- checks every page test makes --------------------------------------------------------------


async def check_accessibility(page: Page, *, context: str | None = None) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, context=context)
    bad = [
        violation
        for violation in results.response["violations"]
        if violation.get("impact") in ("serious", "critical")
    ]
    described = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node.get("target")) for node in v["nodes"][:5])
        for v in bad
    ]
    assert not bad, "accessibility violations:\n" + "\n".join(described)


async def fits_width(page: Page) -> tuple[int, int]:
    """(document scroll width, viewport width): a page fits when the first is not larger."""
    width: int = await page.evaluate("document.documentElement.scrollWidth")
    viewport: int = await page.evaluate("window.innerWidth")
    return width, viewport


async def screenshots(page: Page, name: str) -> list[Path]:
    """Full-page PNGs at 1366 px and 390 px in test-artifacts/screenshots/; the page must
    not be wider than the phone's screen.  The viewport is put back afterwards."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    written = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        await page.evaluate("new Promise((done) => requestAnimationFrame(() => done(null)))")
        path = SCREENSHOTS / f"{name}-{label}.png"
        await page.screenshot(path=str(path), full_page=True)
        written.append(path)
        if label == "phone":
            width, viewport = await fits_width(page)
            assert width <= viewport, f"{name} is {width} px wide on a {viewport} px phone"
    if before is not None:
        await page.set_viewport_size(before)
    return written
