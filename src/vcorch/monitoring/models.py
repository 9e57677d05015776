"""Tables of endpoint health: where each endpoint stands, how it got there, alerts to deliver.

Only state *changes* are kept as history, never every probe result: an endpoint probed
every ten seconds would otherwise write 8,640 rows a day.  Uptime over a period is
computed from the transitions (the state in force at the start of the period, then each
change), see :mod:`vcorch.monitoring.uptime`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vcorch.db import Base, UtcDateTime, clock_now


class EndpointHealthRecord(Base):
    """One endpoint's current health: the hysteresis state and the last probe result.

    The row is the truth shared by every process: whoever probes (the leader's sweeps, an
    operator's "probe now" on any process) folds its result into this row under a lock.
    """

    __tablename__ = "endpoint_health"

    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    # up | down | unknown
    state: Mapped[str] = mapped_column(String(8), default="unknown")
    # When the current state began (the result that tipped it); NULL while unknown.
    since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Consecutive results of the current run, as the hysteresis counts them.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    # The last probe result, whatever it said.
    last_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_reachable: Mapped[bool | None] = mapped_column(Boolean)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(500))
    # The probe that judged it (sip, h323, http, webrtc) and what it measured beyond latency.
    probe_kind: Mapped[str | None] = mapped_column(String(16))
    measurements: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EndpointHealthTransition(Base):
    """A change of an endpoint's state, stored in the transaction that made it."""

    __tablename__ = "endpoint_health_transitions"
    __table_args__ = (Index("ix_endpoint_health_transitions_endpoint_at", "endpoint_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    previous: Mapped[str] = mapped_column(String(8))
    current: Mapped[str] = mapped_column(String(8))
    detail: Mapped[str] = mapped_column(String(500), default="")
    latency_ms: Mapped[float | None] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    # sweep | probe-now | disabled: what produced the result that changed the state.
    cause: Mapped[str] = mapped_column(String(16), default="sweep")
    # Whether operators were alerted (a meeting in the next 24 hours uses the room).
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookDelivery(Base):
    """A signed webhook call waiting for (or done with) delivery; queued with its cause.

    ``body`` is the exact JSON text that is signed and sent, so every retry carries the
    same bytes and the same signature; the receiver deduplicates by the event id in it.
    """

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # pending | sent | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
