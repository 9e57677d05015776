"""The scheduler's own tables: jobs claimed once, and its memory across restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vcorch.db import Base, UtcDateTime


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
