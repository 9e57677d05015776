"""Request and response models of the meeting register (they also make the OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_validator

from vcorch.rooms import Zone
from vcorch.text import Line, LongText, ShortLine

Kind = Literal["meeting", "conference", "workshop", "training"]
Mode = Literal["in_person", "online", "hybrid"]
Status = Literal["draft", "scheduled", "live", "ended", "cancelled", "missed", "failed"]
BookableStatus = Literal["draft", "scheduled"]
Approval = Literal["accepted", "pending", "declined"]
Title = Annotated[str, Field(max_length=500)]
RRule = Annotated[str, Field(min_length=1, max_length=500)]
MAX_SITES = 2000

# What the booking fields mean (the OpenAPI document shows it; MeetingCreate repeats the
# fields it makes required, so the texts are shared).
KIND_TEXT = (
    "meeting (a working meeting), conference (hội nghị), workshop (hội thảo) or training "
    "(tập huấn): how the statistics count it"
)
MODE_TEXT = (
    "in_person (no bridge: nothing is dialled), online (every site joins through a bridge) or "
    "hybrid (people in the host room and sites online); online and hybrid count as held online"
)
START_TEXT = (
    "Start of the (first) occurrence, ISO 8601 with an offset (`2026-03-16T08:30:00+07:00`); "
    "answers give it in UTC. A meeting lasts at most 24 hours"
)
END_TEXT = "End of the (first) occurrence, ISO 8601 with an offset; after `start`"
TIMEZONE_TEXT = (
    "IANA zone the recurrence and local times follow (`Asia/Ho_Chi_Minh`); default: the "
    "organising unit's zone"
)
SITES_TEXT = (
    "The rooms taking part (at most 2000), each with the endpoint to dial; a room outside "
    "the organiser's units is a request its unit accepts or declines"
)
RRULE_TEXT = (
    "Recurrence: one RFC 5545 RRULE value, without `RRULE:` or DTSTART "
    "(`FREQ=WEEKLY;BYDAY=MO;COUNT=10`). FREQ is DAILY, WEEKLY, MONTHLY or YEARLY; INTERVAL "
    "at most 366, COUNT at most 1000, UNTIL (UTC `20261231T000000Z` or a local date) within "
    "ten years of the start; BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS, BYWEEKNO, BYYEARDAY, WKST "
    "as RFC 5545 allows them for that FREQ; no BYHOUR, BYMINUTE or BYSECOND (the time is "
    "`start`'s). Null: a one-off meeting"
)
EXDATES_TEXT = (
    "Occurrences left out of the series: their original starts, ISO 8601 with an offset "
    "(at most 1000)"
)
STATUS_TEXT = "draft (not announced, no invitations) or scheduled (the default: booked)"
ORGANIZER_TEXT = (
    "The unit that organises the meeting (`GET /api/units`): the caller's unit or one below"
)
TITLE_TEXT = "Title, as invitations and the calendar show it (at most 255 characters)"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteIn(StrictModel):
    room_id: int
    endpoint_id: int | None = None
    contacts: Annotated[list[EmailStr], Field(max_length=20)] = Field(default_factory=list)


class InviteeIn(StrictModel):
    email: EmailStr
    name: Line | None = None


class MeetingFields(StrictModel):
    title: Annotated[Line, Field(max_length=255)] | None = Field(
        default=None, description=TITLE_TEXT
    )
    kind: Kind | None = Field(default=None, description=KIND_TEXT)
    mode: Mode | None = Field(default=None, description=MODE_TEXT)
    organizer_unit_id: int | None = Field(default=None, description=ORGANIZER_TEXT)
    start: AwareDatetime | None = Field(default=None, description=START_TEXT)
    end: AwareDatetime | None = Field(default=None, description=END_TEXT)
    timezone: Zone | None = Field(default=None, description=TIMEZONE_TEXT)
    host_room_id: int | None = Field(
        default=None,
        description="The room from which the meeting is chaired: a site of the meeting "
        "(added to its run's sites when not listed), dialled first at bring-up, named as "
        "host (Điểm cầu chủ trì) in the live view and the invitations; must be a room of "
        "the organising unit or a unit below it (the organiser's scope)",
    )
    sites: Annotated[list[SiteIn], Field(max_length=MAX_SITES)] | None = Field(
        default=None, description=SITES_TEXT
    )
    rrule: RRule | None = Field(default=None, description=RRULE_TEXT)
    exdates: Annotated[list[AwareDatetime], Field(max_length=1000)] | None = Field(
        default=None, description=EXDATES_TEXT
    )
    chair: Line | None = Field(default=None, description="Who chairs the meeting")
    agenda: LongText | None = Field(default=None, description="The agenda, free text")
    invited: Annotated[list[InviteeIn], Field(max_length=500)] | None = Field(
        default=None,
        description="People invited by e-mail (an iCalendar invitation each; at most 500)",
    )
    preferred_bridge: ShortLine | None = Field(
        default=None,
        description="A bridge by its configured name (`GET /api/bridges`); null: vcorch "
        "chooses by the units it serves, its health and free ports",
    )
    external_ref: Line | None = Field(
        default=None, description="A reference in another system (a document number)"
    )
    status: BookableStatus | None = Field(default=None, description=STATUS_TEXT)


class MeetingCreate(MeetingFields):
    """A meeting to book (or a past one to record)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Họp Ban Chỉ đạo chuyển đổi số quý I/2026",
                    "kind": "meeting",
                    "mode": "hybrid",
                    "organizer_unit_id": 1,
                    "start": "2026-03-16T08:30:00+07:00",
                    "end": "2026-03-16T11:00:00+07:00",
                    "timezone": "Asia/Ho_Chi_Minh",
                    "host_room_id": 1,
                    "sites": [
                        {"room_id": 1},
                        {"room_id": 12, "endpoint_id": 31, "contacts": ["vanphong@laocai.gov.vn"]},
                        {"room_id": 15, "contacts": ["vanphong@dienbien.gov.vn"]},
                    ],
                    "rrule": "FREQ=MONTHLY;BYDAY=3MO;COUNT=4",
                    "chair": "Đồng chí Phó Thủ tướng Chính phủ, Trưởng Ban Chỉ đạo",
                    "agenda": "1. Kết quả chuyển đổi số quý I tại Lào Cai, Điện Biên\n"
                    "2. Nhiệm vụ quý II",
                    "invited": [{"email": "thuky.bcd@vpcp.gov.vn", "name": "Trần Thị Bình"}],
                    "external_ref": "125/GM-BCĐ",
                    "status": "scheduled",
                }
            ]
        },
    )

    title: Annotated[Line, Field(max_length=255)] = Field(description=TITLE_TEXT)
    kind: Kind = Field(description=KIND_TEXT)
    mode: Mode = Field(description=MODE_TEXT)
    organizer_unit_id: int = Field(description=ORGANIZER_TEXT)
    start: AwareDatetime = Field(description=START_TEXT)
    end: AwareDatetime = Field(description=END_TEXT)
    sites: Annotated[list[SiteIn], Field(max_length=MAX_SITES)] = Field(
        default_factory=list, description=SITES_TEXT
    )
    status: BookableStatus = Field(default="scheduled", description=STATUS_TEXT)


