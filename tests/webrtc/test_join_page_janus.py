"""A Janus-hosted meeting: chromium opens a site's link, joins the real Janus AudioBridge room
with Janus' own janus.js (served by vcorch from Debian's libjs-janus-gateway) next to two
aiortc peers standing in for room systems, and everyone hears everyone.

The aiortc peers send tones (1000 Hz and 1500 Hz); chromium's fake microphone beeps at
another pitch.  Each peer hears the other's tone and, once chromium is in, energy away from
the tones' pitches (the beep); the page hears the peers (inbound audio energy grows)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from sqlalchemy import select

from tests import databases
from tests.api import Api, FakeClock, make_settings
from tests.browser import Browser, artifact
from tests.janus_harness.peer import AudioBridgePeer
from tests.janus_harness.wiring import JanusInstance, bridge_config
from tests.services import missing_service
from tests.webrtc.live import link_for, live_meeting
from tests.webrtc.peers import ToneTrack
from tests.world import World, build_world
from vcorch.mcu_adapter.base import ConferenceRef, ConferenceSpec, DialTarget
from vcorch.mcu_adapter.janus import JanusBridge
from vcorch.mcu_adapter.janus.naming import participant_id_for
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.orchestration.models import RunConference, RunSite
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.web.keys import SESSIONS

pytest_plugins = ["tests.janus_harness.fixtures"]

BRIDGE = "janus-test"
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")
TONES = {"central": 1000.0, "dien-bien": 1500.0}
STATE = "document.getElementById('status').dataset.state"


class Ear:
    """What one aiortc peer hears: mono PCM at the received rate."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.rate = 48_000
        self.tasks: list[asyncio.Task[None]] = []

    def listen(self, track: MediaStreamTrack) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, AudioFrame):
                    channels = len(frame.layout.channels)
                    self.rate = frame.sample_rate
                    self.chunks.append(frame.to_ndarray().reshape(-1)[::channels] / 32768.0)

    def mark(self) -> int:
        return len(self.chunks)

    def since(self, mark: int) -> np.ndarray:
        return np.concatenate(self.chunks[mark:]) if len(self.chunks) > mark else np.zeros(1)

    def bands(self, samples: np.ndarray, tones: list[float]) -> tuple[dict[float, float], float]:
        """Energy near each tone (±30 Hz) and energy elsewhere in 200-4000 Hz."""
        spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size))) ** 2
        bins = np.fft.rfftfreq(samples.size, 1 / self.rate)
        near = np.zeros(bins.size, dtype=bool)
        found: dict[float, float] = {}
        for hz in tones:
            band = (bins > hz - 30) & (bins < hz + 30)
            found[hz] = float(spectrum[band].sum())
            near |= band
        elsewhere = (bins > 200) & (bins < 4000) & ~near
        return found, float(spectrum[elsewhere].sum())

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
def janus_js() -> Path:
    if not JANUS_JS.is_file():
        missing_service(
            "libjs-janus-gateway is not installed (apt-get install libjs-janus-gateway)"
        )
    return JANUS_JS


