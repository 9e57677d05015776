"""Joins and leaves the bridges reported, each stored once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
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
