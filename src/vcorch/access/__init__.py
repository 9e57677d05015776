"""Who is calling and what they did: roles, principals and unit scope (``principal``), and the
audit log every write records (``audit``). Every package checks against these; ``auth`` makes
principals from tokens."""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.access import audit as audit
    from vcorch.access.models import AuditEntry as AuditEntry
    from vcorch.access.principal import EVERYONE as EVERYONE
    from vcorch.access.principal import STAFF as STAFF
    from vcorch.access.principal import SYSTEM_ACTOR as SYSTEM_ACTOR
    from vcorch.access.principal import USER_ROLES as USER_ROLES
    from vcorch.access.principal import Actor as Actor
    from vcorch.access.principal import Principal as Principal
    from vcorch.access.principal import Role as Role

_FACE: dict[str, tuple[str, str | None]] = {
    "USER_ROLES": ("vcorch.access.principal", "USER_ROLES"),
    "AuditEntry": ("vcorch.access.models", "AuditEntry"),
    "Actor": ("vcorch.access.principal", "Actor"),
    "EVERYONE": ("vcorch.access.principal", "EVERYONE"),
    "Principal": ("vcorch.access.principal", "Principal"),
    "Role": ("vcorch.access.principal", "Role"),
    "STAFF": ("vcorch.access.principal", "STAFF"),
    "SYSTEM_ACTOR": ("vcorch.access.principal", "SYSTEM_ACTOR"),
    "audit": ("vcorch.access.audit", None),
}
__all__ = [
    "EVERYONE",
    "STAFF",
    "SYSTEM_ACTOR",
    "USER_ROLES",
    "Actor",
    "AuditEntry",
    "Principal",
    "Role",
    "audit",
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
