"""Tables of attendance: polled observations, manual entries, roster, check-ins, headcounts.

Pushed joins and leaves stay in ``bridge_events`` (stored once by the hook); what is kept
here is what attendance adds.  An occurrence is named as everywhere else by
``(meeting_id, occurrence_key)``, so that in-person meetings (which never get a run) have
attendance too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vcorch.db import Base, UtcDateTime, clock_now


class PolledObservation(Base):
    """A join or leave the poll of a conference's participant list showed that no stored
    report had said (a pushed event lost on the way, or not sent at all)."""

    __tablename__ = "attendance_observations"
    __table_args__ = (
        UniqueConstraint("run_id", "dedupe_key"),
        Index("ix_attendance_observations_run", "run_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("meeting_runs.id", ondelete="CASCADE"))
    bridge: Mapped[str] = mapped_column(String(64))
    conference_id: Mapped[str] = mapped_column(String(255))
    participant_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(16), default="polled")
    site_tag: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(500))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)


class ManualEntry(Base):
    """An operator's statement that a site took part (in person, or when its bridge lost
    the records) from ``start_at`` to ``end_at``.  Retracted, never deleted."""

    __tablename__ = "attendance_entries"
    __table_args__ = (Index("ix_attendance_entries_occurrence", "meeting_id", "occurrence_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    occurrence_key: Mapped[datetime] = mapped_column(UtcDateTime)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    # in_person | room_system | browser | gateway | dial_in (webrtc_fallback: an older
    # spelling of browser, read as browser)
    channel: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    retracted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retracted_by: Mapped[str | None] = mapped_column(String(128))


class RosterEntry(Base):
    """A person expected at a meeting (a training's trainees, a conference's delegates)."""

    __tablename__ = "attendance_roster"
    __table_args__ = (UniqueConstraint("meeting_id", "person_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    full_name: Mapped[str] = mapped_column(String(255))
    unit_name: Mapped[str | None] = mapped_column(String(255))
    position: Mapped[str | None] = mapped_column(String(255))
    # The room the person is expected at, when known.
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"), index=True)
    # Folded name and unit: "Nguyễn Văn A" and "nguyen van a" are one person.
    person_key: Mapped[str] = mapped_column(String(600))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)


class CheckIn(Base):
    """A person present at one occurrence, at a site: checked in by the site's operator or
    by themselves through the signed link.  One per person and occurrence."""

    __tablename__ = "attendance_checkins"
    __table_args__ = (
        UniqueConstraint("meeting_id", "occurrence_key", "person_key"),
        Index("ix_attendance_checkins_room", "room_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    occurrence_key: Mapped[datetime] = mapped_column(UtcDateTime)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"))
    roster_id: Mapped[int | None] = mapped_column(
        ForeignKey("attendance_roster.id", ondelete="SET NULL"), index=True
    )
    full_name: Mapped[str] = mapped_column(String(255))
    unit_name: Mapped[str | None] = mapped_column(String(255))
    position: Mapped[str | None] = mapped_column(String(255))
    person_key: Mapped[str] = mapped_column(String(600))
    # operator | self
    method: Mapped[str] = mapped_column(String(16))
    checked_in_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(128))


class Headcount(Base):
    """How many people a site's operator counted in the room (the latest count wins)."""

    __tablename__ = "attendance_headcounts"
    __table_args__ = (UniqueConstraint("meeting_id", "occurrence_key", "room_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    occurrence_key: Mapped[datetime] = mapped_column(UtcDateTime)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    count: Mapped[int] = mapped_column(Integer)
    reported_by: Mapped[str] = mapped_column(String(128))
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
