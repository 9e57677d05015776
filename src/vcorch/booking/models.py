"""Tables of the meeting register: meetings, their sites, per-occurrence changes, stored
occurrences and the change feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vcorch.db import Base, UtcDateTime, clock_now


class Meeting(Base):
    """One event, or a series of them (``rrule``), of the programme's calendar."""

    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_window", "series_start", "series_end"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    search_text: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    organizer_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    chair: Mapped[str | None] = mapped_column(String(255))
    agenda: Mapped[str | None] = mapped_column(Text)
    # The first occurrence as booked; later ones follow from the rule.
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    rrule: Mapped[str | None] = mapped_column(String(500))
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Span of all occurrences, moved ones included (the window queries narrow on it);
    # series_end is NULL while the series is open-ended.
    series_start: Mapped[datetime] = mapped_column(UtcDateTime)
    # Occurrences are stored up to here (NULL: all of them; an open-ended series is
    # stored up to a horizon and expanded beyond it on demand).
    materialized_until: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    series_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    host_room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"), index=True)
    preferred_bridge: Mapped[str | None] = mapped_column(String(64))
    external_ref: Mapped[str | None] = mapped_column(String(255), index=True)
    invited: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # No index on status, kind or mode: few distinct values, and on SQLite such an index
    # lures the planner away from the occurrence window index.
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # RFC 5545 SEQUENCE: raised whenever attendees must update their calendars.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now, onupdate=clock_now)


class MeetingSite(Base):
    """A room taking part in a meeting, with the endpoint to dial there."""

    __tablename__ = "meeting_sites"
    __table_args__ = (UniqueConstraint("meeting_id", "room_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("endpoints.id"), index=True)
    contacts: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A room outside the organiser's subtree is asked for, not taken: its own unit accepts
    # or declines, and only an accepted site holds the room, is dialled and is expected.
    approval: Mapped[str] = mapped_column(String(16), default="accepted", server_default="accepted")
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(1000))


class MeetingOverride(Base):
    """A change to one occurrence of a series, keyed by its original start (RECURRENCE-ID)."""

    __tablename__ = "meeting_overrides"
    __table_args__ = (UniqueConstraint("meeting_id", "occurrence_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    occurrence_key: Mapped[datetime] = mapped_column(UtcDateTime)
    start_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"room_id", "endpoint_id"}] replacing the series' sites for this occurrence, or NULL.
    sites: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class MeetingOccurrence(Base):
    """One occurrence of a meeting, stored so that window queries are exact and indexed."""

    __tablename__ = "meeting_occurrences"
    __table_args__ = (
        UniqueConstraint("meeting_id", "occurrence_key"),
        Index("ix_meeting_occurrences_window", "start_at", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    occurrence_key: Mapped[datetime] = mapped_column(UtcDateTime)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    # True when this occurrence has its own sites (an override), not the meeting's.
    own_sites: Mapped[bool] = mapped_column(Boolean, default=False)


class MeetingChange(Base):
    """One entry of the change feed portals replicate from; its id is the cursor."""

    __tablename__ = "meeting_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