@pytest.fixture
async def janus_client(
    janus: JanusInstance,
    janus_js: Path,
    sqlite_template: Path,
    tmp_path: Path,
    clock: FakeClock,
    aiohttp_client: Any,
) -> Any:
    from vcorch.app import create_app

    config = bridge_config(
        tmp_path,
        api_url=janus.process.http_url,
        admin_url=janus.process.admin_url,
        admin_secret=janus.admin_secret,
        name=BRIDGE,
    )
    settings = make_settings(
        databases.copy_sqlite(sqlite_template, tmp_path), bridges=[config], janus_js_path=janus_js
    )
    return await aiohttp_client(create_app(settings, clock=clock, background=False))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_chromium_and_room_systems_hear_each_other_in_a_janus_room(
    janus_client: Any,
    janus: JanusInstance,
    browser: Browser,
    clock: FakeClock,
    http: aiohttp.ClientSession,
) -> None:
    app = janus_client.server.app
    api = Api(janus_client)
    world: World = await build_world(app, api)
    bridge = app[REGISTRY][BRIDGE]
    assert isinstance(bridge, JanusBridge)
    ref = await bridge.create_conference(
        ConferenceSpec(
            key="meeting-janus-page", title="Giao ban", expected_sites=3, audio_only=True
        )
    )
    room = int(ref.conference_id)
    live = await live_meeting(
        app, api, world, clock.now, host_bridge=BRIDGE, host_conference=ref.conference_id
    )
    ears = {code: Ear() for code in TONES}
    reserved = {}
    for code in TONES:
        # The room systems' stand-ins take the ids the orchestrator's dial reserves.
        target = DialTarget(
            site_id=str(live.run_sites[code]),
            kind="webrtc",
            address=f"vcorch-site-{live.run_sites[code]}",
            display_name=f"Phòng họp {code}",
        )
        reserved[code] = int((await bridge.dial_out(ref, target)).participant_id)
        assert reserved[code] == participant_id_for(room, str(live.run_sites[code]))
    peers = {
        code: AudioBridgePeer(
            http,
            janus.process.http_url,
            room=room,
            participant_id=reserved[code],
            display=f"Phòng họp {code}",
            tone=ToneTrack(hz, level=0.2),
            listen=ears[code].listen,
        )
        for code, hz in TONES.items()
    }
    page = await browser.new_page(width=1366, height=800)
    try:
        for peer in peers.values():
            await peer.join()
        await asyncio.sleep(2.0)
        before = {code: ear.mark() for code, ear in ears.items()}
        await asyncio.sleep(2.0)
        quiet = {code: ears[code].since(before[code]) for code in TONES}
        # Lào Cai's room system could not be reached: the site fell back to its browser.
        async with app[SESSIONS].begin() as session:
            fallen = await session.get(RunSite, live.run_sites["lao-cai"])
            assert fallen is not None
            fallen.state = "fallback"
        token = await link_for(api, world, live, "lao-cai")
        await page.goto(str(janus_client.make_url(f"/join/{token}")))
        await page.wait_for(f"{STATE} === 'lobby'", timeout=15)
        assert await page.evaluate("document.getElementById('cam-select').hidden")
        # Nothing is in the room for this site before "Tham gia".
        listed = await bridge.participants(ref)
        mine = str(live.run_sites["lao-cai"])
        assert mine not in {p.site_id for p in listed}
        await page.click("#join")
        await page.wait_for(f"{STATE} === 'connected'", timeout=20)
        # Janus lists the browser under the site's reserved id: the adapter maps it back.
        for _ in range(100):
            listed = await bridge.participants(ref)
            if any(p.site_id == mine for p in listed):
                break
            await asyncio.sleep(0.05)
        assert {p.site_id for p in listed} == {str(s) for s in live.run_sites.values()}
        # The supervisor's next look finds the browser in the room: the live view says so.
        await app[ORCHESTRATOR].step(live.run_id)
        status, view = await api.as_(world.tokens["central_sec"]).get(
            f"/api/meetings/{live.meeting_id}/live"
        )
        assert status == 200, view
        site_view = next(x for x in view["sites"] if x["room_id"] == world.rooms["lao-cai"])
        assert (site_view["state"], site_view["channel"]) == ("connected", "browser"), site_view
        assert site_view["separate_room"] is False
        # Ten minutes on, attendance counts the site present by browser from Janus's own
        # listing of the room.
        clock.advance(minutes=10)
        await app[ORCHESTRATOR].step(live.run_id)
        status, report = await api.as_(world.tokens["central_sec"]).get(
            f"/api/meetings/{live.meeting_id}/attendance"
        )
        assert status == 200, report
        laocai = next(x for x in report["sites"] if x["room_id"] == world.rooms["lao-cai"])
        assert laocai["took_part_via"] == "browser", laocai
        assert laocai["connected_seconds"] >= 600, laocai
        assert laocai["participants"][0]["bridge"] == BRIDGE, laocai
        # The page hears the room systems' tones.
        await page.wait_for(
            "Number(document.getElementById('call').dataset.inboundAudioEnergy || 0) > 0.001",
            timeout=15,
        )
        assert (
            int(await page.evaluate("document.getElementById('call').dataset.outboundAudioPackets"))
            > 0
        )
        await asyncio.sleep(1.0)
        during = {code: ear.mark() for code, ear in ears.items()}
        await asyncio.sleep(3.0)
        for code, ear in ears.items():
            other = next(hz for c, hz in TONES.items() if c != code)
            own = TONES[code]
            tones_quiet, beep_quiet = ear.bands(quiet[code], [other, own])
            tones_now, beep_now = ear.bands(ear.since(during[code]), [other, own])
            # The other room system is heard, before and with chromium in the room...
            assert tones_quiet[other] > 10 * tones_quiet[own], (code, tones_quiet)
            assert tones_now[other] > 10 * tones_now[own], (code, tones_now)
            # ... and chromium's beep arrives: energy away from both tones grows many fold
            # (normalised by the other tone, which is in both recordings).
            ratio_quiet = beep_quiet / tones_quiet[other]
            ratio_now = beep_now / tones_now[other]
            assert ratio_now > 5 * ratio_quiet, (code, ratio_quiet, ratio_now)
        # Sound only, and the page says how many others it hears.
        assert await page.evaluate("document.getElementById('speaker').textContent") == (
            "Cuộc họp chỉ có âm thanh — đang nghe 2 điểm cầu khác"
        )
        assert await page.evaluate("document.querySelector('.self').hidden")
        await page.screenshot(artifact("join-page-janus.png"))
        # Leaving takes the browser out of the room.
        await page.click("#leave")
        await page.wait_for(f"{STATE} === 'left'")
        await asyncio.sleep(1.0)
        # Leaving on purpose is not reported as a lost connection.
        assert await page.evaluate(STATE) == "left"
        assert await page.evaluate("document.getElementById('problem').hidden")
        for _ in range(100):
            listed = await bridge.participants(ref)
            if mine not in {p.site_id for p in listed}:
                break
            await asyncio.sleep(0.05)
        assert mine not in {p.site_id for p in listed}
        assert page.errors == []
    finally:
        for peer in peers.values():
            await peer.close()
        for ear in ears.values():
            await ear.close()
        await bridge.end_conference(ConferenceRef(BRIDGE, ref.conference_id, ref.extra))


