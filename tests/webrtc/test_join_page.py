"""The join page in headless chromium with a fake camera and microphone: preview first,
nothing connects before "Tham gia", then the built-in bridge; the meeting's sites listed;
clear words when the meeting has not started or has ended; phone and laptop widths."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests import databases
from tests.api import Api, FakeClock, make_settings
from tests.browser import Browser, Page, artifact
from tests.webrtc.live import LiveRun, Whip, link_for, live_meeting, set_run_status
from tests.webrtc.peers import Peer
from tests.world import World, build_world
from vcorch.mcu_adapter.base import ConferenceNotFound, ConferenceRef, Participant
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.orchestration.models import MeetingRun, RunSite
from vcorch.web.keys import SESSIONS

STATE = "document.getElementById('status').dataset.state"
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
async def page_client(
    sqlite_template: Path, tmp_path: Path, clock: FakeClock, aiohttp_client: Any
) -> Any:
    from vcorch.app import create_app

    # No STUN or TURN: the browser and the bridge meet on 127.0.0.1 only.
    settings = make_settings(
        databases.copy_sqlite(sqlite_template, tmp_path),
        webrtc_host_addresses=["127.0.0.1"],
    )
    return await aiohttp_client(create_app(settings, clock=clock, background=False))


async def builtin_participants(app: web.Application, run_id: int) -> list[Participant]:
    try:
        return await app[REGISTRY]["webrtc"].participants(ConferenceRef("webrtc", f"run-{run_id}"))
    except ConferenceNotFound:
        return []  # nobody joined yet: the conference is made on the first join


async def room_systems_connected(app: web.Application, live: LiveRun, *codes: str) -> None:
    """The other sites as the orchestrator leaves them: room systems on the MCU."""
    async with app[SESSIONS].begin() as session:
        for code in codes:
            site = await session.get(RunSite, live.run_sites[code])
            assert site is not None
            site.channel = "room_system"


async def until(page: Page, check: Any, what: str, tries: int = 100) -> Any:
    for _ in range(tries):
        value = await check()
        if value:
            return value
        await page.evaluate("new Promise(r => setTimeout(r, 50))")
    raise AssertionError(what)


async def test_preview_then_join_then_leave(
    page_client: Any, browser: Browser, clock: FakeClock
) -> None:
    app = page_client.server.app
    api = Api(page_client)
    world: World = await build_world(app, api)
    live = await live_meeting(app, api, world, clock.now)
    await room_systems_connected(app, live, "central", "dien-bien")
    token = await link_for(api, world, live, "lao-cai")
    page = await browser.new_page(width=1366, height=800)
    await page.goto(str(page_client.make_url(f"/join/{token}")))
    # The lobby: the fake camera plays in the preview, the device lists are filled.
    await page.wait_for(f"{STATE} === 'lobby'", timeout=15)
    await page.wait_for(
        "(() => { const v = document.getElementById('preview');"
        " return v.videoWidth > 0 && !v.paused && v.currentTime > 0; })()",
        timeout=10,
    )
    mics = await page.evaluate(
        "[...document.querySelectorAll('#mic-select option')].map(o => o.textContent)"
    )
    cams = await page.evaluate(
        "[...document.querySelectorAll('#cam-select option')].map(o => o.textContent)"
    )
    assert mics and all(mics), mics
    assert len(cams) >= 2 and cams[-1] == "Không dùng camera", cams
    assert await page.evaluate("document.getElementById('join').disabled") is False
    # The level meter moves with the fake microphone's beeps.
    await page.wait_for(
        "Number(document.getElementById('level').dataset.rms || 0) > 0.01", timeout=5
    )
    # The meeting and the site are named once each.
    body = await page.evaluate("document.body.innerText")
    assert body.count("Hội nghị giao ban chương trình — quý IV") == 1
    assert await page.evaluate("document.getElementById('site').textContent") == (
        "Phòng họp lao-cai — Tỉnh Lào Cai"
    )
    assert "(giờ Việt Nam)" in await page.evaluate("document.getElementById('when').textContent")
    # The meeting is hosted on the simulated MCU, which takes no browsers and is not linked
    # to the built-in bridge: the page says so plainly.
    assert await page.evaluate("!document.getElementById('separate').hidden")
    # The meeting's sites, with their state and how they take part.
    await page.wait_for("document.querySelectorAll('#participants li').length === 3")
    items = await page.evaluate(
        "[...document.querySelectorAll('#participants li')].map(li => li.textContent)"
    )
    assert any(
        "Phòng họp dien-bien" in item and "đã kết nối" in item and "Thiết bị phòng họp" in item
        for item in items
    ), items
    assert any("Phòng họp central" in item and "chủ trì" in item for item in items), items
    assert any("Phòng họp lao-cai" in item and "đây là bạn" in item for item in items), items
    assert await page.evaluate(NO_SIDEWAYS_SCROLL)
    await page.screenshot(artifact("join-page-lobby-1366.png"))
    # Nothing has connected yet.
    await page.evaluate("new Promise(r => setTimeout(r, 500))")
    assert await builtin_participants(app, live.run_id) == []
    # Switching the microphone keeps the preview going.
    second = await page.evaluate(
        "[...document.querySelectorAll('#mic-select option')].map(o => o.value).pop()"
    )
    await page.fill("#mic-select", second)
    await page.wait_for(f"{STATE} === 'lobby' && !document.getElementById('join').disabled")
    await page.click("#join")
    await page.wait_for(f"{STATE} === 'connected'", timeout=20)
    listed = await until(
        page,
        lambda: builtin_participants(app, live.run_id),
        "the bridge never saw the page",
    )
    assert [(p.site_id, p.connected) for p in listed] == [(str(live.run_sites["lao-cai"]), True)]
    await page.wait_for(
        "document.getElementById('remote').srcObject.getAudioTracks().length === 1", timeout=10
    )
    # Another site joins by browser (an aiortc peer, red camera): the page shows its picture
    # and names it as the speaker; the list shows it taking part by browser.
    other = Peer("dien-bien", 440.0, rgb=(220, 30, 30), level=0.5)
    try:
        await other.join(Whip(page_client, await link_for(api, world, live, "dien-bien")))
        await page.wait_for(
            "document.getElementById('speaker').textContent"
            " === 'Đang phát biểu: Phòng họp dien-bien'",
            timeout=15,
        )
        await page.wait_for("document.getElementById('remote').videoWidth > 0", timeout=15)
        await page.wait_for(
            "Number(document.getElementById('call').dataset.inboundAudioEnergy || 0) > 0",
            timeout=10,
        )
        assert await page.evaluate(NO_SIDEWAYS_SCROLL)
        await page.screenshot(artifact("join-page-connected.png"))
    finally:
        await other.close()
    # Muting is a toggle that says what it does.
    await page.click("#mic")
    assert await page.evaluate("document.getElementById('mic').textContent") == "Bật micro"
    await page.click("#mic")
    # Leaving ends the bridge's connection.
    await page.click("#leave")
    await page.wait_for(f"{STATE} === 'left'")
    await until(
        page,
        lambda: _empty(builtin_participants(app, live.run_id)),
        "the bridge kept the page after it left",
    )
    # Leaving on purpose is not reported as a lost connection.
    assert await page.evaluate(STATE) == "left"
    assert await page.evaluate("document.getElementById('problem').hidden")
    assert page.errors == []


async def _empty(listed: Any) -> bool:
    return not await listed


async def test_on_a_phone_the_lobby_fits_and_the_keyboard_joins(
    page_client: Any, browser: Browser, clock: FakeClock
) -> None:
    app = page_client.server.app
    api = Api(page_client)
    world = await build_world(app, api)
    live = await live_meeting(app, api, world, clock.now)
    token = await link_for(api, world, live, "lao-cai")
    page = await browser.new_page(width=390, height=844, mobile=True)
    await page.goto(str(page_client.make_url(f"/join/{token}")))
    await page.wait_for(f"{STATE} === 'lobby'", timeout=15)
    await page.wait_for("document.querySelectorAll('#participants li').length === 3")
    assert await page.evaluate(NO_SIDEWAYS_SCROLL)
    await page.screenshot(artifact("join-page-lobby-390.png"))
    # Keyboard: the join button takes focus and Enter presses it.
    await page.evaluate("document.getElementById('join').focus()")
    assert await page.evaluate("document.activeElement.id") == "join"
    enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
    await page.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **enter})
    await page.send("Input.dispatchKeyEvent", {"type": "keyUp", **enter})
    await page.wait_for(f"{STATE} === 'connected'", timeout=20)
    assert await page.evaluate(NO_SIDEWAYS_SCROLL)
    await page.screenshot(artifact("join-page-connected-390.png"))
    await page.click("#leave")
    await page.wait_for(f"{STATE} === 'left'")
    assert page.errors == []


async def test_the_page_says_when_the_meeting_starts_or_that_it_ended(
    page_client: Any, browser: Browser, clock: FakeClock
) -> None:
    app = page_client.server.app
    api = Api(page_client)
    world = await build_world(app, api)
    live = await live_meeting(app, api, world, clock.now)
    token = await link_for(api, world, live, "lao-cai")
    # Launched ahead of its start (08:00 in Hà Nội, 01:00 UTC tomorrow): not started yet.
    start = (clock.now + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    async with app[SESSIONS].begin() as session:
        run = await session.get(MeetingRun, live.run_id)
        assert run is not None
        run.status = "launching"
        run.start_at = start
    page = await browser.new_page(width=390, height=844, mobile=True)
    await page.goto(str(page_client.make_url(f"/join/{token}")))
    text = await page.wait_for(
        f"{STATE} === 'not-started' && document.getElementById('status').textContent"
    )
    assert "chưa bắt đầu" in text and "08:00" in text and "giờ Việt Nam" in text, text
    assert await page.evaluate("document.getElementById('lobby').hidden")
    assert await page.evaluate(NO_SIDEWAYS_SCROLL)
    await page.screenshot(artifact("join-page-not-started.png"))
    await set_run_status(app, live.run_id, "ended")
    await page.goto(str(page_client.make_url(f"/join/{token}")))
    text = await page.wait_for(
        f"{STATE} === 'ended' && document.getElementById('status').textContent"
    )
    assert "đã kết thúc" in text, text
    assert await page.evaluate("document.getElementById('lobby').hidden")
    await page.screenshot(artifact("join-page-ended.png"))
    # A forged link and an expired one are refused in words.
    problem = "document.getElementById('problem')"
    await set_run_status(app, live.run_id, "live")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    await page.goto(str(page_client.make_url(f"/join/{forged}")))
    text = await page.wait_for(f"!{problem}.hidden && {problem}.textContent")
    assert "không hợp lệ" in text
    clock.advance(hours=3)
    await page.goto(str(page_client.make_url(f"/join/{token}")))
    text = await page.wait_for(f"!{problem}.hidden && {problem}.textContent")
    assert "hết hạn" in text
    assert await page.evaluate(
        "getComputedStyle(document.getElementById('call')).display === 'none'"
    )
    assert page.errors == []
