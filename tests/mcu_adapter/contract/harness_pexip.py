"""Contract harness for Pexip Infinity, against the emulator in tests/emulators."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from tests.emulators.hook_receiver import HookReceiver
from tests.emulators.pexip import PexipEmulator
from tests.mcu_adapter.contract.harness import HARNESS_RETRIES, HARNESS_TIMEOUT, register
from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import (
    Bridge,
    BridgeContext,
    BridgeEvent,
    ConferenceRef,
    DialTarget,
    InboundRequest,
)
from vcorch.mcu_adapter.pexip import PexipBridge

SINK_USER = "pexip-sink"
HOOK_SECRET = "event-sink-secret-8901"


@register("pexip")
class PexipHarness:
    malformed_push_bodies: tuple[bytes, ...] = (
        b"",
        b"not json",
        b"[]",
        b'{"node": "10.0.0.1", "seq": 1, "version": 1, "time": 1576815614.9, "data": {}}',
        b'{"node": "10.0.0.1", "seq": 2, "version": 1, "time": "yesterday",'
        b' "event": "participant_connected", "data": {"uuid": "u", "conference": "c"}}',
        b'{"node": "10.0.0.1", "seq": 3, "version": 1, "time": 1576815614.9,'
        b' "event": "participant_disconnected", "data": {"conference": "c"}}',
        b'{"node": "10.0.0.1", "seq": 4, "version": 1, "time": 1576815614.9,'
        b' "event": "participant_connected", "data": []}',
        b'{"event": "eventsink_bulk", "node": "127.0.0.1", "seq": 0, "version": 1,'
        b' "time": 1576815614.9, "data": {"not": "a list"}}',
    )

    def __init__(self, tmp_path: Path) -> None:
        self._tmp = tmp_path
        self.emulator = PexipEmulator(ring_delay=0.03, ring_timeout=0.3, page_size=20)
        self._http: aiohttp.ClientSession | None = None
        self._receiver: HookReceiver | None = None
        self._bridge: PexipBridge | None = None

    @property
    def events(self) -> list[BridgeEvent]:
        return self._receiver.events if self._receiver is not None else []

    async def start(self) -> Bridge:
        url = await self.emulator.start()
        password_file = self._tmp / "pexip-password"
        password_file.write_text(self.emulator.password + "\n", encoding="utf-8")
        hook_file = self._tmp / "pexip-hook"
        hook_file.write_text(HOOK_SECRET, encoding="utf-8")
        config = BridgeConfig(
            name="pexip-contract",
            type="pexip",
            url=url,
            username=self.emulator.username,
            password_file=password_file,
            ports=200,
            timeout_seconds=HARNESS_TIMEOUT,
            retries=HARNESS_RETRIES,
            options={
                "system_location": self.emulator.system_locations[0],
                "hook_secret_file": str(hook_file),
                "hook_username": SINK_USER,
                "retry_base_delay": 0.02,
                "request_budget_per_second": 50,
            },
        )
        self._http = aiohttp.ClientSession()
        context = BridgeContext(http=self._http, clock=lambda: datetime.now(UTC))
        self._bridge = PexipBridge(config, context)
        await self._bridge.start()
        self._receiver = HookReceiver(self._bridge)
        receiver_url = await self._receiver.start()
        # Configured through the API itself, as an operator would (configuration/v1/event_sink/).
        basic = base64.b64encode(f"{self.emulator.username}:{self.emulator.password}".encode())
        async with self._http.post(
            f"{url}/api/admin/configuration/v1/event_sink/",
            json={
                "name": "vcorch",
                "url": f"{receiver_url}/hooks/pexip-contract",
                "username": SINK_USER,
                "password": HOOK_SECRET,
                "version": 1,
                "bulk_support": False,
                "verify_tls_certificate": False,
            },
            headers={"Authorization": f"Basic {basic.decode()}"},
        ) as response:
            assert response.status == 201, response.status
        return self._bridge

    async def stop(self) -> None:
        await self.emulator.stop()
        if self._receiver is not None:
            await self._receiver.stop()
        if self._bridge is not None:
            await self._bridge.close()
        if self._http is not None:
            await self._http.close()

    def target(self, site_id: str, answers: bool) -> DialTarget:
        address = f"room-{site_id}@province.example.vn"
        self.emulator.answering[address] = answers
        return DialTarget(
            site_id=site_id, kind="sip", address=f"sip:{address}", display_name=f"Phòng {site_id}"
        )

    async def connect(self, ref: ConferenceRef, target: DialTarget) -> str | None:
        assert self._bridge is not None
        return (await self._bridge.dial_out(ref, target)).participant_id

    async def remote_leave(self, ref: ConferenceRef, participant_id: str) -> None:
        self.emulator.remote_hangup(participant_id)

    async def take_down(self) -> None:
        await self.emulator.go_down()

    async def bring_up(self) -> None:
        await self.emulator.come_up()

    async def hang(self) -> None:
        self.emulator.mode = "hang"

    async def garbage(self) -> bool:
        self.emulator.mode = "garbage"
        return True

    async def heal(self) -> None:
        self.emulator.mode = "ok"

    def hook_request(self, body: bytes, authentic: bool) -> InboundRequest | None:
        secret = HOOK_SECRET if authentic else "wrong-secret"
        basic = base64.b64encode(f"{SINK_USER}:{secret}".encode()).decode()
        return InboundRequest(
            method="POST",
            path="/hooks/pexip-contract",
            headers={"Content-Type": "application/json", "Authorization": f"Basic {basic}"},
            query={},
            body=body,
        )
