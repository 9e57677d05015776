"""Tables of the online-share statistics: one row per occurrence, a monthly summary, and
what keeps them current.

``stats_occurrences`` copies, per stored occurrence, exactly what the statistics count
(organiser, kind, declared mode, whether it is in the register, missed, verified) so that
a report is a ``GROUP BY`` over one narrow table instead of a join of the register, the
runs and the bridges' records.  ``stats_monthly`` sums it per (local month, organising
unit, kind) so that a year is at most 12 x units x 4 rows, whatever the number of
meetings (benchmarks/stats.py).  Both are derived data: they can be rebuilt from the
register at any time (:meth:`StatsRefresher.rebuild`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vcorch.db import Base, UtcDateTime, clock_now


class StatsOccurrence(Base):
    """One occurrence as the statistics see it (see :mod:`vcorch.stats.rules`)."""

    __tablename__ = "stats_occurrences"
    __table_args__ = (
        UniqueConstraint("meeting_id", "occurrence_key"),
        Index("ix_stats_occurrences_month", "month", "unit_id"),
        Index("ix_stats_occurrences_start", "start_at"),
        Index("ix_stats_occurrences_end", "end_at"),
        Index("ix_stats_occurrences_judging", "needs_judging", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    occurrence_key: Mapped[datetime] = mapped_column(UtcDateTime)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The local month of the start in the programme's zone, as yyyymm (202603).
    month: Mapped[int] = mapped_column(Integer)
    # The organising unit (no foreign key: derived data, removed with its meeting).
    unit_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    # Declared online: the meeting's mode is online or hybrid.
    online: Mapped[bool] = mapped_column(Boolean)
    # In the register: not cancelled, not a draft (see rules.counted).
    counted: Mapped[bool] = mapped_column(Boolean)
    missed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the occurrence must be (re)judged from the bridges' records.
    needs_judging: Mapped[bool] = mapped_column(Boolean, default=False)
    judged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the judgement saw: run (vcorch ran it), link (records linked by hand), none.
    basis: Mapped[str | None] = mapped_column(String(8))
    sites_invited: Mapped[int] = mapped_column(Integer, default=0)
    sites_connected: Mapped[int] = mapped_column(Integer, default=0)
    peak_sites: Mapped[int] = mapped_column(Integer, default=0)
    # Sites not absent by the attendance rules (manual entries included).
    sites_attended: Mapped[int] = mapped_column(Integer, default=0)


class StatsMonthly(Base):
    """Sums of ``stats_occurrences`` per local month, organising unit and kind, as of
    ``StatsState.refreshed_at`` (held = ended by then)."""

    __tablename__ = "stats_monthly"

    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    held: Mapped[int] = mapped_column(Integer, default=0)
    declared_online: Mapped[int] = mapped_column(Integer, default=0)
    verified_online: Mapped[int] = mapped_column(Integer, default=0)
    verification_pending: Mapped[int] = mapped_column(Integer, default=0)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    booked_online: Mapped[int] = mapped_column(Integer, default=0)
    sites_invited: Mapped[int] = mapped_column(Integer, default=0)
    sites_attended: Mapped[int] = mapped_column(Integer, default=0)


class StatsDirtyMonth(Base):
    """A month whose summary no longer matches ``stats_occurrences`` (written in the same
    transaction as the change); reports count such months from the occurrences."""

    __tablename__ = "stats_dirty_months"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, index=True)


class StatsState(Base):
    """How far the summary has got: as of when, in which zone, which records were seen."""

    __tablename__ = "stats_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    refreshed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The last bridge event, polled observation and manual entry looked at.
    event_cursor: Mapped[int] = mapped_column(Integer, default=0)
    observation_cursor: Mapped[int] = mapped_column(Integer, default=0)
    entry_cursor: Mapped[int] = mapped_column(Integer, default=0)


class ConferenceLink(Base):
    """A bridge's conference named as one occurrence of a meeting recorded after the fact,
    so that its stored join/leave records can show that the meeting ran online."""

    __tablename__ = "stats_conference_links"
    __table_args__ = (
        UniqueConstraint("bridge", "conference_id"),
        Index("ix_stats_conference_links_occurrence", "meeting_id", "occurrence_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    occurrence_key: Mapped[datetime] = mapped_column(UtcDateTime)
    bridge: Mapped[str] = mapped_column(String(64))
    conference_id: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
