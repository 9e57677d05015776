"""Wires the bridges: the configured ones (or the simulated MCU), the built-in browser bridge,
the one poller of their health, and the hook through which the simulated MCU asks whether a
site would answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from vcorch.config import BridgeConfig, Settings
from vcorch.mcu_adapter.base import BridgeContext, DialTarget, EmitEvents, EndpointAnswers
from vcorch.mcu_adapter.health import BridgeHealthCoordinator
from vcorch.mcu_adapter.registry import (
    BUILTIN_WEBRTC_NAME,
    BUILTIN_WEBRTC_PRIORITY,
    BUILTIN_WEBRTC_TYPE,
    BridgeRegistry,
    load_bridges,
    with_builtin_webrtc,
    with_default_bridge,
)
from vcorch.mcu_adapter.routes import BRIDGE_HEALTH, REGISTRY
from vcorch.mcu_adapter.webrtc.adapter import builtin_config_options
from vcorch.runtime import Runtime

__all__ = [
    "BRIDGE_HEALTH_SECONDS",
    "Bridges",
    "EndpointAnswersHook",
    "builtin_bridge_names",
    "configured_bridges",
    "setup",
]

BRIDGE_HEALTH_SECONDS = 30.0


def configured_bridges(settings: Settings) -> list[BridgeConfig]:
    """The bridges booking counts on: as configured, or the in-process simulated MCU."""
    return with_default_bridge(settings.bridges)


def builtin_bridge_names(settings: Settings) -> frozenset[str]:
    """Bridges that host browsers only (vcorch's own): a site there took part by browser."""
    return frozenset(
        {BUILTIN_WEBRTC_NAME} | {c.name for c in settings.bridges if c.type == BUILTIN_WEBRTC_TYPE}
    )


def builtin_webrtc_config(settings: Settings) -> BridgeConfig:
    """vcorch's own browser bridge, always there (unless a ``webrtc`` bridge is configured)."""
    return BridgeConfig(
        name=BUILTIN_WEBRTC_NAME,
        type=BUILTIN_WEBRTC_TYPE,
        ports=settings.webrtc_max_participants,
        priority=BUILTIN_WEBRTC_PRIORITY,
        options=builtin_config_options(
            max_per_conference=settings.webrtc_max_per_conference,
            video_width=settings.webrtc_video_max_width,
            video_height=settings.webrtc_video_max_height,
            video_fps=settings.webrtc_video_max_fps,
            host_addresses=settings.webrtc_host_addresses,
            stun_urls=settings.webrtc_bridge_stun_urls,
        ),
    )


class EndpointAnswersHook:
    """Whether a dialled target would answer, as the simulated MCU asks it.

    The bridges are set up before endpoint health (which sits above them), so the answer is
    filled in afterwards by a setup that knows both (monitoring's); until then every target
    answers, as a network without health would.
    """

    def __init__(self) -> None:
        self._ask: EndpointAnswers | None = None

    def answer_with(self, ask: EndpointAnswers) -> None:
        self._ask = ask

    async def __call__(self, target: DialTarget) -> bool:
        if self._ask is None:
            return True
        return await self._ask(target)


@dataclass(frozen=True)
class Bridges:
    registry: BridgeRegistry
    health: BridgeHealthCoordinator
    # What booking counts ports on: the configured bridges, without the built-in one.
    configured: list[BridgeConfig]
    # Filled in by monitoring's setup: the simulated MCU's "does this site answer?".
    endpoint_answers: EndpointAnswersHook


async def setup(
    runtime: Runtime,
    *,
    emit: EmitEvents,
) -> Bridges:
    # The built-in browser bridge joins the registry but not the booking pools: it hosts
    # only what falls back.
    configured = configured_bridges(runtime.settings)
    answers = EndpointAnswersHook()
    registry = load_bridges(
        with_builtin_webrtc(configured, builtin_webrtc_config(runtime.settings)),
        BridgeContext(http=runtime.http, clock=runtime.clock, emit=emit, endpoint_answers=answers),
    )
    await registry.start()
    runtime.on_close(registry.close)
    runtime.provide(REGISTRY, registry)
    # The one poller of the bridges' health; the leader runs it, every reader shares it.
    health = BridgeHealthCoordinator(
        registry, clock=runtime.clock, max_age=timedelta(seconds=BRIDGE_HEALTH_SECONDS)
    )
    runtime.provide(BRIDGE_HEALTH, health)
    runtime.leader_work.append(health.run_forever)
    return Bridges(registry, health, configured, answers)
