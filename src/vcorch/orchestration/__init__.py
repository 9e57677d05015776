# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.orchestration.channels import BROWSER_CHANNELS as BROWSER_CHANNELS
    from vcorch.orchestration.channels import CHANNEL_LABELS as CHANNEL_LABELS
    from vcorch.orchestration.channels import CHANNELS as CHANNELS
    from vcorch.orchestration.channels import Channel as Channel
    from vcorch.orchestration.channels import mark_browser as mark_browser
    from vcorch.orchestration.control import ControlNotSupported as ControlNotSupported
    from vcorch.orchestration.dial_in import DialInNotices as DialInNotices
    from vcorch.orchestration.hot_endpoints import MeetingSites as MeetingSites
    from vcorch.orchestration.hot_endpoints import SiteInRun as SiteInRun
    from vcorch.orchestration.live_feed import TooManyStreams as TooManyStreams
    from vcorch.orchestration.models import MeetingRun as MeetingRun
    from vcorch.orchestration.models import RunConference as RunConference
    from vcorch.orchestration.models import RunIncident as RunIncident
    from vcorch.orchestration.models import RunSite as RunSite
    from vcorch.orchestration.operator_mail import queue_mail as queue_mail
    from vcorch.orchestration.operator_mail import site_operators as site_operators
    from vcorch.orchestration.operator_mail import tell_secretariat as tell_secretariat
    from vcorch.orchestration.orchestrator import ACTIVE_RUN as ACTIVE_RUN
    from vcorch.orchestration.orchestrator import Orchestrator as Orchestrator
    from vcorch.orchestration.routes import close_live_streams as close_live_streams
    from vcorch.orchestration.routes import mount_pages as mount_pages
    from vcorch.orchestration.routes import routes as api_routes
    from vcorch.orchestration.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "BROWSER_CHANNELS": ("vcorch.orchestration.channels", "BROWSER_CHANNELS"),
    "CHANNELS": ("vcorch.orchestration.channels", "CHANNELS"),
    "CHANNEL_LABELS": ("vcorch.orchestration.channels", "CHANNEL_LABELS"),
    "Channel": ("vcorch.orchestration.channels", "Channel"),
    "mark_browser": ("vcorch.orchestration.channels", "mark_browser"),
    "ACTIVE_RUN": ("vcorch.orchestration.orchestrator", "ACTIVE_RUN"),
    "ControlNotSupported": ("vcorch.orchestration.control", "ControlNotSupported"),
    "DialInNotices": ("vcorch.orchestration.dial_in", "DialInNotices"),
    "MeetingRun": ("vcorch.orchestration.models", "MeetingRun"),
    "MeetingSites": ("vcorch.orchestration.hot_endpoints", "MeetingSites"),
    "SiteInRun": ("vcorch.orchestration.hot_endpoints", "SiteInRun"),
    "Orchestrator": ("vcorch.orchestration.orchestrator", "Orchestrator"),
    "RunConference": ("vcorch.orchestration.models", "RunConference"),
    "RunIncident": ("vcorch.orchestration.models", "RunIncident"),
    "RunSite": ("vcorch.orchestration.models", "RunSite"),
    "TooManyStreams": ("vcorch.orchestration.live_feed", "TooManyStreams"),
    "api_routes": ("vcorch.orchestration.routes", "routes"),
    "close_live_streams": ("vcorch.orchestration.routes", "close_live_streams"),
    "mount_pages": ("vcorch.orchestration.routes", "mount_pages"),
    "queue_mail": ("vcorch.orchestration.operator_mail", "queue_mail"),
    "setup": ("vcorch.orchestration.wiring", "setup"),
    "site_operators": ("vcorch.orchestration.operator_mail", "site_operators"),
    "tell_secretariat": ("vcorch.orchestration.operator_mail", "tell_secretariat"),
}
__all__ = [
    "ACTIVE_RUN",
    "BROWSER_CHANNELS",
    "CHANNELS",
    "CHANNEL_LABELS",
    "Channel",
    "ControlNotSupported",
    "DialInNotices",
    "MeetingRun",
    "MeetingSites",
    "Orchestrator",
    "RunConference",
    "RunIncident",
    "RunSite",
    "SiteInRun",
    "TooManyStreams",
    "api_routes",
    "close_live_streams",
    "mark_browser",
    "mount_pages",
    "queue_mail",
    "setup",
    "site_operators",
    "tell_secretariat",
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