class MeetingCheck(MeetingCreate):
    """A meeting as it would be saved, to learn what saving it would meet."""

    meeting_id: int | None = Field(
        default=None,
        description="The meeting being edited: its own occurrences do not clash with the "
        "check (its per-occurrence changes are not considered)",
    )


class BookingCheck(StrictModel):
    ok: bool = Field(description="Saving now would meet no clash")
    status: Literal["draft", "scheduled", "ended"] = Field(
        description="What the meeting would be stored as: `ended` when its last occurrence "
        "is already over (recording a past meeting: nothing is held or checked)"
    )
    first_start: datetime | None = Field(description="The first occurrence's start")
    last_end: datetime | None = Field(description="The last occurrence's end (null: open)")
    requests: list[int] = Field(
        description="Rooms outside the organiser's units: they would be asked for, held only "
        "once the room's unit accepts"
    )
    clashes: list[dict[str, Any]] = Field(
        description="As in the 409 booking-conflict body: `kind` (room, endpoint, ports), "
        "`resource_id`, `start`, `end`, `candidate_occurrence`, and the other meeting's "
        "`meeting_id`, `meeting_title`, `occurrence` when you may read it"
    )


class MeetingUpdate(MeetingFields):
    """JSON merge patch: fields left out stay as they are."""


