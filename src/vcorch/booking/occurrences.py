"""Stored occurrences: what a series expands to, kept as rows so window queries are exact.

A finite series is stored whole; an open-ended one up to a horizon (``materialized_until``)
and expanded beyond it on demand, so nothing is materialised forever.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from vcorch.booking.recurrence import Series, iter_occurrences

MATERIALIZE_HORIZON = timedelta(days=731)


def occurrence_rows(
    meeting_id: int, series: Series, own_sites: Collection[datetime], now: datetime
) -> tuple[list[dict[str, Any]], datetime | None]:
    """The rows to store for a series and how far they reach (None: every occurrence)."""
    until = None
    if series.is_open_ended:
        until = max(now, series.start) + MATERIALIZE_HORIZON
    rows = []
    for occ in iter_occurrences(series, include_cancelled=True):
        if until is not None and occ.start >= until:
            break
        rows.append(
            {
                "meeting_id": meeting_id,
                "occurrence_key": occ.key,
                "start_at": occ.start,
                "end_at": occ.end,
                "cancelled": occ.cancelled,
                "own_sites": occ.key in own_sites,
            }
        )
    return rows, until
