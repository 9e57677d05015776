"""A stored meeting (with its overrides) read back as a recurrence series."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from vcorch.booking.policy import BookingPolicy
from vcorch.booking.recurrence import OccurrenceOverride, Series, iter_occurrences, parse_series


class SeriesFields(Protocol):
    """What a series is made of: a Meeting, or a plain row with the same columns."""

    start_at: datetime
    end_at: datetime
    timezone: str
    rrule: str | None
    exdates: list[str]


class OverrideFields(Protocol):
    occurrence_key: datetime
    start_at: datetime | None
    end_at: datetime | None
    cancelled: bool
    sites: list[dict[str, Any]] | None


def series_of(
    meeting: SeriesFields, overrides: Iterable[OverrideFields], policy: BookingPolicy
) -> Series:
    return parse_series(
        start=meeting.start_at,
        end=meeting.end_at,
        timezone=meeting.timezone,
        rrule=meeting.rrule,
        exdates=[datetime.fromisoformat(d) for d in meeting.exdates or []],
        overrides=[
            OccurrenceOverride(
                occurrence_key=o.occurrence_key,
                start=o.start_at,
                end=o.end_at,
                cancelled=o.cancelled,
                site_ids=tuple(int(s["room_id"]) for s in o.sites) if o.sites is not None else None,
            )
            for o in overrides
        ],
        max_duration=policy.max_duration,
    )


def span(series: Series) -> tuple[datetime, datetime | None]:
    """First start and last end over all occurrences (None: open-ended)."""
    first = next(iter_occurrences(series, include_cancelled=True))
    if series.is_open_ended:
        return first.start, None
    last_end = max(occ.end for occ in iter_occurrences(series, include_cancelled=True))
    return min(first.start, series.start), last_end
