"""Tables of the meeting register: meetings, their sites, per-occurrence changes, the change
feed, calendar feed tokens and the mail outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vcorch.db.base import Base, UtcDateTime, utcnow


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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


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
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)


class CalendarFeedToken(Base):
    __tablename__ = "calendar_feed_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # SHA-256 of the token: the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OutboxMail(Base):
    """A message waiting for (or done with) SMTP delivery; queued in the booking transaction."""

    __tablename__ = "outbox_mail"
    __table_args__ = (Index("ix_outbox_mail_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Makes enqueueing idempotent (one reminder per occurrence and offset, ...).
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL"), index=True
    )
    recipients: Mapped[list[str]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    calendar: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BridgeEventRecord(Base):
    """A join or leave a bridge reported, stored before the bridge is answered.

    ``(bridge, event_id)`` is unique: a replayed or retried report is stored once.
    """

    __tablename__ = "bridge_events"
    __table_args__ = (
        UniqueConstraint("bridge", "event_id"),
        Index("ix_bridge_events_conference", "bridge", "conference_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bridge: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    conference_id: Mapped[str] = mapped_column(String(255))
    participant_id: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    site_id: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MeetingRun(Base):
    """One occurrence brought up on bridges (or tried): what the orchestrator did and does.

    Created by the launch, in the transaction that claims it (the unique key makes a second
    launcher, or a restarted one, find the run instead of starting another).
    """

    __tablename__ = "meeting_runs"
    __table_args__ = (
        UniqueConstraint("meeting_id", "occurrence_key"),
        Index("ix_meeting_runs_status", "status", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    occurrence_key: Mapped[datetime] = mapped_column(UtcDateTime)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The end in force: the booked end, moved by extensions.
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # launching | live | ended | missed | failed
    status: Mapped[str] = mapped_column(String(16))
    # True when no bridge could host the meeting and every site went to the built-in bridge.
    whole_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    launched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    launched_by: Mapped[str | None] = mapped_column(String(128))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RunConference(Base):
    """A conference created on one bridge for a run; a fail-over or a cascade adds another."""

    __tablename__ = "run_conferences"
    __table_args__ = (Index("ix_run_conferences_bridge", "bridge", "conference_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_runs.id", ondelete="CASCADE"), index=True
    )
    bridge: Mapped[str] = mapped_column(String(64))
    conference_id: Mapped[str] = mapped_column(String(255))
    # The idempotency key given to create_conference (same key, same conference).
    conference_key: Mapped[str] = mapped_column(String(255))
    extra: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # host: the first (or only) conference; cascade: linked to the host one.
    role: Mapped[str] = mapped_column(String(16), default="host")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The call leg that links a cascade conference to the host conference.
    link_participant_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RunSite(Base):
    """One site of a run: where it is dialled, its state and since when."""

    __tablename__ = "run_sites"
    __table_args__ = (UniqueConstraint("run_id", "room_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_runs.id", ondelete="CASCADE"), index=True
    )
    # The meeting's site this comes from; NULL for a room added to one occurrence only.
    meeting_site_id: Mapped[int | None] = mapped_column(
        ForeignKey("meeting_sites.id", ondelete="SET NULL"), index=True
    )
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("endpoints.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    conference_row_id: Mapped[int | None] = mapped_column(
        ForeignKey("run_conferences.id", ondelete="SET NULL")
    )
    participant_id: Mapped[str | None] = mapped_column(String(255))
    # pending | dialling | connected | failed | fallback | disconnected
    state: Mapped[str] = mapped_column(String(16), default="pending")
    since: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dial_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Dropped by an operator on purpose: the supervisor does not call it back.
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    operators_told: Mapped[bool] = mapped_column(Boolean, default=False)


class RunIncident(Base):
    """Something the leadership and operators must learn about a run (fail-over, missed...)."""

    __tablename__ = "run_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_runs.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    detail: Mapped[str] = mapped_column(String(500), default="")
    from_bridge: Mapped[str | None] = mapped_column(String(64))
    to_bridge: Mapped[str | None] = mapped_column(String(64))
    recovered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ExecutedJob(Base):
    """A scheduler job that ran (or started to): a job id is claimed once, in any process."""

    __tablename__ = "executed_jobs"

    job_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ran_by: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(500))


class SchedulerState(Base):
    """The scheduler's memory across restarts: when it last ran its jobs, who leads."""

    __tablename__ = "scheduler_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    leader: Mapped[str | None] = mapped_column(String(128))
    last_alive: Mapped[datetime | None] = mapped_column(UtcDateTime)
    changes_seen: Mapped[int] = mapped_column(Integer, default=0)
