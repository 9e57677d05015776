"""Bodies and answers of the live-control routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from vcorch.booking import StrictModel
from vcorch.mcu_adapter import MESSAGE_MAX_CHARS, MESSAGE_MAX_SECONDS
from vcorch.orchestration.channels import Channel
from vcorch.text import clean_line

MessageText = Annotated[
    str, StringConstraints(max_length=MESSAGE_MAX_CHARS), AfterValidator(clean_line)
]

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


Layout = Literal["speaker", "grid", "presentation", "automatic"]
# The vendor-neutral names of mcu_adapter.LAYOUTS (a test keeps the two the same).


class LiveDialIn(StrictModel):
    bridge: str = Field(description="The bridge whose conference these numbers call")
    number: str = Field(
        description="The conference's numeric ID, typed at the bridge's voice menu or on a "
        "room system's remote (a Cisco Meeting Server call ID, a Janus room number...)"
    )
    pin: str | None = Field(
        description="The conference PIN asked after the number; null when it has none"
    )
    uri: str | None = Field(
        description="A SIP address that calls the conference directly, when the bridge "
        "publishes one"
    )


class LiveControls(StrictModel):
    layouts: list[Layout] = Field(
        description="The layouts this bridge can show (POST .../layout); empty: none"
    )
    mute_all: bool = Field(description="The bridge can mute everyone at once (.../mute-all)")
    lock: bool = Field(description="The bridge can lock the conference (.../lock)")
    message: bool = Field(description="The bridge can show a message on screen (.../message)")
    layout: Layout | None = Field(description="The layout last chosen through vcorch")
    locked: bool = Field(description="Locked through vcorch: nobody new gets in")
    all_muted: bool = Field(description="Everyone muted at once through vcorch")


class LiveBridge(StrictModel):
    name: str
    conference_id: str
    role: Literal["host", "cascade", "fallback"]
    active: bool
    since: datetime | None
    until: datetime | None
    dial_in: LiveDialIn | None = Field(
        default=None, description="How a room system dials into this conference itself"
    )
    controls: LiveControls | None = Field(
        default=None, description="The in-call controls the bridge offers, and their state"
    )


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
    dial_in: LiveDialIn | None = Field(
        default=None,
        description="How a site's room system calls the meeting by itself (the second path, "
        "when vcorch's call does not reach it): the hosting conference's numeric ID and PIN; "
        "null before the meeting is up or when its bridge has none.  A site that calls in "
        "from its endpoint's address is recognised and shown with channel dial_in",
    )
    bridges: list[LiveBridge]
    sites: list[LiveSite]
    incidents: list[LiveIncident]


class LinkOut(StrictModel):
    url: str
    expires_at: datetime
    qr_svg: str | None = Field(
        default=None, description="The link as a QR code, an SVG document, to show on a screen"
    )


class LayoutIn(StrictModel):
    layout: Layout = Field(
        description="speaker (the one talking, full screen), grid (everyone the same "
        "size), presentation (one large pane, the others small), automatic (the bridge "
        "chooses); must be one of the meeting bridge's layouts (live view: controls.layouts)"
    )


class MuteAllIn(StrictModel):
    muted: bool = Field(
        default=True, description="true: nobody is heard (until unmuted); false: everyone again"
    )


class LockIn(StrictModel):
    locked: bool = Field(
        default=True, description="true: nobody new gets in (those in stay); false: open again"
    )


class MessageIn(StrictModel):
    text: MessageText = Field(
        description=f"One line shown on every site's screen, at most {MESSAGE_MAX_CHARS} "
        "characters (Vietnamese, NFC)",
    )
    seconds: int = Field(
        default=30,
        ge=1,
        le=MESSAGE_MAX_SECONDS,
        description="How long it stays on screen",
    )
