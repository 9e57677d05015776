"""Contract harness for Janus: a real Janus on 127.0.0.1, real aiortc peers as the sites.

The adapter reaches Janus through :class:`FaultProxy` (so that the far side can hang or
answer garbage); peers signal to Janus directly, from what ``webrtc_join_url`` gives, the
way a browser following the link would.  Janus' sample event handler posts to the
project's :class:`HookReceiver`, which authenticates and parses with the adapter itself.
Janus dials no SIP or H.323 here: a "site that does not answer" is a browser that never
opens its link, which leaves no trace on Janus at all.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.emulators.hook_receiver import HookReceiver
from tests.janus_harness.peer import AudioBridgePeer
from tests.janus_harness.proxy import FaultProxy
from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim, require_janus
from tests.janus_harness.wiring import HOOK_SECRET, HOOK_USER, bridge_config, utc_now
from tests.mcu_adapter.contract.harness import HARNESS_RETRIES, HARNESS_TIMEOUT, register
from vcorch.mcu_adapter.base import (
    Bridge,
    BridgeContext,
    BridgeEvent,
    ConferenceRef,
    DialTarget,
    InboundRequest,
)
from vcorch.mcu_adapter.janus import JanusBridge

NAME = "janus-contract"


@register("janus")
class JanusHarness:
    malformed_push_bodies: tuple[bytes, ...] = (
        b"",
        b"<xml/>",
        b"[1]",
        b'{"type": 64}',
        b'[{"type": 64, "timestamp": "yesterday", "event": {}}]',
        b'[{"type": 64, "timestamp": 1, "event": {"plugin": "janus.plugin.audiobridge",'
        b' "data": {"event": "joined", "room": 1}}}]',
        b'[{"type": 16, "timestamp": 1, "event": {"connection": "webrtcup"}}]',
    )

    def __init__(self, tmp_path: Path) -> None:
        self._tmp = tmp_path
        self._http: aiohttp.ClientSession | None = None
        self._process: JanusProcess | None = None
        self._receiver: HookReceiver | None = None
        self._proxies: list[FaultProxy] = []
        self._bridge: JanusBridge | None = None
        self._answers: dict[str, bool] = {}
        self._peers: dict[str, AudioBridgePeer] = {}

    @property
    def events(self) -> list[BridgeEvent]:
        return self._receiver.events if self._receiver is not None else []

    async def start(self) -> Bridge:
        require_janus()
        shim = await asyncio.to_thread(build_shim)
        self._http = aiohttp.ClientSession()
        settings = JanusSettings(backend_user=HOOK_USER, backend_password=HOOK_SECRET)
        api, admin = (
            FaultProxy(f"http://127.0.0.1:{settings.http_port}"),
            FaultProxy(f"http://127.0.0.1:{settings.admin_port}"),
        )
        self._proxies = [api, admin]
        for proxy in self._proxies:
            await proxy.start()
        config = bridge_config(
            self._tmp,
            api_url=f"{api.url}/janus",
            admin_url=f"{admin.url}/admin",
            admin_secret=settings.admin_secret,
            name=NAME,
            timeout=HARNESS_TIMEOUT,
            retries=HARNESS_RETRIES,
            signalling_url=f"http://127.0.0.1:{settings.http_port}/janus",
        )
        self._bridge = JanusBridge(config, BridgeContext(http=self._http, clock=utc_now))
        self._receiver = HookReceiver(self._bridge)
        hook_base = await self._receiver.start()
        settings = dataclasses.replace(settings, event_backend=f"{hook_base}/api/hooks/{NAME}")
        self._process = JanusProcess(self._tmp / "janus", settings)
        # Janus posts its "started" event while it starts: the loop must stay free.
        await asyncio.to_thread(self._process.start, shim=shim)
        await self._bridge.start()
        return self._bridge

    async def stop(self) -> None:
        # Each step runs whatever the ones before it raised, so nothing is left running.
        steps = [peer.close for peer in self._peers.values()]
        self._peers.clear()
        if self._bridge is not None:
            steps.append(self._bridge.close)
        if self._process is not None:
            process = self._process
            steps.append(lambda: asyncio.to_thread(process.stop))
        steps.extend(proxy.stop for proxy in self._proxies)
        if self._receiver is not None:
            steps.append(self._receiver.stop)
        if self._http is not None:
            steps.append(self._http.close)
        failures: list[BaseException] = []
        for step in steps:
            try:
                await step()
            except Exception as err:
                failures.append(err)
        if failures:
            raise failures[0]

    def target(self, site_id: str, answers: bool) -> DialTarget:
        self._answers[site_id] = answers
        return DialTarget(
            site_id=site_id,
            kind="webrtc",
            address=f"webrtc:{site_id}",
            display_name=f"Phòng {site_id}",
        )

    async def connect(self, ref: ConferenceRef, target: DialTarget) -> str | None:
        assert self._bridge is not None
        assert self._http is not None
        reserved = await self._bridge.dial_out(ref, target)
        if not self._answers.get(target.site_id, True):
            return None  # nobody opens the link: Janus never hears of this site
        url = await self._bridge.webrtc_join_url(
            ref, target, datetime.now(UTC) + timedelta(hours=1)
        )
        parts = urlsplit(url)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        pin = parse_qs(parts.fragment).get("pin", [None])[0]
        peer = AudioBridgePeer(
            self._http,
            query["janus"],
            room=int(query["room"]),
            participant_id=int(query["id"]),
            display=query["display"],
            pin=pin,
        )
        self._peers[query["id"]] = peer
        await peer.join()
        assert query["id"] == reserved.participant_id
        return reserved.participant_id

    async def remote_leave(self, ref: ConferenceRef, participant_id: str) -> None:
        peer = self._peers.pop(participant_id)
        await peer.close()  # the browser tab closes: PeerConnection and session go

    async def take_down(self) -> None:
        assert self._process is not None
        await asyncio.to_thread(self._process.stop)

    async def bring_up(self) -> None:
        assert self._process is not None
        shim = await asyncio.to_thread(build_shim)
        await asyncio.to_thread(self._process.start, shim=shim)

    async def hang(self) -> None:
        for proxy in self._proxies:
            proxy.set("hang")

    async def garbage(self) -> bool:
        for proxy in self._proxies:
            proxy.set("garbage")
        return True

    async def heal(self) -> None:
        for proxy in self._proxies:
            proxy.set("pass")

    def hook_request(self, body: bytes, authentic: bool) -> InboundRequest | None:
        password = HOOK_SECRET if authentic else "not-the-secret"
        token = base64.b64encode(f"{HOOK_USER}:{password}".encode()).decode()
        return InboundRequest(
            method="POST",
            path=f"/api/hooks/{NAME}",
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
            query={},
            body=body,
        )
