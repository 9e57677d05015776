"""Request and response models of the health API (they also make the OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

State = Literal["up", "down", "unknown"]
EndpointKind = Literal["sip", "h323", "webrtc"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthQuery(StrictModel):
    unit: int | None = Field(default=None, description="Endpoints of this unit's subtree")
    state: State | None = None
    kind: EndpointKind | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 200
    cursor: Annotated[str, Field(max_length=200)] | None = None


class EndpointHealthOut(StrictModel):
    endpoint_id: int
    name: str
    kind: str
    room_id: int
    room_name: str
    unit_id: int
    unit_code: str
    unit_name: str
    state: State = Field(description="unknown: never probed, nothing to probe, or probing off")
    since: datetime | None = Field(description="When the current state began")
    latency_ms: float | None = Field(description="Round trip of the last probe that got an answer")
    last_checked_at: datetime | None
    detail: str | None = Field(description="What the last probe found, in one line")
    status_code: int | None = Field(description="SIP or HTTP status of the last answer")
    probe_kind: str | None = Field(description="sip, h323, http or webrtc")
    probe_enabled: bool
    probed: bool = Field(description="False when nothing about the endpoint can be probed")
    stale: bool = Field(description="Not checked for three of its intervals")
    failures: int = Field(description="Consecutive failed probes")
    successes: int = Field(description="Consecutive successful probes")
    measurements: dict[str, float] = Field(
        description="Media probe figures: rtt_ms, jitter_ms, loss, packets..."
    )


class HealthPage(StrictModel):
    items: list[EndpointHealthOut]
    next: str | None


class HistoryQuery(StrictModel):
    from_: AwareDatetime | None = Field(
        default=None, alias="from", description="Default: 24 hours before `to`"
    )
    to: AwareDatetime | None = Field(default=None, description="Default: now")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TransitionOut(StrictModel):
    at: datetime
    previous: State
    current: State
    detail: str
    latency_ms: float | None
    status_code: int | None
    cause: str = Field(description="sweep, probe-now or disabled")
    alerted: bool


class UptimeOut(StrictModel):
    percent: float | None = Field(
        description="Up time over known (up + down) time, 0-100; null when never known"
    )
    up_seconds: float
    down_seconds: float
    unknown_seconds: float


class HistoryOut(StrictModel):
    endpoint_id: int
    state: State
    since: datetime | None
    latency_ms: float | None
    from_: datetime = Field(alias="from")
    to: datetime
    uptime: UptimeOut
    transitions: list[TransitionOut] = Field(description="Oldest first; the last 1000 at most")
    truncated: bool

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class ProbeResultOut(StrictModel):
    ok: bool = Field(description="Healthy: SIP 200, HTTP below 400, media came back")
    reachable: bool = Field(description="Something answered at all")
    latency_ms: float | None
    detail: str
    status_code: int | None
    measurements: dict[str, float]


class ProbeOut(StrictModel):
    endpoint_id: int
    probed_at: datetime
    result: ProbeResultOut
    health: EndpointHealthOut


class BoardQuery(StrictModel):
    unit: int | None = Field(default=None, description="Endpoints of this unit's subtree")
    limit: Annotated[int, Field(ge=1, le=1000)] = 200
    cursor: Annotated[str, Field(max_length=200)] | None = None


class BoardMeetingOut(StrictModel):
    endpoint_id: int
    meeting_id: int
    title: str
    start: datetime = Field(description="Of the occurrence, or of the run while it runs")
    end: datetime
    running: bool = Field(description="The meeting is being launched or is live")
    state: str | None = Field(
        description="While running, the site's state: pending, dialling, connected, failed,"
        " fallback or disconnected"
    )
    channel: str | None = Field(
        description="While running, how the site takes part: room_system, browser, gateway,"
        " dial_in (null until known)"
    )
    live: str = Field(description="The meeting's live view (path)")


class BoardMeetingsPage(StrictModel):
    items: list[BoardMeetingOut] = Field(
        description="The endpoints of the page that have a meeting within 24 hours"
    )
    next: str | None
