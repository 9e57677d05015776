"""Request and response models of units, rooms and endpoints (they also make the OpenAPI)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vcorch.text import Code, Line, LongText, ShortLine


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {value!r}") from err
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


Zone = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]
HttpUrl = Annotated[str, Field(max_length=500), AfterValidator(_http_url)]
EndpointKind = Literal["sip", "h323", "webrtc"]
Limit = Annotated[int, Field(ge=1, le=500)]

_SIP = re.compile(r"^sips?:([^@\s]+@)?[A-Za-z0-9.\-\[\]:]+(;[^\s]*)?$")
_H323 = re.compile(r"^(h323:)?([^@\s:]+@)?([A-Za-z0-9.\-#*]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?$")


def check_address(kind: str, address: str) -> str | None:
    """Why ``address`` cannot be dialled as ``kind``, or None when it can."""
    if kind == "sip" and not _SIP.match(address):
        return "a SIP address looks like sip:room@10.0.0.5 or sip:1001@sip.example.vn:5060"
    if kind == "h323" and not _H323.match(address):
        return "an H.323 address looks like h323:10.0.0.6 or h323:0215001@10.0.0.6"
    if kind == "webrtc" and (not address.strip() or any(c.isspace() for c in address)):
        return "a WebRTC address is a label without spaces"
    return None


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Page(StrictModel):
    next: str | None = Field(description="Cursor of the next page, or null on the last one")


class ListQuery(StrictModel):
    limit: Limit = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None
    q: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Text search, accent- and case-insensitive"
    )


# -- units ----------------------------------------------------------------------------------


class UnitCreate(StrictModel):
    code: Code
    name: Line
    level: ShortLine
    parent_id: int | None = None
    timezone: Zone | None = None


class UnitUpdate(StrictModel):
    code: Code | None = None
    name: Line | None = None
    level: ShortLine | None = None
    parent_id: int | None = None
    timezone: Zone | None = None


class UnitOut(StrictModel):
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    timezone: str | None
    created_at: datetime
    updated_at: datetime


class UnitPage(Page):
    items: list[UnitOut]


class UnitQuery(ListQuery):
    parent_id: int | None = None
    level: Annotated[str, Field(max_length=32)] | None = None
    within: int | None = Field(default=None, description="Only this unit and its subtree")


class LevelOut(StrictModel):
    code: str
    name: str
    rank: int


class LevelList(StrictModel):
    items: list[LevelOut]


class LevelCreate(StrictModel):
    code: Code
    name: Line
    rank: Annotated[int, Field(ge=0, le=100)]


# -- rooms ----------------------------------------------------------------------------------


class RoomCreate(StrictModel):
    unit_id: int
    name: Line
    seats: Annotated[int, Field(ge=0, le=100_000)] = 0
    location: LongText | None = None


class RoomUpdate(StrictModel):
    unit_id: int | None = None
    name: Line | None = None
    seats: Annotated[int, Field(ge=0, le=100_000)] | None = None
    location: LongText | None = None


class RoomOut(StrictModel):
    id: int
    unit_id: int
    name: str
    seats: int
    location: str | None
    created_at: datetime
    updated_at: datetime


class RoomPage(Page):
    items: list[RoomOut]


class RoomQuery(ListQuery):
    unit_id: int | None = None
    within: int | None = Field(default=None, description="Rooms of this unit and its subtree")


# -- endpoints ------------------------------------------------------------------------------


class EndpointFields(StrictModel):
    name: Line | None = None
    kind: EndpointKind | None = None
    address: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    vendor: ShortLine | None = None
    model: ShortLine | None = None
    management_url: HttpUrl | None = None
    probe_enabled: bool | None = None
    probe_interval_seconds: Annotated[int, Field(ge=10, le=86_400)] | None = None
    probe_transport: Literal["udp", "tcp", "tls"] | None = None


class EndpointCreate(EndpointFields):
    room_id: int
    name: Line
    kind: EndpointKind
    address: Annotated[str, Field(min_length=1, max_length=500)]


class EndpointUpdate(EndpointFields):
    room_id: int | None = None


class EndpointOut(StrictModel):
    id: int
    room_id: int
    name: str
    kind: EndpointKind
    address: str
    vendor: str | None
    model: str | None
    management_url: str | None
    probe_enabled: bool
    probe_interval_seconds: int | None
    probe_transport: str | None
    created_at: datetime
    updated_at: datetime


class EndpointPage(Page):
    items: list[EndpointOut]


class EndpointQuery(ListQuery):
    room_id: int | None = None
    unit_id: int | None = None
    within: int | None = Field(default=None, description="Endpoints of this unit's subtree")
    kind: EndpointKind | None = None


# -- site groups ----------------------------------------------------------------------------

MAX_GROUP_ROOMS = 2000


class SiteGroupRule(StrictModel):
    """Members that follow the unit tree: every room of a subtree, or of one level in it."""

    unit_id: int = Field(
        description="Every room of this unit and the units below it (the reader sees those "
        "in their scope)"
    )
    level: Annotated[str, Field(max_length=32)] | None = Field(
        default=None,
        description="Only rooms of units at this level (a code of /api/unit-levels, e.g. "
        "`province`); null: rooms of every level. 'All provinces' is the root unit with "
        "level `province`",
    )


class SiteGroupFields(StrictModel):
    unit_id: int = Field(
        description="The unit the group belongs to: seen by the unit's subtree and those "
        "above it, kept by the secretariat (or an administrator) whose scope holds the unit"
    )
    name: Annotated[Line, Field(max_length=255)] = Field(
        description="Shown in the site picker, e.g. `Các tỉnh miền núi phía Bắc`"
    )
    description: LongText | None = Field(default=None, description="What the group is for")
    room_ids: Annotated[list[int], Field(max_length=MAX_GROUP_ROOMS)] = Field(
        default_factory=list,
        description="Rooms listed by hand, in order; each must lie in the writer's scope",
    )
    rule: SiteGroupRule | None = Field(
        default=None, description="Rooms taken from the unit tree when the group is read"
    )


class SiteGroupCreate(SiteGroupFields):
    """A new site group: listed rooms, a rule, or both (at least one)."""


class SiteGroupUpdate(SiteGroupFields):
    """The whole group as it should be (PUT replaces it; send If-Match with its ETag)."""


class SiteGroupMember(StrictModel):
    """A room of the group, in the reader's scope: pass `room_id` as a meeting's site."""

    room_id: int
    room_name: str
    unit_id: int = Field(description="The room's unit")
    unit_name: str
    unit_level: str = Field(description="The level code of the room's unit, e.g. `province`")
    listed: bool = Field(description="Listed by hand (false: only the rule brings it in)")


class SiteGroupOut(StrictModel):
    id: int
    version: int = Field(description="Also the ETag; send it as If-Match to change the group")
    unit_id: int = Field(description="The unit the group belongs to")
    unit_name: str
    name: str
    description: str | None
    room_ids: list[int] = Field(
        description="The rooms listed by hand that lie in your scope, in order"
    )
    rule: SiteGroupRule | None
    members: list[SiteGroupMember] = Field(
        description="Listed rooms and those the rule brings in, in your scope, listed ones "
        "first then by unit; add these as the meeting's sites"
    )
    hidden_members: int = Field(
        description="Listed rooms outside your unit scope: counted, never named"
    )
    created_by: str
    created_at: datetime
    updated_at: datetime


class SiteGroupPage(Page):
    items: list[SiteGroupOut]


class SiteGroupQuery(ListQuery):
    unit: int | None = Field(default=None, description="Only groups of this unit's subtree")
