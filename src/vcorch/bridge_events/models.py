"""Joins and leaves the bridges reported, each stored once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vcorch.db import Base, UtcDateTime, clock_now


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
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)


class RejectedHookBody(Base):
    """A body a bridge pushed that its adapter could not read, kept as it came.

    The hook answers 200 for it all the same: a bridge resends what is refused (CMS resends a
    CDR batch for ever, holding back every later record), so refusing would block its queue.
    """

    __tablename__ = "rejected_hook_bodies"
    __table_args__ = (Index("ix_rejected_hook_bodies_bridge", "bridge", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bridge: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    reason: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(255))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The size as received: ``body`` holds at most the first MAX_REJECTED_BODY_BYTES.
    body_size: Mapped[int] = mapped_column(Integer)
