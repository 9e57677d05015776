# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.calendars.invitations import DialInMail as DialInMail
    from vcorch.calendars.invitations import dial_in_lines as dial_in_lines
    from vcorch.calendars.routes import routes as api_routes
    from vcorch.calendars.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "DialInMail": ("vcorch.calendars.invitations", "DialInMail"),
    "api_routes": ("vcorch.calendars.routes", "routes"),
    "dial_in_lines": ("vcorch.calendars.invitations", "dial_in_lines"),
    "setup": ("vcorch.calendars.wiring", "setup"),
}
__all__ = [
    "DialInMail",
    "api_routes",
    "dial_in_lines",
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
