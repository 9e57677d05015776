"""The simulated bridge: maps :class:`SimulatedMcu` onto the bridge contract.

Options (``[bridges.options]``): ``latency_ms`` (default 20), ``latency_jitter_ms``,
``failure_rate``, ``timeout_rate`` (0..1), ``answer_delay_ms`` (300), ``ring_timeout_ms``
(5000), ``unreachable`` (addresses that never answer when no endpoint registry is wired),
``seed``, ``dial_in`` (a SIP URI template such as ``"sip:{conference}@127.0.0.1:5090"``: the
address a WebRTC-to-SIP gateway calls for a conference; a real SIP party such as baresip
stands in for the MCU's SIP side), ``links_builtin`` (default true: the built-in bridge's
fallback conference is dialled in as one participant, simulated like every other call;
false models an MCU that cannot take it, whose browser sites are then in a separate
room).  Port capacity is ``ports``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from vcorch.config import ConfigError
from vcorch.mcu_adapter.base import (
    Bridge,
    BridgeContext,
    BridgeEvent,
    BridgeHealth,
    BridgeUnavailable,
    Capabilities,
    CapacityExceeded,
    ConferenceNotFound,
    ConferenceRef,
    ConferenceSpec,
    DialFailed,
    DialIn,
    DialTarget,
    NotSupported,
    Participant,
    ParticipantRef,
)
from vcorch.mcu_adapter.retry import RetryPolicy, call_with_retry
from vcorch.mcu_adapter.simulated.mcu import (
    SIM_LAYOUTS,
    SimEvent,
    SimLeg,
    SimMcuError,
    SimSettings,
    SimulatedMcu,
)

if TYPE_CHECKING:
    from vcorch.config import BridgeConfig

T = TypeVar("T")


def _number(options: dict[str, Any], key: str, default: float, name: str) -> float:
    value = options.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"bridges.{name}.options.{key}: not a number: {value!r}") from err
    if number < 0:
        raise ConfigError(f"bridges.{name}.options.{key}: must not be negative")
    return number


def settings_from_config(config: BridgeConfig) -> SimSettings:
    options = config.options
    rates = {}
    for key in ("failure_rate", "timeout_rate"):
        rates[key] = _number(options, key, 0.0, config.name)
        if rates[key] > 1:
            raise ConfigError(f"bridges.{config.name}.options.{key}: must be between 0 and 1")
    seed = options.get("seed")
    return SimSettings(
        latency=_number(options, "latency_ms", 20, config.name) / 1000,
        latency_jitter=_number(options, "latency_jitter_ms", 0, config.name) / 1000,
        failure_rate=rates["failure_rate"],
        timeout_rate=rates["timeout_rate"],
        ports=config.ports,
        answer_delay=_number(options, "answer_delay_ms", 300, config.name) / 1000,
        ring_timeout=_number(options, "ring_timeout_ms", 5000, config.name) / 1000,
        seed=int(seed) if seed is not None else None,
    )


class SimulatedBridge(Bridge):
    """An in-process MCU for the demo, the benchmarks and tests."""

    type_name: ClassVar[str] = "simulated"
    capabilities: Capabilities = Capabilities(
        dial_sip=True,
        dial_h323=True,
        events_pushed=True,
        events_polled=True,
        mute=True,
        disconnect=True,
        cascade=True,
        builtin_link=True,
        dial_in_id=True,
        layout_names=SIM_LAYOUTS,
        mute_all=True,
        lock=True,
        message=True,
    )

    def __init__(self, config: BridgeConfig, context: BridgeContext) -> None:
        super().__init__(config, context)
        unreachable = config.options.get("unreachable", [])
        if not isinstance(unreachable, list):
            raise ConfigError(f"bridges.{config.name}.options.unreachable: must be a list")
        self._unreachable = {str(address) for address in unreachable}
        self._policy = RetryPolicy.from_config(config)
        self._sites: dict[str, str | None] = {}
        dial_in = config.options.get("dial_in")
        if dial_in is not None and (not isinstance(dial_in, str) or not dial_in.startswith("sip")):
            raise ConfigError(f"bridges.{config.name}.options.dial_in: must be a sip: URI")
        self._dial_in: str | None = dial_in
        if dial_in is not None:
            self.capabilities = dataclasses.replace(self.capabilities, sip_dial_in=True)
        links_builtin = config.options.get("links_builtin", True)
        if not isinstance(links_builtin, bool):
            raise ConfigError(f"bridges.{config.name}.options.links_builtin: must be true or false")
        if not links_builtin:
            self.capabilities = dataclasses.replace(self.capabilities, builtin_link=False)
        self.mcu = SimulatedMcu(
            settings_from_config(config),
            clock=context.clock,
            answers=self._endpoint_answers,
            on_event=self._forward,
        )

    async def _endpoint_answers(self, leg: SimLeg) -> bool:
        if leg.address in self._unreachable:
            return False
        ask = self.context.endpoint_answers
        if ask is None:
            return True
        target = DialTarget(
            site_id=leg.site_id or "",
            kind=leg.kind,
            address=leg.address,
            display_name=leg.display_name,
        )
        return await ask(target)

    async def _forward(self, event: SimEvent) -> None:
        if self.context.emit is None:
            return
        leg = event.leg
        await self.context.emit(
            self.name,
            [
                BridgeEvent(
                    kind=event.kind,
                    conference_id=event.conference_id,
                    participant_id=leg.leg_id,
                    at=event.at,
                    event_id=f"{self.name}:{leg.leg_id}:{event.kind}",
                    site_id=leg.site_id,
                    display_name=leg.display_name,
                    address=leg.address,
                    reason=event.reason,
                )
            ],
        )

    async def _call(
        self, what: str, op: Callable[[], Awaitable[T]], *, idempotent: bool = True
    ) -> T:
        try:
            return await call_with_retry(
                op,
                bridge=self.name,
                what=what,
                policy=self._policy,
                idempotent=idempotent,
                transient=_transient,
            )
        except SimMcuError as err:
            raise self._translate(err) from err

    def _translate(self, err: SimMcuError) -> Exception:
        if err.code == "not_found":
            return ConferenceNotFound(self.name, str(err))
        if err.code == "capacity":
            return CapacityExceeded(self.name, str(err))
        if err.code in ("unknown_address", "refused"):
            return DialFailed(self.name, str(err))
        if err.code == "bad_value":
            return NotSupported(self.name, str(err))
        return BridgeUnavailable(self.name, str(err))

    async def close(self) -> None:
        await self.mcu.close()

    async def health(self) -> BridgeHealth:
        policy = RetryPolicy(timeout=self._policy.timeout, retries=0)
        try:
            version, total, in_use = await call_with_retry(
                self.mcu.status, bridge=self.name, what="status", policy=policy, idempotent=True
            )
        except SimMcuError as err:
            return BridgeHealth(reachable=False, detail=str(err))
        except BridgeUnavailable as err:
            return BridgeHealth(reachable=False, detail=err.reason)
        return BridgeHealth(
            reachable=True,
            version=version,
            ports_total=total,
            ports_in_use=in_use,
            load=in_use / total if total else None,
            detail="simulated",
        )

    async def create_conference(self, spec: ConferenceSpec) -> ConferenceRef:
        # Creating is keyed by spec.key on the far side, so repeating it is safe.
        conference_id = await self._call("create", lambda: self.mcu.create(spec.key, spec.title))
        # The address another MCU calls to link to this conference (a cascade).
        dial_in = f"sip:{conference_id}@{self.name}.mcu.invalid"
        return ConferenceRef(
            bridge=self.name,
            conference_id=conference_id,
            extra={"key": spec.key, "dial_in": dial_in},
        )

    async def dial_in_uri(self, ref: ConferenceRef) -> str:
        if self._dial_in is None:
            return await super().dial_in_uri(ref)
        return self._dial_in.replace("{conference}", ref.conference_id)

    async def end_conference(self, ref: ConferenceRef) -> None:
        await self._call("end", lambda: self.mcu.end(ref.conference_id))

    async def dial_in(self, ref: ConferenceRef) -> DialIn:
        # Read off the conference without a simulated API call: the numbers are the
        # conference's own, and a call here would shift the simulated network's failures.
        try:
            conference = self.mcu.peek(ref.conference_id)
        except SimMcuError as err:
            raise self._translate(err) from err
        return DialIn(
            number=conference.number,
            pin=conference.pin or None,
            uri=self._dial_in.replace("{conference}", ref.conference_id)
            if self._dial_in is not None
            else None,
        )

    async def set_layout(self, ref: ConferenceRef, layout: str) -> None:
        if layout not in self.capabilities.layout_names:
            raise NotSupported(self.name, f"no layout {layout!r} here")
        await self._call("layout", lambda: self.mcu.set_layout(ref.conference_id, layout))

    async def mute_all(self, ref: ConferenceRef, muted: bool) -> None:
        await self._call("mute-all", lambda: self.mcu.mute_all(ref.conference_id, muted))

    async def lock(self, ref: ConferenceRef, locked: bool) -> None:
        await self._call("lock", lambda: self.mcu.set_locked(ref.conference_id, locked))

    async def show_message(self, ref: ConferenceRef, text: str, seconds: int) -> None:
        await self._call("message", lambda: self.mcu.show_message(ref.conference_id, text, seconds))

    async def dial_out(self, ref: ConferenceRef, target: DialTarget) -> ParticipantRef:
        if target.kind == "webrtc":
            raise NotSupported(self.name, "the simulated bridge cannot call WebRTC endpoints")
        try:
            leg_id = await self._call(
                "dial",
                lambda: self.mcu.dial(
                    ref.conference_id,
                    target.address,
                    target.kind,
                    target.display_name,
                    target.site_id,
                ),
                idempotent=False,
            )
        except DialFailed as err:
            raise DialFailed(self.name, err.reason, site_id=target.site_id) from err
        return ParticipantRef(conference_id=ref.conference_id, participant_id=leg_id)

    async def cascade(
        self, ref: ConferenceRef, remote: ConferenceRef, remote_address: str
    ) -> ParticipantRef:
        leg_id = await self._call(
            "link",
            lambda: self.mcu.link(ref.conference_id, remote_address, f"cascade {remote.bridge}"),
            idempotent=False,
        )
        return ParticipantRef(conference_id=ref.conference_id, participant_id=leg_id)

    async def participants(self, ref: ConferenceRef) -> list[Participant]:
        legs = await self._call("list", lambda: self.mcu.legs(ref.conference_id))
        return [
            Participant(
                participant_id=leg.leg_id,
                display_name=leg.display_name,
                address=leg.address,
                site_id=leg.site_id,
                connected=leg.state == "connected",
                muted=leg.muted,
                joined_at=leg.joined_at,
                incoming=leg.incoming,
            )
            for leg in legs
        ]

    async def disconnect(self, ref: ConferenceRef, participant_id: str) -> None:
        await self._call("disconnect", lambda: self.mcu.drop(ref.conference_id, participant_id))

    async def mute(self, ref: ConferenceRef, participant_id: str, muted: bool) -> None:
        await self._call(
            "mute", lambda: self.mcu.set_mute(ref.conference_id, participant_id, muted)
        )


def _transient(err: BaseException) -> bool:
    return isinstance(err, SimMcuError) and err.code in ("failure", "down")
