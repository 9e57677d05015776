"""Bodies and answers of the live-control routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from vcorch.booking import StrictModel
from vcorch.orchestration.channels import Channel

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
    bridge: str | None = Field(description="The bridge whose conference the site is on now")
    attempts: int
    last_error: str | None
    muted: bool
    channel: Channel | None = Field(
        default=None,
        description="How the site takes part now: room_system (its room system, dialled by "
        "vcorch), browser (its people by browser, on the hosting bridge or the built-in "
        "WebRTC bridge), gateway (by browser through a WebRTC-to-SIP gateway into the "
        "hosting MCU's conference), dial_in (its room system called the conference itself); "
        "null until it first connects",
    )
    channel_label: str | None = Field(
        default=None, description="The channel in Vietnamese, as attendance exports name it"
    )
    host: bool = Field(
        default=False,
        description="The meeting's host room (host_room_id): the room it is chaired from, "
        "dialled ahead of the others",
    )
    separate_room: bool = Field(
        default=False,
        description="The site's browser is in the built-in bridge's conference, which no "
        "link joins to the host conference on another bridge: its people do not hear the "
        "meeting (never true when the whole meeting fell back)",
    )
    fallback_url: str | None = Field(
        default=None,
        description="The site's browser link, while the run lives and the site is in "
        "fallback or connected by browser",
    )


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
    qr_svg: str | None = Field(
        default=None, description="The link as a QR code, an SVG document, to show on a screen"
    )
