"""Database plumbing shared by every package: the declarative base, engines, migrations."""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.db.base import Base as Base
    from vcorch.db.base import UtcDateTime as UtcDateTime
    from vcorch.db.base import clock_now as clock_now
    from vcorch.db.base import utcnow as utcnow
    from vcorch.db.engine import make_engine as make_engine
    from vcorch.db.engine import make_sessionmaker as make_sessionmaker
    from vcorch.db.errors import database_unavailable as database_unavailable
    from vcorch.db.migrate import current_revision as current_revision
    from vcorch.db.migrate import head_revision as head_revision
    from vcorch.db.migrate import upgrade as upgrade

_FACE: dict[str, tuple[str, str | None]] = {
    "Base": ("vcorch.db.base", "Base"),
    "UtcDateTime": ("vcorch.db.base", "UtcDateTime"),
    "current_revision": ("vcorch.db.migrate", "current_revision"),
    "database_unavailable": ("vcorch.db.errors", "database_unavailable"),
    "head_revision": ("vcorch.db.migrate", "head_revision"),
    "make_engine": ("vcorch.db.engine", "make_engine"),
    "make_sessionmaker": ("vcorch.db.engine", "make_sessionmaker"),
    "upgrade": ("vcorch.db.migrate", "upgrade"),
    "clock_now": ("vcorch.db.base", "clock_now"),
    "utcnow": ("vcorch.db.base", "utcnow"),
}
__all__ = [
    "Base",
    "UtcDateTime",
    "clock_now",
    "current_revision",
    "database_unavailable",
    "head_revision",
    "make_engine",
    "make_sessionmaker",
    "upgrade",
    "utcnow",
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