class SiteOut(StrictModel):
    site_id: int
    room_id: int
    endpoint_id: int | None
    contacts: list[str]
    approval: Approval = Field(
        default="accepted",
        description="A room outside the organiser's units is a request to the room's unit: "
        "`pending` until it decides; only an `accepted` site holds its room, is dialled and "
        "gets the invitation; `declined` sites stay listed with the unit's note",
    )
    decided_at: datetime | None = None
    decision_note: str | None = None


class InviteeOut(StrictModel):
    email: str
    name: str | None


class MeetingOut(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "version": 1,
                    "sequence": 0,
                    "status": "scheduled",
                    "title": "Họp Ban Chỉ đạo chuyển đổi số quý I/2026",
                    "kind": "meeting",
                    "mode": "hybrid",
                    "organizer_unit_id": 1,
                    "chair": "Đồng chí Phó Thủ tướng Chính phủ, Trưởng Ban Chỉ đạo",
                    "agenda": "1. Kết quả chuyển đổi số quý I tại Lào Cai, Điện Biên\n"
                    "2. Nhiệm vụ quý II",
                    "start": "2026-03-16T01:30:00Z",
                    "end": "2026-03-16T04:00:00Z",
                    "start_local": "2026-03-16T08:30:00+07:00",
                    "end_local": "2026-03-16T11:00:00+07:00",
                    "timezone": "Asia/Ho_Chi_Minh",
                    "rrule": "FREQ=MONTHLY;BYDAY=3MO;COUNT=4",
                    "exdates": [],
                    "host_room_id": 1,
                    "sites": [
                        {
                            "site_id": 101,
                            "room_id": 1,
                            "endpoint_id": 1,
                            "contacts": [],
                            "approval": "accepted",
                            "decided_at": None,
                            "decision_note": None,
                        },
                        {
                            "site_id": 102,
                            "room_id": 12,
                            "endpoint_id": 31,
                            "contacts": ["vanphong@laocai.gov.vn"],
                            "approval": "accepted",
                            "decided_at": "2026-03-10T02:15:00Z",
                            "decision_note": "Phòng họp trực tuyến UBND tỉnh Lào Cai sẵn sàng",
                        },
                        {
                            "site_id": 103,
                            "room_id": 15,
                            "endpoint_id": None,
                            "contacts": ["vanphong@dienbien.gov.vn"],
                            "approval": "pending",
                            "decided_at": None,
                            "decision_note": None,
                        },
                    ],
                    "invited": [{"email": "thuky.bcd@vpcp.gov.vn", "name": "Trần Thị Bình"}],
                    "preferred_bridge": None,
                    "external_ref": "125/GM-BCĐ",
                    "created_by": "vanphong.tw",
                    "created_at": "2026-03-09T03:00:00Z",
                    "updated_at": "2026-03-10T02:15:00Z",
                }
            ]
        },
    )

    id: int
    version: int
    sequence: int
    status: Status
    title: str
    kind: Kind
    mode: Mode
    organizer_unit_id: int
    chair: str | None
    agenda: str | None
    start: datetime
    end: datetime
    start_local: str = Field(description="Start in the meeting's zone, RFC 3339 with offset")
    end_local: str
    timezone: str
    rrule: str | None
    exdates: list[datetime]
    host_room_id: int | None = Field(
        description="The room from which the meeting is chaired (dialled first; in the "
        "organiser's scope)"
    )
    sites: list[SiteOut]
    invited: list[InviteeOut]
    preferred_bridge: str | None
    external_ref: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class MeetingPage(StrictModel):
    items: list[MeetingOut]
    next: str | None


