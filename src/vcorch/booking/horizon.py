"""Stored occurrences: written anew with every booking, rolled forward for open-ended series."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.booking.models import Meeting, MeetingOccurrence, MeetingOverride
from vcorch.booking.occurrences import MATERIALIZE_HORIZON, occurrence_rows
from vcorch.booking.policy import BookingPolicy
from vcorch.booking.recurrence import Series
from vcorch.booking.series import series_of


async def materialize(
    session: AsyncSession,
    meeting: Meeting,
    series: Series,
    overrides: Sequence[MeetingOverride],
    now: datetime,
) -> None:
    """Store the meeting's occurrences anew (called in every writing transaction)."""
    await session.execute(
        delete(MeetingOccurrence).where(MeetingOccurrence.meeting_id == meeting.id)
    )
    rows, until = occurrence_rows(
        meeting.id,
        series,
        {o.occurrence_key for o in overrides if o.sites is not None},
        now,
    )
    if rows:
        await session.execute(insert(MeetingOccurrence), rows)
    meeting.materialized_until = until


async def roll_horizon(
    sessions: async_sessionmaker[AsyncSession],
    policy: BookingPolicy,
    clock: Callable[[], datetime],
    now: datetime,
    *,
    margin: timedelta = timedelta(days=30),
) -> int:
    """Store further occurrences of open-ended series whose stored ones run out within
    ``margin``; the scheduler calls this so that it always finds them.  Returns how many
    series were extended."""
    async with sessions.begin() as session:
        meetings = list(
            (
                await session.execute(
                    select(Meeting).where(
                        Meeting.materialized_until.is_not(None),
                        Meeting.materialized_until < now + MATERIALIZE_HORIZON - margin,
                        Meeting.status == "scheduled",
                    )
                )
            ).scalars()
        )
        for meeting in meetings:
            overrides = list(
                (
                    await session.execute(
                        select(MeetingOverride).where(MeetingOverride.meeting_id == meeting.id)
                    )
                ).scalars()
            )
            series = series_of(meeting, overrides, policy)
            await materialize(session, meeting, series, overrides, clock())
        return len(meetings)
