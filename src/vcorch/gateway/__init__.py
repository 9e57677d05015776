"""The WebRTC-to-SIP gateway: a browser into a SIP-only MCU's conference via Janus' SIP plugin."""

# The public face: what code outside the package may import (loaded on first use).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.gateway.calls import CallRequest as CallRequest
    from vcorch.gateway.calls import GatewayCall as GatewayCall
    from vcorch.gateway.errors import CallRejected as CallRejected
    from vcorch.gateway.errors import CallTimedOut as CallTimedOut
    from vcorch.gateway.errors import GatewayBusy as GatewayBusy
    from vcorch.gateway.errors import GatewayError as GatewayError
    from vcorch.gateway.errors import GatewayUnavailable as GatewayUnavailable
    from vcorch.gateway.errors import OfferNotUsable as OfferNotUsable
    from vcorch.gateway.routes import routes as api_routes
    from vcorch.gateway.service import GatewayRoute as GatewayRoute
    from vcorch.gateway.service import Gateways as Gateways
    from vcorch.gateway.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "CallRejected": ("vcorch.gateway.errors", "CallRejected"),
    "CallRequest": ("vcorch.gateway.calls", "CallRequest"),
    "CallTimedOut": ("vcorch.gateway.errors", "CallTimedOut"),
    "GatewayBusy": ("vcorch.gateway.errors", "GatewayBusy"),
    "GatewayCall": ("vcorch.gateway.calls", "GatewayCall"),
    "GatewayError": ("vcorch.gateway.errors", "GatewayError"),
    "GatewayRoute": ("vcorch.gateway.service", "GatewayRoute"),
    "GatewayUnavailable": ("vcorch.gateway.errors", "GatewayUnavailable"),
    "Gateways": ("vcorch.gateway.service", "Gateways"),
    "OfferNotUsable": ("vcorch.gateway.errors", "OfferNotUsable"),
    "api_routes": ("vcorch.gateway.routes", "routes"),
    "setup": ("vcorch.gateway.wiring", "setup"),
}
__all__ = [
    "CallRejected",
    "CallRequest",
    "CallTimedOut",
    "GatewayBusy",
    "GatewayCall",
    "GatewayError",
    "GatewayRoute",
    "GatewayUnavailable",
    "Gateways",
    "OfferNotUsable",
    "api_routes",
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