class MeetingQuery(StrictModel):
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    unit: int | None = Field(default=None, description="Organised by this unit's subtree")
    kind: Kind | None = None
    mode: Mode | None = None
    status: Status | None = None
    site: int | None = Field(default=None, description="Rooms taking part: a room id")
    q: Annotated[str, Field(max_length=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CalendarQuery(StrictModel):
    """The occurrences of the meetings you may see in a window (at most 100 days)."""

    from_: AwareDatetime = Field(alias="from", description="Window start (RFC 3339)")
    to: AwareDatetime = Field(description="Window end (RFC 3339), at most 100 days after from")
    unit: int | None = Field(default=None, description="Organised by this unit's subtree")
    kind: Kind | None = None
    mode: Mode | None = None
    status: Status | None = Field(default=None, description="The meeting's status")
    site: int | None = Field(default=None, description="Rooms taking part: a room id")
    q: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="Words of the title, chair or agenda (accents optional)"
    )
    cancelled: bool = Field(default=False, description="Also list cancelled occurrences")
    limit: Annotated[int, Field(ge=1, le=1000)] = 500
    cursor: Annotated[str, Field(max_length=200)] | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CalendarEntryOut(StrictModel):
    """One occurrence with what a calendar shows of its meeting."""

    meeting_id: int
    key: str = Field(description="RECURRENCE-ID: the original start, UTC, YYYYMMDDTHHMMSSZ")
    start: datetime
    end: datetime
    cancelled: bool = Field(description="This occurrence is cancelled (or the whole meeting)")
    moved: bool = Field(description="This occurrence was moved from its original time")
    title: str
    kind: Kind
    mode: Mode
    status: Status
    organizer_unit_id: int
    organizer_unit_name: str
    host_room_id: int | None
    timezone: str = Field(description="The meeting's zone, e.g. Asia/Ho_Chi_Minh")
    recurring: bool
    site_count: int = Field(description="Rooms taking part (accepted sites of the meeting)")
    chair: str | None


class CalendarPage(StrictModel):
    items: list[CalendarEntryOut]
    next: str | None


class WindowQuery(StrictModel):
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OccurrenceOut(StrictModel):
    key: str = Field(description="RECURRENCE-ID: the original start, UTC, YYYYMMDDTHHMMSSZ")
    start: datetime
    end: datetime
    cancelled: bool
    moved: bool
    sites: list[SiteOut | dict[str, Any]]


class OccurrenceList(StrictModel):
    meeting_id: int
    items: list[OccurrenceOut]


class OccurrenceChange(StrictModel):
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    cancelled: bool | None = None
    sites: Annotated[list[SiteIn], Field(max_length=MAX_SITES)] | None = None


class ChangesQuery(StrictModel):
    since: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 200


class ChangeOut(StrictModel):
    cursor: str
    meeting_id: int
    version: int
    action: str
    at: datetime
    meeting: dict[str, Any]


class ChangePage(StrictModel):
    items: list[ChangeOut]
    next: str = Field(description="Pass as ?since= to get what happens next")


class AvailabilityQuery(StrictModel):
    rooms: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[0-9]+(,[0-9]+)*$")]
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("rooms")
    @classmethod
    def _ids_the_database_holds(cls, value: str) -> str:
        # The ids are 32-bit columns: a larger one could only fail inside the driver.
        if any(int(part) > 2**31 - 1 for part in value.split(",")):
            raise ValueError(f"room ids are at most {2**31 - 1}")
        return value


class BusySpan(StrictModel):
    start: datetime
    end: datetime
    busy: bool


class RoomAvailability(StrictModel):
    room_id: int
    spans: list[BusySpan]


class PortSpan(StrictModel):
    start: datetime
    end: datetime
    in_use: int
    free: int


class Availability(StrictModel):
    rooms: list[RoomAvailability]
    ports: list[PortSpan]
    ports_total: int


class FeedTokenCreate(StrictModel):
    unit_id: int
    label: Line | None = None


class FeedTokenCreated(StrictModel):
    id: int
    unit_id: int
    token: str = Field(description="Shown once")
    url: str


class FeedQuery(StrictModel):
    token: Annotated[str, Field(min_length=16, max_length=200)]


class SiteDecision(StrictModel):
    decision: Literal["accept", "decline"] = Field(
        description="`accept` holds the room for the meeting (409 when it is taken at one "
        "of the meeting's times); `decline` frees it, also after an acceptance"
    )
    note: Annotated[Line, Field(max_length=1000)] | None = Field(
        default=None, description="Shown to the organiser and sent in the mail"
    )


class SiteRequestQuery(StrictModel):
    status: Approval = "pending"
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None


class SiteRequestOut(StrictModel):
    """A site in a room of the caller's scope asked for by another unit: only what deciding
    needs of the requesting meeting (which the room's unit may otherwise not read)."""

    site_id: int
    meeting_id: int
    room_id: int
    room_name: str
    room_unit_id: int
    room_unit_name: str
    approval: Approval
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    meeting_title: str
    meeting_status: Status
    organizer_unit_id: int
    organizer_unit_name: str
    start: datetime = Field(description="The first occurrence's start")
    end: datetime
    timezone: str
    rrule: str | None
    series_end: datetime | None = Field(description="The last occurrence's end (null: open)")


class SiteRequestPage(StrictModel):
    items: list[SiteRequestOut]
    next: str | None
