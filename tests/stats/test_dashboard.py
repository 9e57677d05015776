"""The leadership dashboard: its server-rendered fragment, and the page in headless chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests import databases
from tests.api import PASSWORD
from tests.browser import Browser, artifact
from tests.stats.conftest import Calendar
from tests.stats.test_online_share import NOW, build
from vcorch.stats.routes import STATS


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    # The page's behaviour does not depend on the database: SQLite only, the figures are
    # checked on both in test_online_share.py.
    return databases.copy_sqlite(sqlite_template, tmp_path)


async def _built(calendar: Calendar) -> Calendar:
    await build(calendar)
    await calendar.app[STATS].refresher.refresh()
    return calendar


async def test_the_fragment_shows_the_year_against_the_target(calendar: Calendar) -> None:
    await _built(calendar)
    api = calendar.api.as_(await calendar.token("leader"))
    status, html = await api.get("/api/stats/dashboard?year=2026")
    assert status == 200
    assert html.startswith('<section class="stats" data-year="2026"')
    # One label per month, bars for the months that held something, the target line.
    assert re.findall(r">T(\d+)</text>", html) == [str(m) for m in range(1, 13)]
    assert re.findall(r'data-month="([0-9-]+)"', html) == ["2026-01", "2026-02", "2026-03"]
    assert 'class="target"' in html and "Mục tiêu 30%" in html
    # January and March on target (green), February not (amber).
    bars = dict(re.findall(r'data-month="([0-9-]+)"[^>]*fill="(#[0-9a-f]+)"', html))
    assert bars == {"2026-01": "#2e7d32", "2026-02": "#e0a100", "2026-03": "#2e7d32"}
    # Provinces furthest behind first: central-level units (0 of 3 verified), Điện Biên
    # (2 of 5: 40%), Lào Cai (2 of 3).
    rows = re.findall(r'<tr class="(\w+)" data-key="([^"]*)">', html)
    assert rows == [("behind", ""), ("met", "dien-bien"), ("met", "lao-cai")]
    assert "36,4%" in html  # the year so far, verified
    assert "Dự báo đến hết năm 2026" in html
    assert "78,6%" in html  # sites that attended the online meetings: 11 of 14

    # A provincial leader sees the province's units; the secretariat does not see it at all.
    status, html = await calendar.api.as_(await calendar.token("laocai_leader")).get(
        "/api/stats/dashboard?year=2026"
    )
    assert status == 200
    assert re.findall(r'data-key="([^"]*)"', html) == ["lao-cai.bac-ha", "lao-cai"]
    status, body = await calendar.api.as_(await calendar.token("laocai_sec")).get(
        "/api/stats/dashboard"
    )
    assert status == 403, body


async def test_the_page_in_a_browser(calendar: Calendar, browser: Browser, app_client: Any) -> None:
    await _built(calendar)
    page = await browser.new_page(width=1280, height=1000)
    await page.goto(str(app_client.make_url("/dashboard?year=2026")))
    await page.wait_for("document.body.dataset.view === 'signin'")
    await page.fill("input[name=username]", "leader")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#vc-signin button[type=submit]")
    await page.wait_for("document.body.dataset.loaded !== undefined")
    assert await page.evaluate("document.querySelectorAll('svg .month-bar').length") == 3
    # The chart is drawn: the January bar has a height, the target line lies across it.
    assert await page.evaluate(
        "document.querySelector('svg .month-bar').getBoundingClientRect().height > 20"
    )
    assert await page.evaluate(
        "document.querySelector('svg .target').getBoundingClientRect().width > 500"
    )
    first = await page.evaluate("document.querySelector('table.places tbody th').textContent")
    assert first == "Trung ương (đơn vị không thuộc tỉnh)"
    tiles = await page.evaluate(
        "[...document.querySelectorAll('.tile-value')].map(t => t.textContent)"
    )
    assert tiles[:3] == ["36,4%", "63,6%", "30%"]
    await page.screenshot(artifact("stats-dashboard.png"))
    assert page.errors == [], page.errors

    # Another year: nothing held, no bars.
    await page.evaluate(
        "(() => { const s = document.getElementById('year');"
        " s.value = String(Number(s.value) - 1); s.dispatchEvent(new Event('change')); })()"
    )
    await page.wait_for("document.querySelector('.stats')?.dataset.year === '2025'")
    assert await page.evaluate("document.querySelectorAll('svg .month-bar').length") == 0
    assert page.errors == [], page.errors


async def test_nothing_held_yet_is_no_forecast_of_a_hundred_percent(calendar: Calendar) -> None:
    # Only bookings this year, all online, nothing held: the old projection assumed every
    # booked online meeting verified and said 100 %.
    calendar.clock.now = NOW
    await calendar.book("Kế hoạch 1", day="2026-05-10", mode="online", sites=("central", "lao-cai"))
    await calendar.book("Kế hoạch 2", day="2027-02-10", mode="online", sites=("central", "lao-cai"))
    await calendar.app[STATS].refresher.refresh()
    api = calendar.api.as_(await calendar.token("leader"))
    status, body = await api.get("/api/stats/online-share?from=2026-01-01&to=2026-12-31")
    assert status == 200, body
    current = body["current_period"]
    assert current["figures"]["held"] == 0 and current["figures"]["booked_online"] == 1
    assert current["projection_known"] is False
    assert current["projected_share"] == 0.0 and current["projected_met"] is False
    assert current["projected_share_declared"] == 1.0  # what is declared stays known

    status, html = await api.get("/api/stats/dashboard?year=2026")
    assert status == 200
    tiles = re.findall(
        r'<div class="tile-label">([^<]+)</div><div class="tile-value">([^<]+)<', html
    )
    assert ("Dự báo cuối kỳ", "—") in tiles
    assert "100% đã xác minh" not in html
    assert "Chưa dự báo được tỷ lệ đã xác minh" in html
    # The years with data reach into 2027: the page's year selector offers it.
    assert 'data-first-year="2026" data-last-year="2027"' in html
