"""The WebRTC fallback's edge: join links resolved, ICE servers, the join page, WHIP signalling."""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.join.errors import BridgeFull as BridgeFull
    from vcorch.join.errors import BuiltinBridgeMissing as BuiltinBridgeMissing
    from vcorch.join.errors import GatewayUnavailable as GatewayUnavailable
    from vcorch.join.errors import JoinElsewhere as JoinElsewhere
    from vcorch.join.errors import JoinLinkError as JoinLinkError
    from vcorch.join.errors import LinkExpired as LinkExpired
    from vcorch.join.errors import LinkInvalid as LinkInvalid
    from vcorch.join.errors import MeetingNotLive as MeetingNotLive
    from vcorch.join.errors import OfferRejected as OfferRejected
    from vcorch.join.routes import routes as api_routes
    from vcorch.join.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "BridgeFull": ("vcorch.join.errors", "BridgeFull"),
    "BuiltinBridgeMissing": ("vcorch.join.errors", "BuiltinBridgeMissing"),
    "GatewayUnavailable": ("vcorch.join.errors", "GatewayUnavailable"),
    "JoinElsewhere": ("vcorch.join.errors", "JoinElsewhere"),
    "JoinLinkError": ("vcorch.join.errors", "JoinLinkError"),
    "LinkExpired": ("vcorch.join.errors", "LinkExpired"),
    "LinkInvalid": ("vcorch.join.errors", "LinkInvalid"),
    "MeetingNotLive": ("vcorch.join.errors", "MeetingNotLive"),
    "OfferRejected": ("vcorch.join.errors", "OfferRejected"),
    "api_routes": ("vcorch.join.routes", "routes"),
    "setup": ("vcorch.join.wiring", "setup"),
}
__all__ = [
    "BridgeFull",
    "BuiltinBridgeMissing",
    "GatewayUnavailable",
    "JoinElsewhere",
    "JoinLinkError",
    "LinkExpired",
    "LinkInvalid",
    "MeetingNotLive",
    "OfferRejected",
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
