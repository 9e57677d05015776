"""Contract harness for the simulated bridge: its far side lives in the same process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

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
from vcorch.mcu_adapter.simulated import SimulatedBridge, SimulatedMcu


@register("simulated")
class SimulatedHarness:
    malformed_push_bodies: tuple[bytes, ...] = ()

    def __init__(self, tmp_path: Path) -> None:
        self.events: list[BridgeEvent] = []
        self._answers: dict[str, bool] = {}
        self._bridge: SimulatedBridge | None = None

    async def _emit(self, bridge: str, events: Sequence[BridgeEvent]) -> None:
        self.events.extend(events)

    async def _endpoint_answers(self, target: DialTarget) -> bool:
        return self._answers.get(target.address, True)

    async def start(self) -> Bridge:
        config = BridgeConfig(
            name="sim-contract",
            type="simulated",
            ports=50,
            timeout_seconds=HARNESS_TIMEOUT,
            retries=HARNESS_RETRIES,
            options={"latency_ms": 2, "answer_delay_ms": 30, "ring_timeout_ms": 300},
        )
        context = BridgeContext(
            http=None,
            clock=lambda: datetime.now(UTC),
            emit=self._emit,
            endpoint_answers=self._endpoint_answers,
        )
        self._bridge = SimulatedBridge(config, context)
        await self._bridge.start()
        return self._bridge

    @property
    def _mcu(self) -> SimulatedMcu:
        assert self._bridge is not None
        return self._bridge.mcu

    async def stop(self) -> None:
        if self._bridge is not None:
            await self._bridge.close()

    def target(self, site_id: str, answers: bool) -> DialTarget:
        address = f"sip:room-{site_id}@127.0.0.1"
        self._answers[address] = answers
        return DialTarget(
            site_id=site_id, kind="sip", address=address, display_name=f"Phòng {site_id}"
        )

    async def connect(self, ref: ConferenceRef, target: DialTarget) -> str | None:
        assert self._bridge is not None
        return (await self._bridge.dial_out(ref, target)).participant_id

    async def remote_leave(self, ref: ConferenceRef, participant_id: str) -> None:
        await self._mcu.hangup(participant_id)

    async def take_down(self) -> None:
        self._mcu.down = True

    async def bring_up(self) -> None:
        self._mcu.down = False

    async def hang(self) -> None:
        self._mcu.hang = True

    async def garbage(self) -> bool:
        return False  # in-process: no wire format to break

    async def heal(self) -> None:
        self._mcu.hang = False

    def hook_request(self, body: bytes, authentic: bool) -> InboundRequest | None:
        return None  # events come through BridgeContext.emit
