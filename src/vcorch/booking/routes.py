"""HTTP edge of the meeting register: /api/meetings, occurrences, the change feed, availability."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from vcorch.access import EVERYONE, Actor, Principal, Role
from vcorch.booking import schemas
from vcorch.booking.recurrence import occurrence_key_text
from vcorch.booking.service import BookingService, MeetingRecord, meeting_view
from vcorch.errors import FieldProblem, InvalidInput
from vcorch.web import ApiRoutes, Created, Reply, decode_cursor, encode_cursor, page_response

routes = ApiRoutes(tag="Meetings")
BOOKING = web.AppKey("booking", BookingService)

READERS = EVERYONE
BOOKERS = (Role.ADMIN, Role.SECRETARIAT)
ID = "{id:[0-9]+}"


def etag(version: int) -> str:
    return f'"v{version}"'


def if_match(request: web.Request) -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    match = re.fullmatch(r'\s*(?:W/)?"v?([0-9]{1,9})"\s*|\s*([0-9]{1,9})\s*', header)
    if match is None:
        # An unparseable If-Match can match no version: a stale write.
        return -1
    return int(match.group(1) or match.group(2))


def _out(record: MeetingRecord) -> schemas.MeetingOut:
    return schemas.MeetingOut.model_validate(meeting_view(record.meeting, record.sites))


def _meeting_reply(record: MeetingRecord) -> Reply:
    return Reply(_out(record), headers={"ETag": etag(record.meeting.version)})


def _occurrence_key(raw: str) -> datetime:
    try:
        return datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as err:
        raise InvalidInput(
            "bad occurrence key", problems=[FieldProblem("key", "use YYYYMMDDTHHMMSSZ (UTC)")]
        ) from err


@routes.post(
    "/api/meetings",
    summary="Book a meeting (or record one held in the past)",
    body=schemas.MeetingCreate,
    response=schemas.MeetingOut,
    status=201,
    roles=BOOKERS,
)
async def create_meeting(
    data: schemas.MeetingCreate, actor: Actor, app: web.Application
) -> Created:
    record = await app[BOOKING].create(actor, data)
    return Created(
        _out(record),
        location=f"/api/meetings/{record.meeting.id}",
        headers={"ETag": etag(record.meeting.version)},
    )


@routes.post(
    "/api/meetings/check",
    summary="Check a booking before saving it: validation and clashes, nothing stored",
    description="Takes what `POST /api/meetings` takes (and, for an edit, `meeting_id`). "
    "Bad input is answered as a save would answer it (422, 403, 404); clashes with other "
    "bookings are listed with 200 and `ok: false` instead of a 409. A check holds nothing: "
    "another booking may take the room before you save, which the save then reports.",
    body=schemas.MeetingCheck,
    response=schemas.BookingCheck,
    roles=BOOKERS,
)
async def check_meeting(
    data: schemas.MeetingCheck, actor: Actor, app: web.Application
) -> schemas.BookingCheck:
    return await app[BOOKING].check(actor, data)


@routes.get(
    "/api/meetings",
    summary="List meetings you may see",
    query=schemas.MeetingQuery,
    response=schemas.MeetingPage,
    roles=READERS,
)
async def list_meetings(
    query: schemas.MeetingQuery, me: Principal, app: web.Application
) -> schemas.MeetingPage:
    records, after = await app[BOOKING].list_meetings(me, query, decode_cursor(query.cursor))
    return schemas.MeetingPage(
        items=[_out(r) for r in records], next=encode_cursor(after) if after else None
    )


@routes.get(
    "/api/occurrences",
    summary="The occurrences in a window of the meetings you may see (the calendar)",
    description="Each stored occurrence overlapping `[from, to)` (at most 100 days), with its"
    " meeting's title, kind, mode, status, organiser and site count; filters as"
    " `GET /api/meetings`. Cancelled occurrences and meetings only with `cancelled=true`."
    " Paged by occurrence: sort by `start` yourself.",
    query=schemas.CalendarQuery,
    response=schemas.CalendarPage,
    roles=READERS,
)
async def calendar(
    query: schemas.CalendarQuery, me: Principal, app: web.Application
) -> schemas.CalendarPage:
    entries, after = await app[BOOKING].calendar(me, query, decode_cursor(query.cursor))
    items = []
    for entry in entries:
        occ, meeting = entry.occurrence, entry.meeting
        items.append(
            schemas.CalendarEntryOut(
                meeting_id=meeting.id,
                key=occurrence_key_text(occ.occurrence_key),
                start=occ.start_at,
                end=occ.end_at,
                cancelled=occ.cancelled or meeting.status == "cancelled",
                moved=occ.start_at != occ.occurrence_key,
                title=meeting.title,
                kind=meeting.kind,
                mode=meeting.mode,
                status=meeting.status,
                organizer_unit_id=meeting.organizer_unit_id,
                organizer_unit_name=entry.organizer_unit_name,
                host_room_id=meeting.host_room_id,
                timezone=meeting.timezone,
                recurring=meeting.rrule is not None,
                site_count=entry.site_count,
                chair=meeting.chair,
            )
        )
    return schemas.CalendarPage(items=items, next=encode_cursor(after) if after else None)


@routes.get(
    "/api/meetings/changes",
    summary="Every change since a cursor (calendar replication)",
    query=schemas.ChangesQuery,
    response=schemas.ChangePage,
    roles=READERS,
)
async def meeting_changes(
    query: schemas.ChangesQuery, me: Principal, app: web.Application
) -> schemas.ChangePage:
    since = decode_cursor(query.since) or 0
    rows, last = await app[BOOKING].changes(me, since, query.limit)
    items = [
        schemas.ChangeOut(
            cursor=encode_cursor(row.id),
            meeting_id=row.meeting_id,
            version=row.version,
            action=row.action,
            at=row.at,
            meeting=row.snapshot,
        )
        for row in rows
    ]
    return schemas.ChangePage(items=items, next=encode_cursor(last))


@routes.get(
    f"/api/meetings/{ID}",
    summary="Read a meeting (ETag carries its version)",
    response=schemas.MeetingOut,
    roles=READERS,
)
async def get_meeting(id: int, me: Principal, app: web.Application) -> Reply:
    return _meeting_reply(await app[BOOKING].get(me, id))


@routes.patch(
    f"/api/meetings/{ID}",
    summary="Change a meeting (If-Match required)",
    body=schemas.MeetingUpdate,
    response=schemas.MeetingOut,
    roles=BOOKERS,
)
async def update_meeting(
    id: int, data: schemas.MeetingUpdate, actor: Actor, request: web.Request
) -> Reply:
    record = await request.app[BOOKING].update(actor, id, if_match(request), data)
    return _meeting_reply(record)


@routes.delete(
    f"/api/meetings/{ID}",
    summary="Cancel a meeting (nothing is erased; If-Match required)",
    response=schemas.MeetingOut,
    roles=BOOKERS,
)
async def cancel_meeting(id: int, actor: Actor, request: web.Request) -> Reply:
    return _meeting_reply(await request.app[BOOKING].cancel(actor, id, if_match(request)))


@routes.get(
    f"/api/meetings/{ID}/occurrences",
    summary="Occurrences of a meeting in a window",
    query=schemas.WindowQuery,
    response=schemas.OccurrenceList,
    roles=READERS,
)
async def list_occurrences(
    id: int, query: schemas.WindowQuery, me: Principal, app: web.Application
) -> schemas.OccurrenceList:
    record, found = await app[BOOKING].occurrences(me, id, query.from_, query.to)
    items = [
        schemas.OccurrenceOut(
            key=occurrence_key_text(occ.key),
            start=occ.start,
            end=occ.end,
            cancelled=occ.cancelled,
            moved=occ.moved,
            sites=sites,
        )
        for occ, sites in found
    ]
    return schemas.OccurrenceList(meeting_id=record.meeting.id, items=items)


@routes.patch(
    f"/api/meetings/{ID}/occurrences/{{key}}",
    summary="Move, cancel or re-site one occurrence (If-Match)",
    body=schemas.OccurrenceChange,
    response=schemas.MeetingOut,
    roles=BOOKERS,
)
async def change_occurrence(
    id: int, key: str, data: schemas.OccurrenceChange, actor: Actor, request: web.Request
) -> Reply:
    record = await request.app[BOOKING].change_occurrence(
        actor, id, _occurrence_key(key), if_match(request), data
    )
    return _meeting_reply(record)


@routes.delete(
    f"/api/meetings/{ID}/occurrences/{{key}}",
    summary="Cancel one occurrence (If-Match)",
    response=schemas.MeetingOut,
    roles=BOOKERS,
)
async def cancel_occurrence(id: int, key: str, actor: Actor, request: web.Request) -> Reply:
    record = await request.app[BOOKING].change_occurrence(
        actor, id, _occurrence_key(key), if_match(request), schemas.OccurrenceChange(cancelled=True)
    )
    return _meeting_reply(record)


@routes.get(
    "/api/availability",
    summary="Free/busy per room and free bridge ports in a window",
    query=schemas.AvailabilityQuery,
    response=schemas.Availability,
    roles=READERS,
)
async def availability(
    query: schemas.AvailabilityQuery, me: Principal, app: web.Application
) -> schemas.Availability:
    room_ids = list(dict.fromkeys(int(r) for r in query.rooms.split(",")))[:200]
    rooms, ports, total = await app[BOOKING].availability(me, room_ids, query.from_, query.to)
    return schemas.Availability(
        rooms=[
            schemas.RoomAvailability(
                room_id=room,
                spans=[schemas.BusySpan(start=s.start, end=s.end, busy=s.busy) for s in spans],
            )
            for room, spans in rooms.items()
        ],
        ports=[
            schemas.PortSpan(start=p.start, end=p.end, in_use=p.in_use, free=p.free) for p in ports
        ],
        ports_total=total,
    )


@routes.post(
    f"/api/meetings/{ID}/sites/{{site_id:[0-9]+}}/approval",
    summary="Accept or decline a site in a room of your unit (the room's unit decides)",
    description="A site whose room lies outside the organiser's units is a request: the "
    "room is not held, dialled or expected until the room's unit accepts. Anyone in the "
    "secretariat or admin role whose scope includes the room's unit decides; others get "
    "404. Accepting checks the room against the meetings holding it (409 booking-conflict "
    "when taken); declining frees the room, also after an acceptance. The organiser's "
    "secretariat is told by mail; every decision is audited. A site in the organiser's "
    "own units is no request (409 site-not-requested).",
    body=schemas.SiteDecision,
    response=schemas.SiteRequestOut,
    roles=BOOKERS,
)
async def decide_site(
    id: int, site_id: int, data: schemas.SiteDecision, actor: Actor, app: web.Application
) -> schemas.SiteRequestOut:
    view = await app[BOOKING].decide_site(actor, id, site_id, data.decision, data.note)
    return schemas.SiteRequestOut.model_validate(view)


@routes.delete(
    f"/api/meetings/{ID}/sites/{{site_id:[0-9]+}}",
    summary="Take your unit's room out of another unit's meeting",
    description="The room's unit (secretariat or admin, by scope) declines the site: the "
    "room is free again, the site stays listed to the organiser as `declined`, and the "
    "organiser's secretariat is told by mail. The same as the approval route with "
    "`decline`. A site already dialled in a live run stays connected until the run ends.",
    response=schemas.SiteRequestOut,
    roles=BOOKERS,
)
async def take_room_out(
    id: int, site_id: int, actor: Actor, app: web.Application
) -> schemas.SiteRequestOut:
    view = await app[BOOKING].decide_site(actor, id, site_id, "decline", None)
    return schemas.SiteRequestOut.model_validate(view)


@routes.get(
    "/api/site-requests",
    summary="Requests by other units for rooms in your scope",
    description="Sites in rooms of your unit's subtree asked for by a unit whose subtree "
    "does not hold them, by approval state (default `pending`). Shows the requesting "
    "meeting's title, organiser, times and the room; nothing more of that meeting.",
    query=schemas.SiteRequestQuery,
    response=schemas.SiteRequestPage,
    roles=BOOKERS,
)
async def site_requests(
    query: schemas.SiteRequestQuery, me: Principal, app: web.Application
) -> schemas.SiteRequestPage:
    items, after = await app[BOOKING].site_requests(
        me, query.status, decode_cursor(query.cursor), query.limit
    )
    return schemas.SiteRequestPage(
        items=[schemas.SiteRequestOut.model_validate(i) for i in items],
        next=encode_cursor(after) if after else None,
    )


# -- the console's pages -------------------------------------------------------------------------


async def calendar_page(_request: web.Request) -> web.StreamResponse:
    """The calendar: the page holds no data, it signs in and reads the API from the browser."""
    return page_response("calendar.html")


async def site_requests_page(_request: web.Request) -> web.StreamResponse:
    """Other units' requests for the rooms of your scope, to accept or decline."""
    return page_response("site-requests.html")


async def booking_page(_request: web.Request) -> web.StreamResponse:
    """The booking form: new, edit (``/meetings/{id}/edit``) and copy (``?copy={id}``)."""
    return page_response("meeting-form.html")


async def site_groups_page(_request: web.Request) -> web.StreamResponse:
    """Saved sets of sites (the API is the organisation's: ``/api/site-groups``)."""
    return page_response("site-groups.html")


def mount_pages(app: web.Application) -> None:
    app.router.add_get("/calendar", calendar_page)
    app.router.add_get("/site-requests", site_requests_page)
    app.router.add_get("/meetings/new", booking_page)
    app.router.add_get(f"/meetings/{ID}/edit", booking_page)
    app.router.add_get("/site-groups", site_groups_page)
