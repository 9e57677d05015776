"""Endpoint and bridge health monitoring.

- ``probes``: one probe per endpoint kind (SIP OPTIONS over UDP/TCP, H.323 TCP connect,
  HTTP(S) management interface, WebRTC media through a Janus EchoTest), each returning a
  :class:`~vcorch.monitoring.probes.result.ProbeResult`; ``probes.sip_mux`` carries
  thousands of SIP transactions over one UDP socket for sweeps.
- ``hysteresis``: the pure up/down state machine.
- ``schedule``: pure planning of when each endpoint is next due.
- ``sweep``: one sweep over many endpoints, folding results into state.
- ``meetings``: what monitoring asks the meeting side (which endpoints are hot, which rooms
  have meetings to alert about), as a protocol the meeting side implements.
- ``service``: the monitoring service (``policy``, ``probing`` and ``reads`` are its parts).
"""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.monitoring.meetings import SiteInMeeting as SiteInMeeting
    from vcorch.monitoring.metrics import Metrics as Metrics
    from vcorch.monitoring.metrics import RunMetrics as RunMetrics
    from vcorch.monitoring.probes.result import ProbeResult as ProbeResult
    from vcorch.monitoring.routes import mount_pages as mount_pages
    from vcorch.monitoring.routes import routes as api_routes
    from vcorch.monitoring.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "Metrics": ("vcorch.monitoring.metrics", "Metrics"),
    "ProbeResult": ("vcorch.monitoring.probes.result", "ProbeResult"),
    "RunMetrics": ("vcorch.monitoring.metrics", "RunMetrics"),
    "SiteInMeeting": ("vcorch.monitoring.meetings", "SiteInMeeting"),
    "api_routes": ("vcorch.monitoring.routes", "routes"),
    "mount_pages": ("vcorch.monitoring.routes", "mount_pages"),
    "setup": ("vcorch.monitoring.wiring", "setup"),
}
__all__ = [
    "Metrics",
    "ProbeResult",
    "RunMetrics",
    "SiteInMeeting",
    "api_routes",
    "mount_pages",
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