async def test_two_browsers_see_each_other_through_the_videoroom(
    janus_client: Any, browser: Browser, clock: FakeClock
) -> None:
    app = janus_client.server.app
    api = Api(janus_client)
    world: World = await build_world(app, api)
    bridge = app[REGISTRY][BRIDGE]
    assert isinstance(bridge, JanusBridge)
    ref = await bridge.create_conference(
        ConferenceSpec(key="meeting-janus-video", title="Giao ban", expected_sites=3)
    )
    assert "videoroom" in ref.extra
    live = await live_meeting(
        app, api, world, clock.now, host_bridge=BRIDGE, host_conference=ref.conference_id
    )
    async with app[SESSIONS].begin() as session:
        conference = (
            await session.execute(select(RunConference).where(RunConference.run_id == live.run_id))
        ).scalar_one()
        conference.extra = dict(ref.extra)
    pages = {}
    try:
        for code in ("lao-cai", "dien-bien"):
            token = await link_for(api, world, live, code)
            info = await (await janus_client.get(f"/api/join/{token}")).json()
            assert info["janus"]["plugin"] == "videoroom", info
            assert info["janus"]["videoroom"] == int(ref.conference_id)
            page = await browser.new_page(width=1366, height=800)
            pages[code] = page
            await page.goto(str(janus_client.make_url(f"/join/{token}")))
            await page.wait_for(f"{STATE} === 'lobby'", timeout=15)
            assert not await page.evaluate("document.getElementById('cam-select').hidden")
            await page.click("#join")
            await page.wait_for(f"{STATE} === 'connected'", timeout=20)
        # Each page shows the other's camera, received from Janus' VideoRoom.
        for page in pages.values():
            await page.wait_for("document.getElementById('remote').videoWidth > 0", timeout=20)
            await page.wait_for(
                "document.getElementById('speaker').textContent === 'Đang nghe 1 điểm cầu khác'",
                timeout=10,
            )
        await pages["lao-cai"].screenshot(artifact("join-page-janus-video.png"))
        listed = await bridge.participants(ref)
        assert {p.site_id for p in listed} == {
            str(live.run_sites["lao-cai"]),
            str(live.run_sites["dien-bien"]),
        }
        for page in pages.values():
            await page.click("#leave")
            await page.wait_for(f"{STATE} === 'left'")
            assert page.errors == []
    finally:
        await bridge.end_conference(ref)
