"""Stored occurrences: what a series expands to, kept as rows so window queries are exact.

Occurrences are stored up to a horizon (``materialized_until``) two years ahead and rolled
forward by the scheduler; a series that ends before the horizon is stored whole
(``materialized_until`` NULL).  So the rows one booking writes are bounded whatever its
rule says (a stored series may predate the limit on how far a series may run).
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
    until = max(now, series.start) + MATERIALIZE_HORIZON
    rows = []
    for occ in iter_occurrences(series, include_cancelled=True):
        if occ.start >= until:
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
    else:
        return rows, None  # the series ended before the horizon: every occurrence is stored
    return rows, until
