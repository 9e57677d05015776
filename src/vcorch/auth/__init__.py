"""auth."""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.auth.errors import AuthenticationFailed as AuthenticationFailed
    from vcorch.auth.errors import AuthError as AuthError
    from vcorch.auth.errors import InvalidToken as InvalidToken
    from vcorch.auth.errors import TooManyAttempts as TooManyAttempts
    from vcorch.auth.models import User as User
    from vcorch.auth.routes import routes as api_routes
    from vcorch.auth.service import AuthService as AuthService
    from vcorch.auth.service import ThrottlePolicy as ThrottlePolicy
    from vcorch.auth.service import account_references as account_references
    from vcorch.auth.service import signing_key as signing_key
    from vcorch.auth.tokens import TokenService as TokenService
    from vcorch.auth.wiring import make_hasher as make_hasher
    from vcorch.auth.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "AuthError": ("vcorch.auth.errors", "AuthError"),
    "AuthService": ("vcorch.auth.service", "AuthService"),
    "AuthenticationFailed": ("vcorch.auth.errors", "AuthenticationFailed"),
    "InvalidToken": ("vcorch.auth.errors", "InvalidToken"),
    "ThrottlePolicy": ("vcorch.auth.service", "ThrottlePolicy"),
    "TokenService": ("vcorch.auth.tokens", "TokenService"),
    "TooManyAttempts": ("vcorch.auth.errors", "TooManyAttempts"),
    "User": ("vcorch.auth.models", "User"),
    "account_references": ("vcorch.auth.service", "account_references"),
    "api_routes": ("vcorch.auth.routes", "routes"),
    "make_hasher": ("vcorch.auth.wiring", "make_hasher"),
    "setup": ("vcorch.auth.wiring", "setup"),
    "signing_key": ("vcorch.auth.service", "signing_key"),
}
__all__ = [
    "AuthError",
    "AuthService",
    "AuthenticationFailed",
    "InvalidToken",
    "ThrottlePolicy",
    "TokenService",
    "TooManyAttempts",
    "User",
    "account_references",
    "api_routes",
    "make_hasher",
    "setup",
    "signing_key",
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
