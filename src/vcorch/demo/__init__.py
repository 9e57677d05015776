"""The demo: a meeting a few minutes ahead on the simulated MCU in which one site falls back,
and the log line that hands out that site's browser link.

- ``meeting``: books the demo meeting (``vcorch demo``), one ahead at a time;
- ``wiring``: in the running service, logs the browser link of a demo meeting's site that
  falls back (only the demo's meetings: the link is a credential).
"""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.demo.meeting import DEMO_REF as DEMO_REF
    from vcorch.demo.meeting import book_demo_meeting as book_demo_meeting
    from vcorch.demo.routes import DEMO as DEMO
    from vcorch.demo.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "DEMO": ("vcorch.demo.routes", "DEMO"),
    "DEMO_REF": ("vcorch.demo.meeting", "DEMO_REF"),
    "book_demo_meeting": ("vcorch.demo.meeting", "book_demo_meeting"),
    "setup": ("vcorch.demo.wiring", "setup"),
}
__all__ = ["DEMO", "DEMO_REF", "book_demo_meeting", "setup"]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _FACE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    loaded = importlib.import_module(module)
    return loaded if attribute is None else getattr(loaded, attribute)


def __dir__() -> list[str]:
    return __all__
