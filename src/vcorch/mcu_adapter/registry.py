"""Configured bridge instances, found through the ``vcorch.bridges`` entry-point group.

A bridge kind is a :class:`~vcorch.mcu_adapter.base.Bridge` subclass registered under its
type name; a configured bridge is one ``[[bridges]]`` entry of the TOML file.  A bridge
that cannot be imported or configured is reported (``broken``) and the others keep working.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points

from vcorch.config import BridgeConfig, ConfigError
from vcorch.mcu_adapter.base import Bridge, BridgeContext, BridgeError, BridgeHealth

ENTRY_POINT_GROUP = "vcorch.bridges"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BridgeStatus:
    """One row of ``GET /api/bridges``. Never holds a credential."""

    name: str
    type: str
    enabled: bool
    loaded: bool  # False: import or configuration failed, see last_error
    healthy: bool | None  # None: not looked at yet
    version: str | None
    ports_total: int | None
    ports_in_use: int | None
    load: float | None
    priority: int
    units: tuple[str, ...]
    last_error: str | None


def _installed_kinds() -> dict[str, Callable[[], object]]:
    return {point.name: point.load for point in entry_points(group=ENTRY_POINT_GROUP)}


class BridgeRegistry:
    """The working bridges by name, plus the broken ones with their reason."""

    def __init__(
        self,
        bridges: Mapping[str, Bridge],
        configs: Mapping[str, BridgeConfig],
        broken: Mapping[str, str],
    ) -> None:
        self._bridges = dict(bridges)
        self._configs = dict(configs)
        self.broken: dict[str, str] = dict(broken)

    def __iter__(self) -> Iterator[Bridge]:
        return iter(self._bridges.values())

    def __len__(self) -> int:
        return len(self._bridges)

    def __contains__(self, name: object) -> bool:
        return name in self._bridges

    def get(self, name: str) -> Bridge | None:
        return self._bridges.get(name)

    def __getitem__(self, name: str) -> Bridge:
        return self._bridges[name]

    def for_unit(self, unit_codes: Sequence[str]) -> list[Bridge]:
        """Bridges that serve any of ``unit_codes`` (a bridge with no units serves all),
        most preferred first: lower ``priority`` first, then name."""
        wanted = set(unit_codes)
        chosen = [
            bridge
            for bridge in self._bridges.values()
            if not bridge.config.units or wanted.intersection(bridge.config.units)
        ]
        return sorted(chosen, key=lambda bridge: (bridge.config.priority, bridge.name))

    async def start(self) -> None:
        """Start every bridge; one that fails to start is moved to ``broken``."""
        results = await asyncio.gather(
            *(bridge.start() for bridge in self._bridges.values()), return_exceptions=True
        )
        for bridge, result in zip(list(self._bridges.values()), results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                reason = _reason(result)
                log.error("bridge %s failed to start: %s", bridge.name, reason)
                self.broken[bridge.name] = reason
                del self._bridges[bridge.name]

    async def close(self) -> None:
        results = await asyncio.gather(
            *(bridge.close() for bridge in self._bridges.values()), return_exceptions=True
        )
        for bridge, result in zip(list(self._bridges.values()), results, strict=True):
            if isinstance(result, Exception):
                log.warning("bridge %s did not close cleanly: %s", bridge.name, _reason(result))

    async def poll_health(self) -> dict[str, BridgeHealth]:
        """Ask every bridge for its health at once; a bridge that raises counts as unreachable.

        Only :class:`~vcorch.mcu_adapter.health.BridgeHealthCoordinator` calls this; everyone
        else reads its snapshot."""
        bridges = list(self._bridges.values())
        results = await asyncio.gather(
            *(bridge.health() for bridge in bridges), return_exceptions=True
        )
        health: dict[str, BridgeHealth] = {}
        for bridge, result in zip(bridges, results, strict=True):
            if isinstance(result, BridgeHealth):
                health[bridge.name] = result
            elif isinstance(result, Exception):
                health[bridge.name] = BridgeHealth(reachable=False, detail=_reason(result))
            else:
                raise result
        return health

    def statuses(self, health: Mapping[str, BridgeHealth]) -> list[BridgeStatus]:
        """Every configured bridge, working or broken, with ``health`` (the last seen), for
        the status page and API."""
        rows: list[BridgeStatus] = []
        for name, config in sorted(self._configs.items()):
            seen = health.get(name)
            loaded = name in self._bridges
            unreachable = seen is not None and not seen.reachable
            rows.append(
                BridgeStatus(
                    name=name,
                    type=config.type,
                    enabled=config.enabled,
                    loaded=loaded,
                    healthy=(seen.reachable if seen else None) if loaded else False,
                    version=seen.version if seen else None,
                    ports_total=seen.ports_total if seen else config.ports,
                    ports_in_use=seen.ports_in_use if seen else None,
                    load=seen.load if seen else None,
                    priority=config.priority,
                    units=tuple(config.units),
                    last_error=self.broken.get(name)
                    or ((seen.detail or "unreachable") if seen and unreachable else None),
                )
            )
        return rows


def _reason(err: BaseException) -> str:
    # BridgeError and ConfigError messages are written to be safe to show; anything else
    # is reduced to its type so that a stray credential in a message cannot leak.
    if isinstance(err, BridgeError):
        return err.reason
    if isinstance(err, ConfigError):
        return str(err)
    if isinstance(err, ImportError | AttributeError):
        return f"cannot load the bridge code ({type(err).__name__}: {err})"
    return f"{type(err).__name__}"


DEFAULT_BRIDGE_NAME = "mo-phong"


def with_default_bridge(configs: Sequence[BridgeConfig]) -> list[BridgeConfig]:
    """The configured bridges, or one simulated bridge when none is configured, so that a
    fresh install (``make run``, the demo) can hold conferences with nothing else set up."""
    if configs:
        return list(configs)
    return [BridgeConfig(name=DEFAULT_BRIDGE_NAME, type="simulated")]


BUILTIN_WEBRTC_NAME = "webrtc"
BUILTIN_WEBRTC_TYPE = "webrtc"
# Last in every preference order: it hosts a meeting only when nothing else can.
BUILTIN_WEBRTC_PRIORITY = 10_000


def with_builtin_webrtc(
    configs: Sequence[BridgeConfig], builtin: BridgeConfig
) -> list[BridgeConfig]:
    """``configs`` plus vcorch's built-in browser bridge (``builtin``), unless a bridge of
    type ``webrtc`` is configured already.  The built-in bridge is not a booking pool: add
    it to the registry, not to the ports booking counts."""
    if any(config.type == BUILTIN_WEBRTC_TYPE for config in configs):
        return list(configs)
    return [*configs, builtin]


def load_bridges(
    configs: Sequence[BridgeConfig],
    context: BridgeContext,
    *,
    kinds: Mapping[str, Callable[[], object]] | None = None,
) -> BridgeRegistry:
    """Build every enabled bridge of ``configs``.

    ``kinds`` maps a type name to a loader returning the bridge class; by default the
    installed entry points (tests pass their own).  Never raises for one bad bridge.
    """
    available = _installed_kinds() if kinds is None else dict(kinds)
    bridges: dict[str, Bridge] = {}
    broken: dict[str, str] = {}
    by_name: dict[str, BridgeConfig] = {}
    for config in configs:
        by_name[config.name] = config
        if not config.enabled:
            continue
        loader = available.get(config.type)
        if loader is None:
            known = ", ".join(sorted(available)) or "none"
            broken[config.name] = f"unknown bridge type {config.type!r} (installed: {known})"
            log.error("bridge %s: %s", config.name, broken[config.name])
            continue
        try:
            kind = loader()
            if isinstance(kind, type) and issubclass(kind, Bridge):
                bridges[config.name] = kind(config, context)
            else:
                broken[config.name] = f"type {config.type!r} does not name a Bridge subclass"
        except Exception as err:
            broken[config.name] = _reason(err)
        if config.name in broken:
            log.error(
                "bridge %s (%s) not loaded: %s", config.name, config.type, broken[config.name]
            )
    return BridgeRegistry(bridges, by_name, broken)
