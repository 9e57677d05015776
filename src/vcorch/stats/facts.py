"""Keeping ``stats_occurrences`` equal to the register, in the register's own transactions.

The booking service tells its listeners of every write inside the writing transaction
(after the occurrences are stored anew); :class:`StatsListener` then rewrites that
meeting's rows from ``meeting_occurrences`` with one ``INSERT ... SELECT`` (the same
statement :func:`insert_facts` runs for the whole register when rebuilding), keeps the
verification of occurrences whose times and mode did not change, and marks the months
whose figures moved as dirty, so that no report ever reads a stale monthly summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.booking import Meeting, MeetingOccurrence, MeetingSite
from vcorch.stats import rules
from vcorch.stats.models import StatsDirtyMonth, StatsOccurrence
from vcorch.stats.periods import month_bounds, month_of, next_month

S = StatsOccurrence
FACT_COLUMNS = (
    "meeting_id",
    "occurrence_key",
    "start_at",
    "end_at",
    "month",
    "unit_id",
    "kind",
    "online",
    "counted",
    "missed",
    "needs_judging",
)
# What a row's figures depend on; a row whose values here did not change moves no month.
SHAPE = ("start_at", "end_at", "month", "unit_id", "kind", "online", "counted", "missed")
VERDICT = (
    "needs_judging",
    "judged_at",
    "verified",
    "basis",
    "sites_invited",
    "sites_connected",
    "peak_sites",
    "sites_attended",
)


def month_boundaries(
    first: datetime, last: datetime, zone: ZoneInfo
) -> tuple[list[int], list[datetime]]:
    """Months from the one holding ``first`` to the one holding ``last``, with their UTC starts."""
    months: list[int] = []
    starts: list[datetime] = []
    current, end = month_of(first, zone), month_of(last, zone)
    while current <= end:
        months.append(current)
        starts.append(month_bounds(current, zone)[0])
        current = next_month(current)
    return months, starts


async def insert_facts(
    session: AsyncSession, zone: ZoneInfo, where: ColumnElement[bool] | None = None
) -> int:
    """Insert the rows of the occurrences matching ``where`` (all when None); how many."""
    span = select(func.min(MeetingOccurrence.start_at), func.max(MeetingOccurrence.start_at))
    if where is not None:
        span = span.where(where)
    first, last = (await session.execute(span)).one()
    if first is None or last is None:
        return 0
    months, starts = month_boundaries(first, last, zone)
    online = rules.online_expr()
    counted = rules.counted_expr()
    source = select(
        MeetingOccurrence.meeting_id,
        MeetingOccurrence.occurrence_key,
        MeetingOccurrence.start_at,
        rules.real_end_expr(),
        rules.month_expr(MeetingOccurrence.start_at, months, starts),
        Meeting.organizer_unit_id,
        Meeting.kind,
        online,
        counted,
        rules.missed_expr(),
        # Judged once it has ended (the refresher only looks at ended ones).
        and_(online, counted),
    ).join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
    if where is not None:
        source = source.where(where)
    result = await session.execute(insert(S).from_select(list(FACT_COLUMNS), source))
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_dirty(session: AsyncSession, months: set[int]) -> None:
    if months:
        await session.execute(insert(StatsDirtyMonth), [{"month": m} for m in sorted(months)])


async def _rows(session: AsyncSession, meeting_id: int) -> dict[datetime, dict[str, Any]]:
    columns = [getattr(S, name) for name in ("occurrence_key", *SHAPE, *VERDICT)]
    found = await session.execute(select(*columns).where(S.meeting_id == meeting_id))
    return {row.occurrence_key: dict(row._mapping) for row in found}


async def rewrite_meeting(session: AsyncSession, meeting_id: int, zone: ZoneInfo) -> set[int]:
    """Store the meeting's rows anew; returns the months marked dirty."""
    old = await _rows(session, meeting_id)
    await session.execute(delete(S).where(S.meeting_id == meeting_id))
    await insert_facts(session, zone, MeetingOccurrence.meeting_id == meeting_id)
    new = await _rows(session, meeting_id)
    kept = []
    dirty: set[int] = set()
    for key in old.keys() | new.keys():
        before, after = old.get(key), new.get(key)
        same_shape = (
            before is not None
            and after is not None
            and all(before[name] == after[name] for name in SHAPE)
        )
        if same_shape and before is not None:
            kept.append({"b_key": key, **{f"b_{name}": before[name] for name in VERDICT}})
            continue
        for row in (before, after):
            if row is not None:
                dirty.add(int(row["month"]))
    if kept:
        statement = (
            update(cast(Table, S.__table__))
            .where(S.meeting_id == meeting_id, S.occurrence_key == bindparam("b_key"))
            .values({name: bindparam(f"b_{name}") for name in VERDICT})
        )
        await session.execute(statement, kept)
    await mark_dirty(session, dirty)
    return dirty


class StatsListener:
    """A booking listener (``BookingService.add_listener``): see the module's docstring."""

    def __init__(self, zone: ZoneInfo) -> None:
        self._zone = zone

    async def meeting_changed(
        self, session: AsyncSession, meeting: Meeting, sites: Sequence[MeetingSite], action: str
    ) -> None:
        await session.flush()
        await rewrite_meeting(session, meeting.id, self._zone)
