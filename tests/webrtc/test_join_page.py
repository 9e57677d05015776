"""The join page in headless chromium with a fake camera and microphone: it connects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import databases
from tests.api import Api, FakeClock, make_settings
from tests.browser import Browser, artifact
from tests.webrtc.live import Whip, link_for, live_meeting, set_run_status
from tests.webrtc.peers import Peer
from tests.world import World, build_world
from vcorch.mcu_adapter.base import ConferenceRef
from vcorch.mcu_adapter.routes import REGISTRY


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


async def test_the_page_connects_and_the_bridge_sees_the_site(
    page_client: Any, browser: Browser, clock: FakeClock
) -> None:
    app = page_client.server.app
    api = Api(page_client)
    world: World = await build_world(app, api)
    live = await live_meeting(app, api, world, clock.now)
    token = await link_for(api, world, live, "lao-cai")
    page = await browser.new_page()
    await page.goto(str(page_client.make_url(f"/join/{token}")))
    connected = "document.getElementById('status').dataset.state === 'connected'"
    await page.wait_for(connected, timeout=20)
    assert await page.evaluate("document.getElementById('meeting').textContent") == (
        "Hội nghị giao ban chương trình — quý IV"
    )
    assert "Phòng họp lao-cai" in await page.evaluate("document.getElementById('site').textContent")
    bridge = app[REGISTRY]["webrtc"]
    ref = ConferenceRef("webrtc", f"run-{live.run_id}")
    for _ in range(100):
        listed = await bridge.participants(ref)
        if listed and listed[0].connected:
            break
        await page.evaluate("new Promise(r => setTimeout(r, 50))")
    assert [(p.site_id, p.connected) for p in listed] == [(str(live.run_sites["lao-cai"]), True)]
    # The bridge mixes and returns audio and video to the page.
    await page.wait_for(
        "document.getElementById('remote').srcObject.getAudioTracks().length === 1", timeout=10
    )
    await page.wait_for(
        "document.getElementById('speaker').textContent.includes('Chưa có điểm cầu nào khác')"
    )
    # Another site joins (an aiortc peer talking loudly, red camera): the page shows its
    # picture and names it as the speaker.
    other = Peer("dien-bien", 440.0, rgb=(220, 30, 30), level=0.5)
    try:
        await other.join(Whip(page_client, await link_for(api, world, live, "dien-bien")))
        await page.wait_for(
            "document.getElementById('speaker').textContent"
            " === 'Đang phát biểu: Phòng họp dien-bien'",
            timeout=15,
        )
        await page.wait_for("document.getElementById('remote').videoWidth > 0", timeout=15)
        assert await page.evaluate("document.getElementById('count').textContent") == "2"
        await page.screenshot(artifact("join-page-connected.png"))
        # The page's camera reaches the other site (it is shown to the speaker).
        for _ in range(100):
            if other.colours:
                break
            await page.evaluate("new Promise(r => setTimeout(r, 50))")
        assert other.colours
    finally:
        await other.close()
    # Leaving ends the bridge's connection.
    await page.click("#leave")
    await page.wait_for("document.getElementById('status').dataset.state === 'left'")
    for _ in range(100):
        if not await bridge.participants(ref):
            break
        await page.evaluate("new Promise(r => setTimeout(r, 50))")
    assert await bridge.participants(ref) == []
    assert page.errors == []


async def test_the_page_says_what_is_wrong(
    page_client: Any, browser: Browser, clock: FakeClock
) -> None:
    app = page_client.server.app
    api = Api(page_client)
    world = await build_world(app, api)
    live = await live_meeting(app, api, world, clock.now)
    token = await link_for(api, world, live, "lao-cai")
    page = await browser.new_page(width=390, height=844, mobile=True)
    problem = "document.getElementById('problem')"
    await set_run_status(app, live.run_id, "ended")
    await page.goto(str(page_client.make_url(f"/join/{token}")))
    text = await page.wait_for(f"!{problem}.hidden && {problem}.textContent")
    assert "không diễn ra" in text
    await set_run_status(app, live.run_id, "live")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    await page.goto(str(page_client.make_url(f"/join/{forged}")))
    text = await page.wait_for(f"!{problem}.hidden && {problem}.textContent")
    assert "không hợp lệ" in text
    clock.advance(hours=3)
    await page.goto(str(page_client.make_url(f"/join/{token}")))
    text = await page.wait_for(f"!{problem}.hidden && {problem}.textContent")
    assert "hết hạn" in text
    # Nothing of the call is on screen when there is no call.
    assert await page.evaluate(
        "getComputedStyle(document.getElementById('call')).display === 'none'"
    )
    await page.screenshot(artifact("join-page-expired.png"))
    # A Janus bridge's own link (its page is not part of vcorch yet) is not called forged.
    await page.goto(str(page_client.make_url("/join/janus?bridge=janus-hn&janus=x&room=1")))
    text = await page.wait_for(f"!{problem}.hidden && {problem}.textContent")
    assert "cầu Janus" in text
    assert page.errors == []
