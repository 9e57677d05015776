"""A browser site into a SIP-only MCU's conference through real Janus' SIP plugin.

The simulated MCU stands in for a SIP/H.323-only MCU; its conference's SIP address
(option ``dial_in``) is a real baresip that answers and plays a 1 kHz tone.  An aiortc
peer playing 440 Hz does WHIP against vcorch like the join page; vcorch calls through
Janus; each side must hear the other's tone (FFT), and the run site is connected via the
gateway while the call lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from sqlalchemy import select

from tests.api import Api, FakeClock, make_settings
from tests.gateway.conftest import API_SECRET
from tests.gateway.sip_party import PARTY_TONE_HZ, SipParty, dominant_hz, read_wav
from tests.janus_harness.server import JanusProcess, free_port
from tests.webrtc.live import Whip, link_for, live_meeting, set_run_status
from tests.webrtc.peers import LOOPBACK, ToneTrack
from tests.world import World
from vcorch.config import BridgeConfig, GatewayConfig, Settings
from vcorch.gateway.routes import GATEWAYS
from vcorch.mcu_adapter.webrtc.addresses import offered_addresses
from vcorch.orchestration.models import RunSite
from vcorch.web.keys import SESSIONS

BROWSER_TONE_HZ = 440.0


class BrowserPeer:
    """What the join page does, audio only: offer with a tone, keep what comes back."""

    def __init__(self, hz: float = BROWSER_TONE_HZ, *, video: bool = False) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ToneTrack(hz))
        if video:
            self.pc.addTransceiver("video", direction="sendrecv")
        self.answer_sdp = ""
        self.samples: list[np.ndarray] = []
        self.rate = 0
        self.frames = 0
        self.connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._read(track)))

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def join(self, whip: Whip, wait: float = 15.0) -> None:
        with offered_addresses(LOOPBACK):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await whip(self.pc.localDescription.sdp)
        self.answer_sdp = answer
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.wait_for(self.connected.wait(), wait)

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, AudioFrame):
                    self.frames += 1
                    self.rate = frame.sample_rate
                    pcm = frame.to_ndarray().reshape(-1)
                    self.samples.append(pcm[:: len(frame.layout.channels)].astype(np.float64))

    def heard(self, seconds: float) -> tuple[float, float]:
        pcm = np.concatenate(self.samples)[-int(self.rate * seconds) :]
        return dominant_hz(pcm, self.rate)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def gateway_settings(
    database_url: str, tmp_path: Path, party: SipParty, api_url: str, **gateway: Any
) -> Settings:
    secret = tmp_path / "janus-api-secret"
    secret.write_text(API_SECRET, encoding="utf-8")
    return make_settings(
        database_url,
        bridges=[
            BridgeConfig(
                name="mo-phong", type="simulated", ports=50, options={"dial_in": party.uri}
            )
        ],
        gateways=[
            GatewayConfig(
                name="cong-sip",
                api_url=api_url,
                api_secret_file=secret,
                sip_domain="vcorch.example.gov.vn",
                timeout_seconds=3,
                retries=1,
                answer_timeout_seconds=10,
                **gateway,
            )
        ],
    )


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, party: SipParty, janus_sip: JanusProcess
) -> Settings:
    return gateway_settings(database_url, tmp_path, party, janus_sip.http_url)


async def run_site(app: Any, run_site_id: int) -> RunSite:
    async with app[SESSIONS]() as session:
        site = await session.get(RunSite, run_site_id)
        assert site is not None
        return site


async def finished_wav(path: Path, within: float = 5.0) -> tuple[np.ndarray, int]:
    """baresip writes a dump's WAV header when it closes the file, a moment after the call."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return read_wav(path)
        except (wave.Error, EOFError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def until(check: Any, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_browser_and_sip_party_hear_each_other_through_janus(
    app_client: Any,
    api: Api,
    world: World,
    clock: FakeClock,
    party: SipParty,
    janus_sip: JanusProcess,
) -> None:
    app = app_client.server.app
    await app[GATEWAYS].health.check_all()
    live = await live_meeting(app, api, world, clock.now)
    site_id = live.run_sites["lao-cai"]
    async with app[SESSIONS].begin() as session:
        site = await session.get(RunSite, site_id)
        assert site is not None
        site.state = "fallback"
    token = await link_for(api, world, live, "lao-cai")
    info = await app_client.get(f"/api/join/{token}")
    body = await info.json()
    assert info.status == 200, body
    assert body["mode"] == "gateway"
    assert body["whip_url"] == f"/whip/{token}"

    before = set(party.heard())
    closed_before = party.log().count("session closed")
    browser = BrowserPeer()
    whip = Whip(app_client, token)
    try:
        await browser.join(whip)
        # No transcoding: the browser is answered with the codec the SIP party chose.
        assert "a=rtpmap:0 PCMU/8000" in browser.answer_sdp
        assert "opus" not in browser.answer_sdp.lower()
        # The call's From names the site; baresip logs who called.
        assert f"sip:vcorch-site-{site_id}@vcorch.example.gov.vn" in party.log()
        await asyncio.sleep(3.0)
        hz, share = browser.heard(seconds=2.0)
        assert abs(hz - PARTY_TONE_HZ) < 10, (hz, share)
        assert share > 0.8

        site = await run_site(app, site_id)
        assert (site.state, site.channel) == ("connected", "gateway")
        assert site.participant_id and site.participant_id.startswith("gateway:cong-sip:")
        status, view = await api.as_(world.tokens["admin"]).get(
            f"/api/meetings/{live.meeting_id}/live"
        )
        assert status == 200, view
        row = next(s for s in view["sites"] if s["room_id"] == world.rooms["lao-cai"])
        assert (row["state"], row["channel"], row["separate_room"]) == (
            "connected",
            "gateway",
            False,
        ), row
        # Attendance counts the site from the gateway's own record of the call.
        clock.advance(minutes=10)
        status, report = await api.as_(world.tokens["admin"]).get(
            f"/api/meetings/{live.meeting_id}/attendance"
        )
        assert status == 200, report
        counted = next(s for s in report["sites"] if s["room_id"] == world.rooms["lao-cai"])
        assert counted["took_part_via"] == "gateway", counted
        assert counted["connected_seconds"] >= 600, counted

        status, listed = await api.as_(world.tokens["admin"]).get("/api/gateways")
        assert status == 200, listed
        (gateway,) = listed["items"]
        assert gateway["healthy"] is True
        assert gateway["calls"] == 1
        assert API_SECRET not in str(listed)

        assert await whip.leave() == 204

        async def call_ended() -> bool:
            return party.log().count("session closed") > closed_before

        await until(call_ended)
        site = await run_site(app, site_id)
        assert site.state == "fallback"
        assert app[GATEWAYS].calls.count("cong-sip") == 0
    finally:
        await browser.close()

    dumps = [path for path in party.heard() if path not in before]
    assert dumps, party.log()[-2000:]
    pcm, rate = await finished_wav(dumps[-1])
    hz, share = dominant_hz(pcm[rate // 2 :], rate)
    assert abs(hz - BROWSER_TONE_HZ) < 10, (hz, share)
    assert share > 0.8


async def test_a_link_falls_to_the_built_in_bridge_when_the_gateway_is_down(
    database_url: str, tmp_path: Path, party: SipParty, clock: FakeClock, aiohttp_client: Any
) -> None:
    from tests.world import build_world
    from vcorch.app import create_app

    down = f"http://127.0.0.1:{free_port()}/janus"
    settings = gateway_settings(database_url, tmp_path, party, down)
    client = await aiohttp_client(create_app(settings, clock=clock, background=False))
    app = client.server.app
    api = Api(client)
    world = await build_world(app, api)
    (status,) = await app[GATEWAYS].health.check_all()
    assert status.healthy is False
    assert status.last_error
    live = await live_meeting(app, api, world, clock.now)
    token = await link_for(api, world, live, "lao-cai")
    response = await client.get(f"/api/join/{token}")
    body = await response.json()
    assert response.status == 200, body
    assert body["mode"] == "builtin"
    _, listed = await api.as_(world.tokens["admin"]).get("/api/gateways")
    assert listed["items"][0]["healthy"] is False


async def test_a_fallen_back_site_keeps_its_hosting_conference_when_a_gateway_serves_it(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    from vcorch.orchestration.models import RunConference
    from vcorch.orchestration.routes import ORCHESTRATOR

    app = app_client.server.app
    live = await live_meeting(app, api, world, clock.now)
    site_id = live.run_sites["dien-bien"]
    hosting = (await run_site(app, site_id)).conference_row_id
    fallback = app[ORCHESTRATOR]._fallback
    await fallback.fall_back(live.run_id, site_id, "the room system does not answer")
    site = await run_site(app, site_id)
    assert site.state == "fallback"
    # Through the gateway the browser joins the MCU's own conference: no separate room.
    assert site.conference_row_id == hosting
    async with app[SESSIONS]() as session:
        bridges = {
            row.bridge
            for row in (
                await session.execute(
                    select(RunConference).where(RunConference.run_id == live.run_id)
                )
            ).scalars()
        }
    assert bridges == {"mo-phong"}


async def test_video_offered_to_an_audio_only_party_is_refused_and_audio_goes_on(
    app_client: Any, api: Api, world: World, clock: FakeClock, party: SipParty
) -> None:
    app = app_client.server.app
    await app[GATEWAYS].health.check_all()
    live = await live_meeting(app, api, world, clock.now)
    whip = Whip(app_client, await link_for(api, world, live, "central"))
    browser = BrowserPeer(video=True)
    try:
        with offered_addresses(LOOPBACK):
            await browser.pc.setLocalDescription(await browser.pc.createOffer())
        offer = browser.pc.localDescription.sdp
        assert "m=video " in offer
        assert "m=video 0 " not in offer
        answer = await whip(offer)
        # Janus passes the refusal on (aiortc itself cannot take such an answer; browsers do).
        assert "m=video 0 " in answer
        assert "a=rtpmap:0 PCMU/8000" in answer
        assert app[GATEWAYS].calls.count("cong-sip") == 1
        assert await whip.leave() == 204
        assert app[GATEWAYS].calls.count("cong-sip") == 0
    finally:
        await browser.close()


async def test_the_call_ends_when_the_meeting_ends(
    app_client: Any,
    api: Api,
    world: World,
    clock: FakeClock,
    party: SipParty,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("vcorch.gateway.calls.CHECK_SECONDS", 0.1)
    app = app_client.server.app
    await app[GATEWAYS].health.check_all()
    live = await live_meeting(app, api, world, clock.now)
    site_id = live.run_sites["central"]
    browser = BrowserPeer()
    ended_before = party.log().count("session closed")
    try:
        await browser.join(Whip(app_client, await link_for(api, world, live, "central")))
        assert (await run_site(app, site_id)).channel == "gateway"
        await set_run_status(app, live.run_id, "ended")

        async def hung_up() -> bool:
            return party.log().count("session closed") > ended_before

        try:
            await until(hung_up)
        except AssertionError:
            raise AssertionError(party.log()[-1500:]) from None
        assert app[GATEWAYS].calls.count("cong-sip") == 0
        assert (await run_site(app, site_id)).state == "fallback"
    finally:
        await browser.close()


async def test_a_busy_mcu_is_a_503_the_page_can_show(
    database_url: str, tmp_path: Path, party: SipParty, clock: FakeClock, aiohttp_client: Any
) -> None:
    from aiohttp.test_utils import TestServer

    from tests.gateway.fake_janus import FakeJanus
    from tests.world import build_world
    from vcorch.app import create_app

    fake = FakeJanus("busy", secret=API_SECRET)
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        settings = gateway_settings(database_url, tmp_path, party, str(server.make_url("/janus")))
        client = await aiohttp_client(create_app(settings, clock=clock, background=False))
        app = client.server.app
        api = Api(client)
        world = await build_world(app, api)
        await app[GATEWAYS].health.check_all()
        live = await live_meeting(app, api, world, clock.now)
        token = await link_for(api, world, live, "lao-cai")
        response = await client.post(
            f"/whip/{token}", data="v=0\r\n", headers={"Content-Type": "application/sdp"}
        )
        problem = await response.json()
        assert response.status == 503, problem
        assert problem["type"] == "urn:vcorch:problem:gateway-unavailable"
        assert "486" in problem["detail"]
        assert fake.destroyed
        assert app[GATEWAYS].calls.count("cong-sip") == 0
    finally:
        await server.close()


async def test_a_second_connection_of_a_link_replaces_the_first_call(
    app_client: Any, api: Api, world: World, clock: FakeClock, party: SipParty
) -> None:
    from vcorch.access.models import AuditEntry

    app = app_client.server.app
    await app[GATEWAYS].health.check_all()
    live = await live_meeting(app, api, world, clock.now)
    token = await link_for(api, world, live, "dien-bien")
    first, second = BrowserPeer(), BrowserPeer()
    closed_before = party.log().count("session closed")
    try:
        await first.join(Whip(app_client, token))
        (first_call,) = list(app[GATEWAYS].calls)
        await second.join(Whip(app_client, token))
        (second_call,) = list(app[GATEWAYS].calls)
        assert second_call.call_id != first_call.call_id
        assert first_call.ended.is_set()

        async def first_hung_up() -> bool:
            return party.log().count("session closed") > closed_before

        await until(first_hung_up)
        site = await run_site(app, live.run_sites["dien-bien"])
        assert (site.state, site.channel) == ("connected", "gateway")
        assert site.participant_id == second_call.participant_id
        async with app[SESSIONS]() as session:
            entries = (
                await session.execute(
                    select(AuditEntry).where(AuditEntry.action == "join_link.replace")
                )
            ).scalars()
            (entry,) = list(entries)
        assert entry.before == {"participant_id": first_call.participant_id}
    finally:
        await first.close()
        await second.close()
