"""Contract harness for Cisco Meeting Server, against the emulator in tests/emulators."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from tests.emulators.cisco_cms import CmsEmulator
from tests.emulators.hook_receiver import HookReceiver
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
from vcorch.mcu_adapter.cisco_cms import CiscoCmsBridge

HOOK_SECRET = "cdr-hook-secret-0123"


@register("cisco_cms")
class CiscoCmsHarness:
    malformed_push_bodies: tuple[bytes, ...] = (
        b"",
        b"not xml at all",
        b"<records><record time='2026-01-01T00:00:00Z'><callLeg id='x'/></record></records>",
        b"<records><record type='callLegEnd' time='yesterday'><callLeg id='x'/></record></records>",
        b"<records><record type='callLegEnd' time='2026-01-01T00:00:00Z'></record></records>",
        b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaa'>]><records>&a;</records>",
        b"<calls total='1'/>",
    )

    def __init__(self, tmp_path: Path) -> None:
        self._tmp = tmp_path
        self.emulator = CmsEmulator(ring_delay=0.03, ring_timeout=0.3)
        self._http: aiohttp.ClientSession | None = None
        self._receiver: HookReceiver | None = None
        self._bridge: CiscoCmsBridge | None = None

    @property
    def events(self) -> list[BridgeEvent]:
        return self._receiver.events if self._receiver is not None else []

    async def start(self) -> Bridge:
        url = await self.emulator.start()
        password_file = self._tmp / "cms-password"
        password_file.write_text(self.emulator.password + "\n", encoding="utf-8")
        hook_file = self._tmp / "cms-hook"
        hook_file.write_text(HOOK_SECRET, encoding="utf-8")
        config = BridgeConfig(
            name="cms-contract",
            type="cisco_cms",
            url=url,
            username=self.emulator.username,
            password_file=password_file,
            ports=200,
            timeout_seconds=HARNESS_TIMEOUT,
            retries=HARNESS_RETRIES,
            options={"hook_secret_file": str(hook_file), "retry_base_delay": 0.02},
        )
        self._http = aiohttp.ClientSession()
        context = BridgeContext(http=self._http, clock=lambda: datetime.now(UTC))
        self._bridge = CiscoCmsBridge(config, context)
        await self._bridge.start()
        self._receiver = HookReceiver(self._bridge)
        receiver_url = await self._receiver.start()
        # Configured through the API itself, as an operator would (POST /system/cdrReceivers).
        basic = base64.b64encode(f"{self.emulator.username}:{self.emulator.password}".encode())
        async with self._http.post(
            f"{url}/api/v1/system/cdrReceivers",
            data={"uri": f"{receiver_url}/hooks/cms-contract?token={HOOK_SECRET}"},
            headers={"Authorization": f"Basic {basic.decode()}"},
        ) as response:
            assert response.status == 200, response.status
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
        basic = base64.b64encode(f"cms:{secret}".encode()).decode()
        return InboundRequest(
            method="POST",
            path="/hooks/cms-contract",
            headers={"Content-Type": "text/xml", "Authorization": f"Basic {basic}"},
            query={},
            body=body,
        )
