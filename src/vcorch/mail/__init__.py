# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.mail.errors import MailDeliveryError as MailDeliveryError
    from vcorch.mail.errors import MailError as MailError
    from vcorch.mail.errors import PartialDelivery as PartialDelivery
    from vcorch.mail.mailer import named_address as named_address
    from vcorch.mail.models import OutboxMail as OutboxMail
    from vcorch.mail.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "MailDeliveryError": ("vcorch.mail.errors", "MailDeliveryError"),
    "MailError": ("vcorch.mail.errors", "MailError"),
    "OutboxMail": ("vcorch.mail.models", "OutboxMail"),
    "PartialDelivery": ("vcorch.mail.errors", "PartialDelivery"),
    "named_address": ("vcorch.mail.mailer", "named_address"),
    "setup": ("vcorch.mail.wiring", "setup"),
}
__all__ = [
    "MailDeliveryError",
    "MailError",
    "OutboxMail",
    "PartialDelivery",
    "named_address",
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
