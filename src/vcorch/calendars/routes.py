"""HTTP edge of the calendars: a meeting's .ics, unit feed tokens and the unit feeds."""

from __future__ import annotations

from aiohttp import web

from vcorch.access import EVERYONE, Actor, Principal, Role
from vcorch.booking import schemas
from vcorch.calendars.feed import CalendarService
from vcorch.web import SETTINGS, ApiRoutes, Created, NoContent

# The same tag as the meetings': people look for a meeting's calendar beside the meeting.
routes = ApiRoutes(tag="Meetings")
CALENDAR = web.AppKey("calendar", CalendarService)

READERS = EVERYONE
ID = "{id:[0-9]+}"

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
async def meeting_ics(id: int, me: Principal, app: web.Application) -> web.StreamResponse:
    return _ics(await app[CALENDAR].meeting_ics(me, id), f"meeting-{id}.ics")


@routes.post(
    "/api/calendar-tokens",
    summary="Create a unit calendar feed token (shown once)",
    body=schemas.FeedTokenCreate,
    response=schemas.FeedTokenCreated,
    status=201,
    roles=(Role.ADMIN, Role.SECRETARIAT, Role.INTEGRATION),
)
async def create_feed_token(
    data: schemas.FeedTokenCreate, actor: Actor, app: web.Application
) -> Created:
    row, token, code = await app[CALENDAR].create_token(actor, data.unit_id, data.label)
    base = app[SETTINGS].public_url.rstrip("/")
    return Created(
        schemas.FeedTokenCreated(
            id=row.id,
            unit_id=row.unit_id,
            token=token,
            url=f"{base}/api/calendar/{code}.ics?token={token}",
        ),
        headers={"Cache-Control": "no-store"},
    )


@routes.delete(
    "/api/calendar-tokens/{id:[0-9]+}",
    summary="Revoke a calendar feed token",
    status=204,
    roles=(Role.ADMIN, Role.SECRETARIAT, Role.INTEGRATION),
)
async def revoke_feed_token(id: int, actor: Actor, app: web.Application) -> NoContent:
    await app[CALENDAR].revoke_token(actor, id)
    return NoContent()


@routes.get(
    "/api/calendar/{unit_code}.ics",
    summary="A unit's calendar feed (authenticated by its feed token)",
    query=schemas.FeedQuery,
    authenticated=False,
    response_content_type=ICS,
)
async def unit_calendar(
    unit_code: str, query: schemas.FeedQuery, app: web.Application
) -> web.StreamResponse:
    return _ics(await app[CALENDAR].unit_feed(unit_code, query.token), f"{unit_code}.ics")
