"""Attendance: who took part in a meeting, from every bridge's reports, polls, manual entries
and people's check-ins; per-site results and exports (docs/attendance.md)."""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.attendance.checkin_routes import routes as checkin_api_routes
    from vcorch.attendance.errors import CheckInLinkError as CheckInLinkError
    from vcorch.attendance.errors import CheckInLinkExpired as CheckInLinkExpired
    from vcorch.attendance.errors import CheckInLinkInvalid as CheckInLinkInvalid
    from vcorch.attendance.export import Cell as Cell
    from vcorch.attendance.export import safe as spreadsheet_safe
    from vcorch.attendance.export import to_csv as to_csv
    from vcorch.attendance.export import to_xlsx as to_xlsx
    from vcorch.attendance.intervals import Interval as Interval
    from vcorch.attendance.intervals import Observation as Observation
    from vcorch.attendance.intervals import build_timelines as build_timelines
    from vcorch.attendance.loader import RUN_MARGIN as RUN_MARGIN
    from vcorch.attendance.loader import OccurrenceData as OccurrenceData
    from vcorch.attendance.loader import OccurrenceRef as OccurrenceRef
    from vcorch.attendance.loader import chunks as chunks
    from vcorch.attendance.loader import event_report as event_report
    from vcorch.attendance.loader import load_occurrences as load_occurrences
    from vcorch.attendance.mapping import ConferenceRef as ConferenceRef
    from vcorch.attendance.mapping import Report as Report
    from vcorch.attendance.mapping import SiteRef as SiteRef
    from vcorch.attendance.mapping import observations_of_run as observations_of_run
    from vcorch.attendance.models import ManualEntry as ManualEntry
    from vcorch.attendance.models import PolledObservation as PolledObservation
    from vcorch.attendance.outcome import AttendancePolicy as AttendancePolicy
    from vcorch.attendance.report import build_report as build_report
    from vcorch.attendance.report import site_refs as site_refs
    from vcorch.attendance.report import window_of as window_of
    from vcorch.attendance.routes import mount_pages as mount_pages
    from vcorch.attendance.routes import routes as api_routes
    from vcorch.attendance.wiring import setup as setup

_FACE: dict[str, tuple[str, str | None]] = {
    "checkin_api_routes": ("vcorch.attendance.checkin_routes", "routes"),
    "AttendancePolicy": ("vcorch.attendance.outcome", "AttendancePolicy"),
    "Cell": ("vcorch.attendance.export", "Cell"),
    "CheckInLinkError": ("vcorch.attendance.errors", "CheckInLinkError"),
    "CheckInLinkExpired": ("vcorch.attendance.errors", "CheckInLinkExpired"),
    "CheckInLinkInvalid": ("vcorch.attendance.errors", "CheckInLinkInvalid"),
    "ConferenceRef": ("vcorch.attendance.mapping", "ConferenceRef"),
    "Interval": ("vcorch.attendance.intervals", "Interval"),
    "ManualEntry": ("vcorch.attendance.models", "ManualEntry"),
    "Observation": ("vcorch.attendance.intervals", "Observation"),
    "OccurrenceData": ("vcorch.attendance.loader", "OccurrenceData"),
    "OccurrenceRef": ("vcorch.attendance.loader", "OccurrenceRef"),
    "PolledObservation": ("vcorch.attendance.models", "PolledObservation"),
    "RUN_MARGIN": ("vcorch.attendance.loader", "RUN_MARGIN"),
    "Report": ("vcorch.attendance.mapping", "Report"),
    "SiteRef": ("vcorch.attendance.mapping", "SiteRef"),
    "api_routes": ("vcorch.attendance.routes", "routes"),
    "mount_pages": ("vcorch.attendance.routes", "mount_pages"),
    "build_report": ("vcorch.attendance.report", "build_report"),
    "build_timelines": ("vcorch.attendance.intervals", "build_timelines"),
    "chunks": ("vcorch.attendance.loader", "chunks"),
    "event_report": ("vcorch.attendance.loader", "event_report"),
    "load_occurrences": ("vcorch.attendance.loader", "load_occurrences"),
    "observations_of_run": ("vcorch.attendance.mapping", "observations_of_run"),
    "setup": ("vcorch.attendance.wiring", "setup"),
    "site_refs": ("vcorch.attendance.report", "site_refs"),
    "spreadsheet_safe": ("vcorch.attendance.export", "safe"),
    "to_csv": ("vcorch.attendance.export", "to_csv"),
    "to_xlsx": ("vcorch.attendance.export", "to_xlsx"),
    "window_of": ("vcorch.attendance.report", "window_of"),
}
__all__ = [
    "RUN_MARGIN",
    "AttendancePolicy",
    "Cell",
    "CheckInLinkError",
    "CheckInLinkExpired",
    "CheckInLinkInvalid",
    "ConferenceRef",
    "Interval",
    "ManualEntry",
    "Observation",
    "OccurrenceData",
    "OccurrenceRef",
    "PolledObservation",
    "Report",
    "SiteRef",
    "api_routes",
    "build_report",
    "build_timelines",
    "checkin_api_routes",
    "chunks",
    "event_report",
    "load_occurrences",
    "mount_pages",
    "observations_of_run",
    "setup",
    "site_refs",
    "spreadsheet_safe",
    "to_csv",
    "to_xlsx",
    "window_of",
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
