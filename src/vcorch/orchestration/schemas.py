"""Bodies and answers of the live-control routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from vcorch.booking import StrictModel

SiteState = Literal["pending", "dialling", "connected", "failed", "fallback", "disconnected"]
RunStatus = Literal["scheduled", "cancelled", "launching", "live", "ended", "missed", "failed"]


class StartIn(StrictModel):
    occurrence: AwareDatetime | None = Field(
        default=None,
        description="Which occurrence (its original start); default: the one under way or "
        "starting within the hour",
    )


class ExtendIn(StrictModel):
    minutes: int = Field(ge=1, le=240, description="How much longer the meeting runs")


class LiveSite(StrictModel):
    site_id: int = Field(
        description="The meeting's site id (-room_id for a room added to one occurrence only)"
    )
    room_id: int
    room_name: str
    endpoint_id: int | None
    state: SiteState
    since: datetime | None
    bridge: str | None
    attempts: int
    last_error: str | None
    muted: bool
    fallback_url: str | None = None


class LiveBridge(StrictModel):
    name: str
    conference_id: str
    role: Literal["host", "cascade", "fallback"]
    active: bool
    since: datetime | None
    until: datetime | None


class LiveIncident(StrictModel):
    kind: str
    at: datetime | None
    detail: str
    from_bridge: str | None
    to_bridge: str | None


class LiveOut(StrictModel):
    meeting_id: int
    run_id: int | None
    status: RunStatus
    occurrence: str | None
    start: datetime | None
    end: datetime | None
    launched_at: datetime | None
    ended_at: datetime | None
    whole_fallback: bool
    bridges: list[LiveBridge]
    sites: list[LiveSite]
    incidents: list[LiveIncident]


class LinkOut(StrictModel):
    url: str
    expires_at: datetime
