"""rooms."""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.rooms.demo import load_demo as load_demo
    from vcorch.rooms.demo_data import SILENT_UNIT as SILENT_UNIT
    from vcorch.rooms.errors import DuplicateCode as DuplicateCode
    from vcorch.rooms.errors import UnitTreeError as UnitTreeError
    from vcorch.rooms.models import Endpoint as Endpoint
    from vcorch.rooms.models import Room as Room
    from vcorch.rooms.models import Unit as Unit
    from vcorch.rooms.models import UnitLevel as UnitLevel
    from vcorch.rooms.routes import routes as api_routes
    from vcorch.rooms.schemas import Zone as Zone
    from vcorch.rooms.service import RoomsService as RoomsService
    from vcorch.rooms.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "DuplicateCode": ("vcorch.rooms.errors", "DuplicateCode"),
    "Endpoint": ("vcorch.rooms.models", "Endpoint"),
    "Room": ("vcorch.rooms.models", "Room"),
    "RoomsService": ("vcorch.rooms.service", "RoomsService"),
    "SILENT_UNIT": ("vcorch.rooms.demo_data", "SILENT_UNIT"),
    "Unit": ("vcorch.rooms.models", "Unit"),
    "UnitLevel": ("vcorch.rooms.models", "UnitLevel"),
    "UnitTreeError": ("vcorch.rooms.errors", "UnitTreeError"),
    "Zone": ("vcorch.rooms.schemas", "Zone"),
    "api_routes": ("vcorch.rooms.routes", "routes"),
    "load_demo": ("vcorch.rooms.demo", "load_demo"),
    "setup": ("vcorch.rooms.wiring", "setup"),
}
__all__ = [
    "SILENT_UNIT",
    "DuplicateCode",
    "Endpoint",
    "Room",
    "RoomsService",
    "Unit",
    "UnitLevel",
    "UnitTreeError",
    "Zone",
    "api_routes",
    "load_demo",
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
