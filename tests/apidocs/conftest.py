"""Playwright for Python driving Debian's Chromium (no browser download), for /api/docs.

Kept here, small, so that it does not clash with the console's fixtures: one browser per
test module, one context per test, and every console message and CSP report of the page
collected on :class:`DocsPage`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.services import missing_service

CHROMIUM = os.environ.get("VCORCH_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class DocsPage:
    page: Any
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - one stat, before anything runs
        missing_service(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing_service("playwright is not installed (pip install -e '.[test]')")
        raise
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def open_page(browser: Any, url: str, *, width: int, height: int) -> DocsPage:
    """A new page at ``url`` whose console, uncaught errors and CSP reports are kept."""
    context = await browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        is_mobile=width < 600,
        has_touch=width < 600,
        locale="vi-VN",
    )
    page = await context.new_page()
    docs = DocsPage(page)

    def on_console(message: Any) -> None:
        text = f"{message.type}: {message.text}"
        docs.console.append(text)
        if "Content Security Policy" in message.text or "Content-Security-Policy" in (message.text):
            docs.violations.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: docs.errors.append(str(error)))
    # securitypolicyviolation events reach the page itself: keep them too.
    await page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    await page.goto(url)
    return docs


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
