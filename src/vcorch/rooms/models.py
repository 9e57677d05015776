"""Tables of the organisation: unit levels, units, rooms, endpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vcorch.db import Base, UtcDateTime, clock_now


class UnitLevel(Base):
    """A level of the administrative tree; levels are data because reforms change them."""

    __tablename__ = "unit_levels"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # A child's rank must be greater than its parent's (a commune may sit straight
    # under a province since the 2025 reform removed districts).
    rank: Mapped[int] = mapped_column(Integer)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(ForeignKey("unit_levels.code"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # Materialised path "/1/7/42/": a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(1024), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now, onupdate=clock_now)


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    seats: Mapped[int] = mapped_column(Integer, default=0)
    location: Mapped[str | None] = mapped_column(String(500))
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now, onupdate=clock_now)


class Endpoint(Base):
    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    address: Mapped[str] = mapped_column(String(500))
    vendor: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    management_url: Mapped[str | None] = mapped_column(String(500))
    probe_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    probe_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    probe_transport: Mapped[str | None] = mapped_column(String(8))
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now, onupdate=clock_now)


class SiteGroup(Base):
    """A saved set of sites ("all 34 provinces", "the districts of Điện Biên") to add to a
    meeting at once: listed rooms, a rule (every room of a unit's subtree, of one level), or
    both.  It belongs to a unit, whose secretariat (or one above it) keeps it."""

    __tablename__ = "site_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    # The rule, resolved when read: rooms of units in this unit's subtree (at this level).
    rule_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    rule_level: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock_now, onupdate=clock_now)


class SiteGroupRoom(Base):
    """A room listed in a site group, in the order it was listed."""

    __tablename__ = "site_group_rooms"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("site_groups.id", ondelete="CASCADE"), primary_key=True
    )
    room_id: Mapped[int] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
