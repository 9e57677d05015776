"""HTTP edge of the meeting register: /api/meetings, occurrences, the change feed, availability."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from vcorch.auth.principal import EVERYONE, Role
from vcorch.booking import schemas
from vcorch.booking.recurrence import occurrence_key_text
from vcorch.booking.service import MeetingRecord, meeting_view
from vcorch.errors import FieldProblem, InvalidInput
from vcorch.web.api import (
    ApiRequest,
    ApiRoutes,
    decode_cursor,
    encode_cursor,
    json_response,
)
from vcorch.web.keys import BOOKING, CALENDAR, SETTINGS

routes = ApiRoutes(tag="Meetings")

READERS = EVERYONE
BOOKERS = (Role.ADMIN, Role.SECRETARIAT)
ID = "{id:[0-9]+}"


def etag(version: int) -> str:
    return f'"v{version}"'


def if_match(req: ApiRequest) -> int | None:
    header = req.http.headers.get("If-Match")
    if header is None:
        return None
    match = re.fullmatch(r'\s*(?:W/)?"v?([0-9]{1,9})"\s*|\s*([0-9]{1,9})\s*', header)
    if match is None:
        # An unparseable If-Match can match no version: a stale write.
        return -1
    return int(match.group(1) or match.group(2))


def _out(record: MeetingRecord) -> schemas.MeetingOut:
    return schemas.MeetingOut.model_validate(meeting_view(record.meeting, record.sites))


def _meeting_response(record: MeetingRecord, status: int = 200) -> web.Response:
    headers = {"ETag": etag(record.meeting.version)}
    if status == 201:
        headers["Location"] = f"/api/meetings/{record.meeting.id}"
    return json_response(_out(record), status=status, headers=headers)


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
async def create_meeting(req: ApiRequest) -> web.StreamResponse:
    record = await req.http.app[BOOKING].create(req.actor, req.body_as(schemas.MeetingCreate))
    return _meeting_response(record, 201)


@routes.get(
    "/api/meetings",
    summary="List meetings you may see",
    query=schemas.MeetingQuery,
    response=schemas.MeetingPage,
    roles=READERS,
)
async def list_meetings(req: ApiRequest) -> web.StreamResponse:
    query = req.query_as(schemas.MeetingQuery)
    records, after = await req.http.app[BOOKING].list_meetings(
        req.me, query, decode_cursor(query.cursor)
    )
    return json_response(
        schemas.MeetingPage(
            items=[_out(r) for r in records], next=encode_cursor(after) if after else None
        )
    )


@routes.get(
    "/api/meetings/changes",
    summary="Every change since a cursor (calendar replication)",
    query=schemas.ChangesQuery,
    response=schemas.ChangePage,
    roles=READERS,
)
async def meeting_changes(req: ApiRequest) -> web.StreamResponse:
    query = req.query_as(schemas.ChangesQuery)
    since = decode_cursor(query.since) or 0
    rows, last = await req.http.app[BOOKING].changes(req.me, since, query.limit)
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
    return json_response(schemas.ChangePage(items=items, next=encode_cursor(last)))


@routes.get(
    f"/api/meetings/{ID}",
    summary="Read a meeting (ETag carries its version)",
    response=schemas.MeetingOut,
    roles=READERS,
)
async def get_meeting(req: ApiRequest) -> web.StreamResponse:
    return _meeting_response(await req.http.app[BOOKING].get(req.me, req.path_id()))


@routes.patch(
    f"/api/meetings/{ID}",
    summary="Change a meeting (If-Match required)",
    body=schemas.MeetingUpdate,
    response=schemas.MeetingOut,
    roles=BOOKERS,
)
async def update_meeting(req: ApiRequest) -> web.StreamResponse:
    record = await req.http.app[BOOKING].update(
        req.actor, req.path_id(), if_match(req), req.body_as(schemas.MeetingUpdate)
    )
    return _meeting_response(record)


@routes.delete(
    f"/api/meetings/{ID}",
    summary="Cancel a meeting (nothing is erased; If-Match required)",
    response=schemas.MeetingOut,
    roles=BOOKERS,
)
async def cancel_meeting(req: ApiRequest) -> web.StreamResponse:
    return _meeting_response(
        await req.http.app[BOOKING].cancel(req.actor, req.path_id(), if_match(req))
    )


@routes.get(
    f"/api/meetings/{ID}/occurrences",
    summary="Occurrences of a meeting in a window",
    query=schemas.WindowQuery,
    response=schemas.OccurrenceList,
    roles=READERS,
)
async def list_occurrences(req: ApiRequest) -> web.StreamResponse:
    query = req.query_as(schemas.WindowQuery)
    record, found = await req.http.app[BOOKING].occurrences(
        req.me, req.path_id(), query.from_, query.to
    )
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
    return json_response(schemas.OccurrenceList(meeting_id=record.meeting.id, items=items))


@routes.patch(
    f"/api/meetings/{ID}/occurrences/{{key}}",
    summary="Move, cancel or re-site one occurrence (If-Match)",
    body=schemas.OccurrenceChange,
    response=schemas.MeetingOut,
    roles=BOOKERS,
)
async def change_occurrence(req: ApiRequest) -> web.StreamResponse:
    key = _occurrence_key(req.http.match_info["key"])
    record = await req.http.app[BOOKING].change_occurrence(
        req.actor, req.path_id(), key, if_match(req), req.body_as(schemas.OccurrenceChange)
    )
    return _meeting_response(record)


@routes.delete(
    f"/api/meetings/{ID}/occurrences/{{key}}",
    summary="Cancel one occurrence (If-Match)",
    response=schemas.MeetingOut,
    roles=BOOKERS,
)
async def cancel_occurrence(req: ApiRequest) -> web.StreamResponse:
    key = _occurrence_key(req.http.match_info["key"])
    record = await req.http.app[BOOKING].change_occurrence(
        req.actor, req.path_id(), key, if_match(req), schemas.OccurrenceChange(cancelled=True)
    )
    return _meeting_response(record)


@routes.get(
    "/api/availability",
    summary="Free/busy per room and free bridge ports in a window",
    query=schemas.AvailabilityQuery,
    response=schemas.Availability,
    roles=READERS,
)
async def availability(req: ApiRequest) -> web.StreamResponse:
    query = req.query_as(schemas.AvailabilityQuery)
    room_ids = list(dict.fromkeys(int(r) for r in query.rooms.split(",")))[:200]
    rooms, ports, total = await req.http.app[BOOKING].availability(
        req.me, room_ids, query.from_, query.to
    )
    return json_response(
        schemas.Availability(
            rooms=[
                schemas.RoomAvailability(
                    room_id=room,
                    spans=[schemas.BusySpan(start=s.start, end=s.end, busy=s.busy) for s in spans],
                )
                for room, spans in rooms.items()
            ],
            ports=[
                schemas.PortSpan(start=p.start, end=p.end, in_use=p.in_use, free=p.free)
                for p in ports
            ],
            ports_total=total,
        )
    )


ICS = "text/calendar"


def _ics(data: bytes, filename: str) -> web.Response:
    return web.Response(
        body=data,
        content_type=ICS,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@routes.get(
    f"/api/meetings/{ID}.ics",
    summary="The meeting as iCalendar",
    roles=READERS,
    response_content_type=ICS,
)
async def meeting_ics(req: ApiRequest) -> web.StreamResponse:
    meeting_id = req.path_id()
    return _ics(
        await req.http.app[CALENDAR].meeting_ics(req.me, meeting_id), f"meeting-{meeting_id}.ics"
    )


@routes.post(
    "/api/calendar-tokens",
    summary="Create a unit calendar feed token (shown once)",
    body=schemas.FeedTokenCreate,
    response=schemas.FeedTokenCreated,
    status=201,
    roles=(Role.ADMIN, Role.SECRETARIAT, Role.INTEGRATION),
)
async def create_feed_token(req: ApiRequest) -> web.StreamResponse:
    data = req.body_as(schemas.FeedTokenCreate)
    row, token, code = await req.http.app[CALENDAR].create_token(
        req.actor, data.unit_id, data.label
    )
    base = req.http.app[SETTINGS].public_url.rstrip("/")
    return json_response(
        schemas.FeedTokenCreated(
            id=row.id,
            unit_id=row.unit_id,
            token=token,
            url=f"{base}/api/calendar/{code}.ics?token={token}",
        ),
        status=201,
        headers={"Cache-Control": "no-store"},
    )


@routes.delete(
    "/api/calendar-tokens/{id:[0-9]+}",
    summary="Revoke a calendar feed token",
    status=204,
    roles=(Role.ADMIN, Role.SECRETARIAT, Role.INTEGRATION),
)
async def revoke_feed_token(req: ApiRequest) -> web.StreamResponse:
    await req.http.app[CALENDAR].revoke_token(req.actor, req.path_id())
    return web.Response(status=204)


@routes.get(
    "/api/calendar/{unit_code}.ics",
    summary="A unit's calendar feed (authenticated by its feed token)",
    query=schemas.FeedQuery,
    authenticated=False,
    response_content_type=ICS,
)
async def unit_calendar(req: ApiRequest) -> web.StreamResponse:
    token = req.query_as(schemas.FeedQuery).token
    code = req.http.match_info["unit_code"]
    return _ics(await req.http.app[CALENDAR].unit_feed(code, token), f"{code}.ics")
