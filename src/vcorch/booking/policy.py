"""What a booking may be: the policy numbers and the statuses that hold resources."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

CLOSED = frozenset({"ended", "cancelled", "missed", "failed"})
HOLDS_RESOURCES = ("scheduled", "live")
ONLINE_MODES = ("online", "hybrid")


@dataclass(frozen=True)
class BookingPolicy:
    setup_buffer: timedelta = timedelta(minutes=15)
    # How far an open-ended series is checked for conflicts when booked.
    horizon: timedelta = timedelta(days=366)
    max_duration: timedelta = timedelta(hours=24)
    # How far a series with an end (UNTIL or COUNT) may run past its start.
    max_series_span: timedelta = timedelta(days=3653)


# A site's approval: only an accepted site holds its room, is dialled and is expected.
ACCEPTED = "accepted"
PENDING = "pending"
DECLINED = "declined"
