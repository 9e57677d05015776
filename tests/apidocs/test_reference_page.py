"""/api/docs in a real browser: Swagger UI served by vcorch itself, under the pages' CSP,
readable on a 1366 px screen and a 390 px phone.

A reader opens the page, sees the operations by tag, opens "Book a meeting" and finds what
the fields mean (the recurrence rule's limits) and an example with Vietnamese data; the
browser reports no CSP violation and axe-core no serious or critical problem.
"""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe

from tests.api import PASSWORD
from tests.apidocs.conftest import DocsPage, open_page, screenshot_path

SIZES = [(1366, 900, "desktop"), (390, 844, "phone")]
SERIOUS = {"serious", "critical"}


async def _open_booking(docs: DocsPage) -> Any:
    page = docs.page
    await page.wait_for_selector(".opblock-tag-section", timeout=20_000)
    await page.click("#operations-tag-Meetings")
    booking = page.locator("#operations-Meetings-create_meeting")
    await booking.locator(".opblock-summary-control").click()
    await booking.locator(".opblock-body").wait_for(timeout=10_000)
    return booking


@pytest.mark.parametrize(("width", "height", "name"), SIZES)
async def test_the_reference_lists_operations_with_descriptions_and_examples(
    chromium: Any, app_client: Any, width: int, height: int, name: str
) -> None:
    docs = await open_page(
        chromium, str(app_client.make_url("/api/docs")), width=width, height=height
    )
    page = docs.page
    assert await page.locator("h1").first.inner_text() == "Tài liệu API vcorch"
    await page.wait_for_selector(".opblock-tag-section", timeout=20_000)
    await page.screenshot(path=str(screenshot_path(f"api-docs-{name}-top.png")))
    booking = await _open_booking(docs)
    tags = await page.locator(".opblock-tag-section h3").all_inner_texts()
    assert any("Meetings" in tag for tag in tags), tags
    summaries = await page.locator(".opblock-summary-description").all_inner_texts()
    assert any("Book a meeting" in text for text in summaries), summaries
    # Who may call it, in the operation's description.
    description = await booking.locator(".opblock-description-wrapper").first.inner_text()
    assert "Roles:" in description and "secretariat" in description, description
    # The request example: realistic data of the programme.
    example = await booking.locator(".opblock-section-request-body .highlight-code").inner_text()
    assert "Họp Ban Chỉ đạo" in example and "Điện Biên" in example, example
    assert "FREQ=MONTHLY" in example, example
    # The schema tab: every field with what it means.
    await booking.locator(".opblock-section-request-body button[data-name='model']").click()
    model = booking.locator(".opblock-section-request-body .model-box")
    await model.wait_for(timeout=10_000)
    text = await model.inner_text()
    assert "rrule" in text and "RFC 5545" in text and "COUNT at most 1000" in text, text
    assert "in_person" in text and "hybrid" in text, text
    await page.screenshot(path=str(screenshot_path(f"api-docs-{name}.png")), full_page=False)
    await booking.screenshot(path=str(screenshot_path(f"api-docs-{name}-booking.png")))

    # Nothing wider than the screen.
    overflow = await page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= width, f"the page is {overflow} px wide on a {width} px screen"
    assert docs.violations == [], docs.violations
    assert docs.errors == [], docs.errors
    results = await Axe().run(page)
    serious = [
        f"{item['id']} ({item['impact']}): {item['help']} — "
        + "; ".join(node["target"][0] for node in item["nodes"][:5])
        for item in results.response["violations"]
        if item.get("impact") in SERIOUS
    ]
    assert serious == [], "\n".join(serious)


async def test_sign_in_from_the_page_and_call_the_api(
    chromium: Any, app_client: Any, world: Any
) -> None:
    """Authorize → user name and password (the OAuth2 password flow) → Try it out on
    "Who am I" answers the signed-in user."""
    docs = await open_page(chromium, str(app_client.make_url("/api/docs")), width=1366, height=900)
    page = docs.page
    await page.wait_for_selector(".opblock-tag-section", timeout=20_000)
    await page.click("button.authorize")
    dialog = page.locator(".dialog-ux")
    oauth = dialog.locator(".auth-container").filter(has_text="oauth2")
    await oauth.locator("input#oauth_username").fill("central_sec")
    await oauth.locator("input#oauth_password").fill(PASSWORD)
    await oauth.locator("button.authorize").click()
    await dialog.locator("button", has_text="Logout").wait_for(timeout=10_000)
    assert "Authorized" in await dialog.inner_text()
    await dialog.locator("button.close-modal").click()
    await page.click("#operations-tag-Access")
    me = page.locator("#operations-Access-who_am_i")
    await me.locator(".opblock-summary-control").click()
    await me.locator("button.try-out__btn").click()
    await me.locator("button.execute").click()
    answer = me.locator(".responses-table.live-responses-table .highlight-code")
    await answer.wait_for(timeout=10_000)
    assert "central_sec" in await answer.inner_text()
    assert docs.violations == [], docs.violations
    assert docs.errors == [], docs.errors
