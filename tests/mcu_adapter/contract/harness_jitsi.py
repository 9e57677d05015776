"""Contract harness for Jitsi Meet, against the emulator in tests/emulators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from tests.emulators.hook_receiver import HookReceiver
from tests.emulators.jitsi import EmuOccupant, JitsiEmulator
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
from vcorch.mcu_adapter.jitsi import JitsiBridge

HOOK_SECRET = "event-sync-secret-4567"


@register("jitsi")
class JitsiHarness:
    malformed_push_bodies: tuple[bytes, ...] = (
        b"",
        b"not json",
        b"[]",
        b'{"event_name": "muc-occupant-joined"}',
        b'{"event_name": "muc-occupant-joined", "room_name": "r", "room_jid": "r@c.d",'
        b' "occupant": {"joined_at": 1625823996}}',
        b'{"event_name": "muc-occupant-left", "room_name": "r", "room_jid": "r@c.d",'
        b' "occupant": {"occupant_jid": "a@d/x", "joined_at": 1625823996, "left_at": "later"}}',
        b'{"event_name": "muc-something-else", "room_name": "r"}',
    )

    def __init__(self, tmp_path: Path) -> None:
        self._tmp = tmp_path
        self.emulator = JitsiEmulator()
        self._http: aiohttp.ClientSession | None = None
        self._receiver: HookReceiver | None = None
        self._bridge: JitsiBridge | None = None
        self._answers: dict[str, bool] = {}
        self._in_room: dict[str, tuple[str, EmuOccupant]] = {}

    @property
    def events(self) -> list[BridgeEvent]:
        return self._receiver.events if self._receiver is not None else []

    async def start(self) -> Bridge:
        await self.emulator.start()
        secret_file = self._tmp / "jitsi-app-secret"
        secret_file.write_text(self.emulator.app_secret, encoding="utf-8")
        hook_file = self._tmp / "jitsi-hook"
        hook_file.write_text(HOOK_SECRET, encoding="utf-8")
        config = BridgeConfig(
            name="jitsi-contract",
            type="jitsi",
            url="https://meet.example.vn",
            secret_file=secret_file,
            ports=300,
            timeout_seconds=HARNESS_TIMEOUT,
            retries=HARNESS_RETRIES,
            options={
                "domain": self.emulator.domain,
                "app_id": self.emulator.app_id,
                "prosody_url": self.emulator.prosody_url,
                "jvb_url": self.emulator.jvb_url,
                "hook_secret_file": str(hook_file),
                "retry_base_delay": 0.02,
            },
        )
        self._http = aiohttp.ClientSession()
        context = BridgeContext(http=self._http, clock=lambda: datetime.now(UTC))
        self._bridge = JitsiBridge(config, context)
        await self._bridge.start()
        self._receiver = HookReceiver(self._bridge)
        receiver_url = await self._receiver.start()
        # As an operator configures event_sync: api_prefix and api_headers.
        self.emulator.api_prefix = f"{receiver_url}/hooks/jitsi-contract"
        self.emulator.api_headers = {"X-Vcorch-Hook-Secret": HOOK_SECRET}
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
        self._answers[site_id] = answers
        return DialTarget(
            site_id=site_id,
            kind="webrtc",
            address=f"browser-{site_id}",
            display_name=f"Phòng {site_id}",
        )

    async def connect(self, ref: ConferenceRef, target: DialTarget) -> str | None:
        assert self._bridge is not None
        link = await self._bridge.webrtc_join_url(
            ref, target, datetime.now(UTC) + timedelta(hours=1)
        )
        if not self._answers.get(target.site_id, True):
            return None  # nobody at the site opens the link
        occupant = await self.emulator.join(link)
        participant_id = f"site-{target.site_id}"
        self._in_room[participant_id] = (ref.conference_id, occupant)
        return participant_id

    async def remote_leave(self, ref: ConferenceRef, participant_id: str) -> None:
        room, occupant = self._in_room.pop(participant_id)
        self.emulator.leave(room, occupant)

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
        return InboundRequest(
            method="POST",
            path="/hooks/jitsi-contract/events/occupant/joined",
            headers={
                "Content-Type": "application/json",
                "X-Vcorch-Hook-Secret": HOOK_SECRET if authentic else "guess",
            },
            query={},
            body=body,
        )
