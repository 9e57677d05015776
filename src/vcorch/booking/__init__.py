# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.booking import schemas as schemas
    from vcorch.booking.errors import BookingConflict as BookingConflict
    from vcorch.booking.errors import MeetingClosed as MeetingClosed
    from vcorch.booking.errors import PreconditionRequired as PreconditionRequired
    from vcorch.booking.errors import SiteNotRequested as SiteNotRequested
    from vcorch.booking.errors import StaleVersion as StaleVersion
    from vcorch.booking.models import Meeting as Meeting
    from vcorch.booking.models import MeetingOccurrence as MeetingOccurrence
    from vcorch.booking.models import MeetingOverride as MeetingOverride
    from vcorch.booking.models import MeetingSite as MeetingSite
    from vcorch.booking.policy import ACCEPTED as ACCEPTED
    from vcorch.booking.recurrence import between as between
    from vcorch.booking.recurrence import occurrence_key_text as occurrence_key_text
    from vcorch.booking.routes import mount_pages as mount_pages
    from vcorch.booking.routes import routes as api_routes
    from vcorch.booking.schemas import StrictModel as StrictModel
    from vcorch.booking.service import BookingPolicy as BookingPolicy
    from vcorch.booking.service import BookingService as BookingService
    from vcorch.booking.service import series_of as series_of
    from vcorch.booking.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "ACCEPTED": ("vcorch.booking.policy", "ACCEPTED"),
    "BookingConflict": ("vcorch.booking.errors", "BookingConflict"),
    "BookingPolicy": ("vcorch.booking.service", "BookingPolicy"),
    "BookingService": ("vcorch.booking.service", "BookingService"),
    "Meeting": ("vcorch.booking.models", "Meeting"),
    "MeetingClosed": ("vcorch.booking.errors", "MeetingClosed"),
    "MeetingOccurrence": ("vcorch.booking.models", "MeetingOccurrence"),
    "MeetingOverride": ("vcorch.booking.models", "MeetingOverride"),
    "MeetingSite": ("vcorch.booking.models", "MeetingSite"),
    "PreconditionRequired": ("vcorch.booking.errors", "PreconditionRequired"),
    "SiteNotRequested": ("vcorch.booking.errors", "SiteNotRequested"),
    "StaleVersion": ("vcorch.booking.errors", "StaleVersion"),
    "StrictModel": ("vcorch.booking.schemas", "StrictModel"),
    "api_routes": ("vcorch.booking.routes", "routes"),
    "mount_pages": ("vcorch.booking.routes", "mount_pages"),
    "between": ("vcorch.booking.recurrence", "between"),
    "occurrence_key_text": ("vcorch.booking.recurrence", "occurrence_key_text"),
    "schemas": ("vcorch.booking.schemas", None),
    "series_of": ("vcorch.booking.service", "series_of"),
    "setup": ("vcorch.booking.wiring", "setup"),
}
__all__ = [
    "ACCEPTED",
    "BookingConflict",
    "BookingPolicy",
    "BookingService",
    "Meeting",
    "MeetingClosed",
    "MeetingOccurrence",
    "MeetingOverride",
    "MeetingSite",
    "PreconditionRequired",
    "SiteNotRequested",
    "StaleVersion",
    "StrictModel",
    "api_routes",
    "between",
    "mount_pages",
    "occurrence_key_text",
    "schemas",
    "series_of",
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
