"""Bridges: the contract every bridge kind implements, and the kinds vcorch ships.

- ``base``: the :class:`~vcorch.mcu_adapter.base.Bridge` contract, its result types and errors;
- ``retry``: timeout and bounded retries shared by every client;
- ``registry``: configured bridges loaded through the ``vcorch.bridges`` entry points;
- ``simulated``, ``cisco_cms``, ``jitsi``, ``janus``, ``pexip``: one package per bridge kind.
"""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.mcu_adapter.base import LAYOUTS as LAYOUTS
    from vcorch.mcu_adapter.base import MESSAGE_MAX_CHARS as MESSAGE_MAX_CHARS
    from vcorch.mcu_adapter.base import MESSAGE_MAX_SECONDS as MESSAGE_MAX_SECONDS
    from vcorch.mcu_adapter.base import Bridge as Bridge
    from vcorch.mcu_adapter.base import BridgeBusy as BridgeBusy
    from vcorch.mcu_adapter.base import BridgeError as BridgeError
    from vcorch.mcu_adapter.base import BridgeEvent as BridgeEvent
    from vcorch.mcu_adapter.base import BridgeHealth as BridgeHealth
    from vcorch.mcu_adapter.base import BridgeProtocolError as BridgeProtocolError
    from vcorch.mcu_adapter.base import BridgeUnavailable as BridgeUnavailable
    from vcorch.mcu_adapter.base import Capabilities as Capabilities
    from vcorch.mcu_adapter.base import CapacityExceeded as CapacityExceeded
    from vcorch.mcu_adapter.base import ConferenceNotFound as ConferenceNotFound
    from vcorch.mcu_adapter.base import ConferenceRef as ConferenceRef
    from vcorch.mcu_adapter.base import ConferenceSpec as ConferenceSpec
    from vcorch.mcu_adapter.base import DialFailed as DialFailed
    from vcorch.mcu_adapter.base import DialIn as DialIn
    from vcorch.mcu_adapter.base import DialTarget as DialTarget
    from vcorch.mcu_adapter.base import EmitEvents as EmitEvents
    from vcorch.mcu_adapter.base import ListingUnreliable as ListingUnreliable
    from vcorch.mcu_adapter.base import NotSupported as NotSupported
    from vcorch.mcu_adapter.base import Participant as Participant
    from vcorch.mcu_adapter.budget import RequestBudget as RequestBudget
    from vcorch.mcu_adapter.errors import HookUnauthenticated as HookUnauthenticated
    from vcorch.mcu_adapter.errors import MalformedEvents as MalformedEvents
    from vcorch.mcu_adapter.health import BridgeHealthCoordinator as BridgeHealthCoordinator
    from vcorch.mcu_adapter.janus import JanusBridge as JanusBridge
    from vcorch.mcu_adapter.janus import JanusBrowserRoom as JanusBrowserRoom
    from vcorch.mcu_adapter.registry import BridgeRegistry as BridgeRegistry
    from vcorch.mcu_adapter.registry import BridgeStatus as BridgeStatus
    from vcorch.mcu_adapter.routes import EVENT_SINK as EVENT_SINK
    from vcorch.mcu_adapter.routes import REJECTED_SINK as REJECTED_SINK
    from vcorch.mcu_adapter.routes import routes as api_routes
    from vcorch.mcu_adapter.webrtc import Joined as Joined
    from vcorch.mcu_adapter.webrtc import OfferRefused as OfferRefused
    from vcorch.mcu_adapter.webrtc import WebRtcBridge as WebRtcBridge
    from vcorch.mcu_adapter.wiring import builtin_bridge_names as builtin_bridge_names
    from vcorch.mcu_adapter.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "Bridge": ("vcorch.mcu_adapter.base", "Bridge"),
    "BridgeError": ("vcorch.mcu_adapter.base", "BridgeError"),
    "BridgeEvent": ("vcorch.mcu_adapter.base", "BridgeEvent"),
    "EmitEvents": ("vcorch.mcu_adapter.base", "EmitEvents"),
    "BridgeHealth": ("vcorch.mcu_adapter.base", "BridgeHealth"),
    "BridgeHealthCoordinator": ("vcorch.mcu_adapter.health", "BridgeHealthCoordinator"),
    "BridgeProtocolError": ("vcorch.mcu_adapter.base", "BridgeProtocolError"),
    "BridgeRegistry": ("vcorch.mcu_adapter.registry", "BridgeRegistry"),
    "BridgeStatus": ("vcorch.mcu_adapter.registry", "BridgeStatus"),
    "BridgeUnavailable": ("vcorch.mcu_adapter.base", "BridgeUnavailable"),
    "BridgeBusy": ("vcorch.mcu_adapter.base", "BridgeBusy"),
    "DialIn": ("vcorch.mcu_adapter.base", "DialIn"),
    "LAYOUTS": ("vcorch.mcu_adapter.base", "LAYOUTS"),
    "MESSAGE_MAX_CHARS": ("vcorch.mcu_adapter.base", "MESSAGE_MAX_CHARS"),
    "MESSAGE_MAX_SECONDS": ("vcorch.mcu_adapter.base", "MESSAGE_MAX_SECONDS"),
    "ListingUnreliable": ("vcorch.mcu_adapter.base", "ListingUnreliable"),
    "RequestBudget": ("vcorch.mcu_adapter.budget", "RequestBudget"),
    "Capabilities": ("vcorch.mcu_adapter.base", "Capabilities"),
    "CapacityExceeded": ("vcorch.mcu_adapter.base", "CapacityExceeded"),
    "ConferenceNotFound": ("vcorch.mcu_adapter.base", "ConferenceNotFound"),
    "ConferenceRef": ("vcorch.mcu_adapter.base", "ConferenceRef"),
    "ConferenceSpec": ("vcorch.mcu_adapter.base", "ConferenceSpec"),
    "DialFailed": ("vcorch.mcu_adapter.base", "DialFailed"),
    "DialTarget": ("vcorch.mcu_adapter.base", "DialTarget"),
    "EVENT_SINK": ("vcorch.mcu_adapter.routes", "EVENT_SINK"),
    "REJECTED_SINK": ("vcorch.mcu_adapter.routes", "REJECTED_SINK"),
    "HookUnauthenticated": ("vcorch.mcu_adapter.errors", "HookUnauthenticated"),
    "JanusBridge": ("vcorch.mcu_adapter.janus", "JanusBridge"),
    "JanusBrowserRoom": ("vcorch.mcu_adapter.janus", "JanusBrowserRoom"),
    "Joined": ("vcorch.mcu_adapter.webrtc", "Joined"),
    "MalformedEvents": ("vcorch.mcu_adapter.errors", "MalformedEvents"),
    "NotSupported": ("vcorch.mcu_adapter.base", "NotSupported"),
    "OfferRefused": ("vcorch.mcu_adapter.webrtc", "OfferRefused"),
    "Participant": ("vcorch.mcu_adapter.base", "Participant"),
    "WebRtcBridge": ("vcorch.mcu_adapter.webrtc", "WebRtcBridge"),
    "api_routes": ("vcorch.mcu_adapter.routes", "routes"),
    "builtin_bridge_names": ("vcorch.mcu_adapter.wiring", "builtin_bridge_names"),
    "setup": ("vcorch.mcu_adapter.wiring", "setup"),
}
__all__ = [
    "EVENT_SINK",
    "LAYOUTS",
    "MESSAGE_MAX_CHARS",
    "MESSAGE_MAX_SECONDS",
    "REJECTED_SINK",
    "Bridge",
    "BridgeBusy",
    "BridgeError",
    "BridgeEvent",
    "BridgeHealth",
    "BridgeHealthCoordinator",
    "BridgeProtocolError",
    "BridgeRegistry",
    "BridgeStatus",
    "BridgeUnavailable",
    "Capabilities",
    "CapacityExceeded",
    "ConferenceNotFound",
    "ConferenceRef",
    "ConferenceSpec",
    "DialFailed",
    "DialIn",
    "DialTarget",
    "EmitEvents",
    "HookUnauthenticated",
    "JanusBridge",
    "JanusBrowserRoom",
    "Joined",
    "ListingUnreliable",
    "MalformedEvents",
    "NotSupported",
    "OfferRefused",
    "Participant",
    "RequestBudget",
    "WebRtcBridge",
    "api_routes",
    "builtin_bridge_names",
    "setup",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _FACE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    loaded = importlib.import_module(module)
    return loaded if attribute is None else getattr(loaded, attribute)


def __dir__() -> list[str]:
    return __all__
