"""Home (/): sign in once, then each role sees its work."""

from __future__ import annotations

from playwright.async_api import expect

from tests.console.conftest import SignedIn, check_accessibility, screenshots


async def test_signing_in_at_home_greets_the_user_and_links_their_pages(
    signed_in: SignedIn,
) -> None:
    page = await signed_in("secretariat")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Xin chào, central_sec")
    nav = page.get_by_role("navigation", name="Các trang")
    await expect(nav.get_by_role("link", name="Lịch họp", exact=True)).to_be_visible()
    await check_accessibility(page)
    await screenshots(page, "home-secretariat")
