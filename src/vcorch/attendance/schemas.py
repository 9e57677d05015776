"""Request and response models of attendance (they also make the OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from vcorch.text import Line, LongText

Status = Literal["present", "late", "left_early", "partial", "absent"]
ChannelName = Literal["room_system", "browser", "gateway", "dial_in", "in_person"]
"""How a site took part: its room system dialled by vcorch, its people by browser (on the
hosting bridge or the built-in WebRTC bridge), by browser through a WebRTC-to-SIP gateway,
its room system calling in itself, or in person (a manual entry)."""
Format = Literal["json", "csv", "xlsx"]


def _real_moment(value: str) -> str:
    # The pattern lets "20261399T999999Z" through; the service parses the key as a time.
    try:
        datetime.strptime(value, "%Y%m%dT%H%M%SZ")
    except ValueError as err:
        raise ValueError("not a valid date and time (YYYYMMDDTHHMMSSZ)") from err
    return value


OccurrenceKey = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{8}T[0-9]{6}Z$",
        description="The occurrence's original start, UTC, YYYYMMDDTHHMMSSZ",
    ),
    AfterValidator(_real_moment),
]
Note = Annotated[LongText, Field(max_length=1000)]
# Ids are database integers (32-bit on PostgreSQL): anything larger names nothing.
MAX_ID = 2_147_483_647
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
# Days a report may ask for: bounded so that local midnights stay representable.
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- queries --------------------------------------------------------------------------------


class AttendanceQuery(StrictModel):
    occurrence: OccurrenceKey | None = Field(
        default=None,
        description="Which occurrence (default: the latest run, else the latest started)",
    )
    format: Format = "json"
    table: Literal["sites", "people"] = Field(
        default="sites", description="For format=csv: the sites or the people checked in"
    )


class UnitAttendanceQuery(StrictModel):
    unit: DbId | None = Field(default=None, description="A unit id (default: your own unit)")
    from_: Day = Field(alias="from", description="First day, in the unit's time zone")
    to: Day = Field(description="Last day (inclusive), in the unit's time zone")
    format: Format = "json"

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OccurrenceQuery(StrictModel):
    occurrence: OccurrenceKey | None = None


# -- bodies ---------------------------------------------------------------------------------


def _older_channel_name(value: object) -> object:
    # Portals written against the first API send the old name of a browser site.
    return "browser" if value == "webrtc_fallback" else value


class EntryCreate(StrictModel):
    room_id: DbId
    occurrence: OccurrenceKey | None = None
    channel: Annotated[
        ChannelName,
        BeforeValidator(_older_channel_name),
        Field(
            description="How the site took part; `webrtc_fallback` (the older name) is read as"
            " `browser`"
        ),
    ] = "in_person"
    start: AwareDatetime | None = Field(default=None, description="Default: the occurrence's start")
    end: AwareDatetime | None = Field(default=None, description="Default: the occurrence's end")
    note: Note | None = None


class HeadcountSet(StrictModel):
    room_id: DbId
    occurrence: OccurrenceKey | None = None
    count: Annotated[int, Field(ge=0, le=100_000)]


class PersonIn(StrictModel):
    full_name: Line
    unit_name: Line | None = None
    position: Line | None = None
    room_id: DbId | None = None


class RosterCreate(StrictModel):
    people: Annotated[list[PersonIn], Field(min_length=1, max_length=2000)]


class CheckInCreate(StrictModel):
    room_id: DbId
    occurrence: OccurrenceKey | None = None
    full_name: Line | None = Field(default=None, description="Required unless roster_id is given")
    unit_name: Line | None = None
    position: Line | None = None
    roster_id: DbId | None = None


class LinkCreate(StrictModel):
    occurrence: OccurrenceKey | None = None
    room_id: DbId | None = Field(default=None, description="The site showing the code, if one")
    valid_minutes: Annotated[int, Field(ge=1, le=7 * 1440)] | None = Field(
        default=None, description="Default: until attendance_checkin_grace_minutes after the end"
    )


class SelfCheckInForm(StrictModel):
    full_name: Line
    unit_name: Line | None = None
    position: Line | None = None

    model_config = ConfigDict(extra="ignore")


# -- answers ----------------------------------------------------------------------------------


class IntervalOut(StrictModel):
    start: datetime
    end: datetime
    start_mark: Literal["joined", "polled", "manual"]
    end_mark: Literal["left", "polled", "meeting_ended", "still_connected"]
    channels: list[ChannelName]
    sources: list[Literal["pushed", "polled", "builtin", "manual"]]


class ParticipantOut(StrictModel):
    bridge: str | None
    conference_id: str | None
    participant_id: str
    display_name: str | None
    connected_seconds: int
    intervals: list[IntervalOut]
    leaves_without_join: int


class SiteAttendanceOut(StrictModel):
    room_id: DbId
    room_name: str
    unit_id: int
    unit_name: str
    site_id: int | None = Field(description="The run's site id (RunSite), when launched")
    status: Status
    connected_seconds: int
    share: float = Field(description="Connected share of the meeting, 0..1")
    first_join: datetime | None
    last_leave: datetime | None = Field(description="null while still connected")
    still_connected: bool
    took_part_via: ChannelName | None = Field(
        description="The way the site took part for longest (see ChannelName)"
    )
    took_part_via_label: str | None = Field(
        default=None, description="took_part_via in Vietnamese, e.g. Trình duyệt (WebRTC)"
    )
    channels: dict[str, int] = Field(description="Connected seconds per way of taking part")
    channels_label: str = Field(
        default="",
        description="Every way the site took part, the longest first, in Vietnamese (the "
        "exports' column Hình thức tham dự)",
    )
    reconnects: int
    marks: list[str]
    intervals: list[IntervalOut]
    participants: list[ParticipantOut]
    headcount: int | None = Field(description="People counted in the room by its operator")
    checked_in: int = Field(description="People checked in at this site")


class PersonOut(StrictModel):
    id: int
    full_name: str
    unit_name: str | None
    position: str | None
    room_id: int | None


class CheckInOut(PersonOut):
    method: Literal["operator", "self"]
    checked_in_at: datetime
    roster_id: int | None


class PeopleOut(StrictModel):
    roster_size: int
    checked_in: int
    checked_in_from_roster: int
    items: list[CheckInOut]
    not_checked_in: list[PersonOut] = Field(description="Roster entries without a check-in")


class Thresholds(StrictModel):
    late_after_minutes: int
    left_early_minutes: int
    present_share: float
    reconnect_grace_seconds: int


class Summary(StrictModel):
    sites: int
    present: int
    late: int
    left_early: int
    partial: int
    absent: int
    attended: int
    headcount: int
    checked_in: int


class AttendanceOut(StrictModel):
    meeting_id: int
    title: str
    occurrence: str
    run_id: int | None
    run_status: str
    start: datetime
    end: datetime
    final: bool = Field(description="False while the meeting runs (results are provisional)")
    timezone: str = Field(description="The zone of the exports' local times")
    thresholds: Thresholds
    summary: Summary
    sites: list[SiteAttendanceOut]
    people: PeopleOut
    unmatched: list[ParticipantOut] = Field(description="Participants no site could be found for")


class EntryOut(StrictModel):
    id: int
    room_id: DbId
    occurrence: str
    channel: ChannelName
    start: datetime
    end: datetime
    note: str | None
    created_by: str
    created_at: datetime
    retracted_at: datetime | None


class EntryList(StrictModel):
    items: list[EntryOut]


class HeadcountOut(StrictModel):
    room_id: DbId
    occurrence: str
    count: int
    reported_by: str
    reported_at: datetime


class RosterOut(StrictModel):
    items: list[PersonOut]


class LinkOut(StrictModel):
    url: str
    occurrence: str
    room_id: int | None
    expires_at: datetime
    qr_svg: str = Field(description="The URL as a QR code, an SVG document")


class UnitRow(StrictModel):
    unit_id: int
    code: str
    name: str
    invited: int = Field(description="Occurrences held in the period with a room of this unit")
    attended: int = Field(description="Of those, where a room of the unit was not absent")
    rate: float = Field(description="attended / invited (0 when invited is 0)")
    present: int
    late: int
    left_early: int
    partial: int
    absent: int


class UnitAttendanceOut(StrictModel):
    unit: UnitRow = Field(description="The whole subtree as one")
    from_: date = Field(alias="from")
    to: date
    timezone: str
    items: list[UnitRow] = Field(description="Each unit of the subtree that was invited")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class LinkInfo(StrictModel):
    title: str
    occurrence: str
    start: datetime
    end: datetime
    timezone: str
    room_id: int | None
    room_name: str | None
    expires_at: datetime


class SelfCheckedIn(StrictModel):
    full_name: str
    unit_name: str | None
    position: str | None
    checked_in_at: datetime
    already: bool
