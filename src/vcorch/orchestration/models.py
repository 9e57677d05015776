"""Tables of meeting runs: the launch claim, conferences per bridge and generation, sites,
incidents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from vcorch.db import Base, UtcDateTime, clock_now


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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)


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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # How a room system dials in by itself (Bridge.dial_in), read once the conference
    # exists; NULL where the bridge has no dial-in number (or has not answered yet).
    dial_in_number: Mapped[str | None] = mapped_column(String(32))
    dial_in_pin: Mapped[str | None] = mapped_column(String(32))
    dial_in_uri: Mapped[str | None] = mapped_column(String(255))
    # In-call control as last set through vcorch (orchestration/control.py); the layout is
    # vendor-neutral (mcu_adapter.LAYOUTS), NULL until someone chose one.
    layout: Mapped[str | None] = mapped_column(String(32))
    locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    all_muted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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
    since: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dial_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Dropped by an operator on purpose: the supervisor does not call it back.
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    operators_told: Mapped[bool] = mapped_column(Boolean, default=False)
    # How the site takes part now (orchestration/channels.py): room_system | browser |
    # gateway | dial_in; NULL until it first connects.
    channel: Mapped[str | None] = mapped_column(String(16))


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
