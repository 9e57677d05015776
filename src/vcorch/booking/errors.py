"""Errors the booking package raises on purpose; ``problem_types.py`` maps them to HTTP."""

from __future__ import annotations

from typing import Any

from vcorch.errors import Conflict, InvalidInput, PreconditionRequired, StaleVersion

# Kept under the booking face too: they were born here and meetings raise them most.
__all__ = [
    "BookingConflict",
    "InvalidSchedule",
    "MeetingClosed",
    "PreconditionRequired",
    "SiteNotRequested",
    "StaleVersion",
]


class InvalidSchedule(InvalidInput):
    """A meeting's time, zone, recurrence rule or exceptions are refused.

    Each :class:`~vcorch.errors.FieldProblem` names the offending field (``start``, ``end``,
    ``timezone``, ``rrule``, ``exdates``, ``overrides``, ``from``, ``to``) and says why.
    """


class BookingConflict(Conflict):
    """The booking clashes with others: rooms or endpoints taken, or bridge ports exhausted.

    ``clashes`` lists each clash (meeting, room or endpoint, time) for the 409 body.
    """

    code = "booking-conflict"

    def __init__(self, detail: str, clashes: list[dict[str, Any]]) -> None:
        super().__init__(detail)
        self.extra = {"clashes": clashes}


class MeetingClosed(Conflict):
    """The meeting has ended, was cancelled or failed: it can no longer be changed."""

    code = "meeting-closed"


class SiteNotRequested(Conflict):
    """The site's room lies in the organiser's own units: it was never a request, and the
    organiser changes it by changing the meeting."""

    code = "site-not-requested"
