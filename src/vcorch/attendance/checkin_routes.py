"""HTTP edge of who came: the roster, operator check-ins, and the signed self check-in link
with its public page and QR code (the token being the credential).

- ``/api/meetings/{id}/roster``, ``/api/meetings/{id}/checkins``
- ``POST /api/meetings/{id}/checkin-links``: a signed link and its QR code
- public: ``GET|POST /api/checkin/{token}``, ``GET /api/checkin/{token}/qr.svg`` and the page
  ``GET /checkin/{token}``
"""

from __future__ import annotations

from aiohttp import web

from vcorch.access import Actor, Principal
from vcorch.attendance import schemas
from vcorch.attendance.links import qr_svg
from vcorch.attendance.routes import (
    ID,
    LINK_PATH_PART,
    READERS,
    RECORDERS,
    ROSTER_KEEPERS,
    SVG,
    checkin_out,
    person_out,
    service_of,
)
from vcorch.booking import occurrence_key_text
from vcorch.web import (
    CHECKIN_THROTTLE,
    ApiRoutes,
    Created,
    NoContent,
    Reply,
    client_address,
    page_response,
)

# The same tag as the reports': one chapter of the API reference.
routes = ApiRoutes(tag="Attendance")


@routes.get(
    f"/api/meetings/{ID}/roster",
    summary="The people expected at the meeting",
    response=schemas.RosterOut,
    roles=READERS,
)
async def get_roster(id: int, me: Principal, app: web.Application) -> schemas.RosterOut:
    rows = await service_of(app).roster(me, id)
    return schemas.RosterOut(items=[person_out(row) for row in rows])


@routes.post(
    f"/api/meetings/{ID}/roster",
    summary="Add people to the roster (a person already on it is kept once)",
    body=schemas.RosterCreate,
    response=schemas.RosterOut,
    roles=ROSTER_KEEPERS,
)
async def add_roster(
    id: int, data: schemas.RosterCreate, actor: Actor, app: web.Application
) -> schemas.RosterOut:
    rows = await service_of(app).add_to_roster(actor, id, data)
    return schemas.RosterOut(items=[person_out(row) for row in rows])


@routes.delete(
    f"/api/meetings/{ID}/roster/{{person_id:[0-9]+}}",
    summary="Remove a person from the roster",
    status=204,
    roles=ROSTER_KEEPERS,
)
async def remove_roster(id: int, person_id: int, actor: Actor, app: web.Application) -> NoContent:
    await service_of(app).remove_from_roster(actor, id, person_id)
    return NoContent()


@routes.post(
    f"/api/meetings/{ID}/checkins",
    summary="Check a person in at a site (the site's operator); 200 if already checked in",
    body=schemas.CheckInCreate,
    response=schemas.CheckInOut,
    status=201,
    roles=RECORDERS,
)
async def check_in(
    id: int, data: schemas.CheckInCreate, actor: Actor, app: web.Application
) -> Reply:
    row, new = await service_of(app).check_in(actor, id, data)
    return Reply(checkin_out(row), status=201 if new else 200)


@routes.get(
    f"/api/meetings/{ID}/checkins",
    summary="People checked in at an occurrence",
    query=schemas.OccurrenceQuery,
    response=schemas.PeopleOut,
    roles=READERS,
)
async def list_checkins(
    id: int, query: schemas.OccurrenceQuery, me: Principal, app: web.Application
) -> schemas.PeopleOut:
    service = service_of(app)
    rows = await service.list_checkins(me, id, query.occurrence)
    roster = await service.roster(me, id)
    from_roster = {row.roster_id for row in rows if row.roster_id is not None}
    return schemas.PeopleOut(
        roster_size=len(roster),
        checked_in=len(rows),
        checked_in_from_roster=len(from_roster),
        items=[checkin_out(row) for row in rows],
        not_checked_in=[person_out(r) for r in roster if r.id not in from_roster],
    )


@routes.delete(
    f"/api/meetings/{ID}/checkins/{{checkin_id:[0-9]+}}",
    summary="Remove a check-in (a mistake)",
    status=204,
    roles=RECORDERS,
)
async def remove_checkin(id: int, checkin_id: int, actor: Actor, app: web.Application) -> NoContent:
    await service_of(app).remove_checkin(actor, id, checkin_id)
    return NoContent()


# -- self check-in ---------------------------------------------------------------------------


@routes.post(
    f"/api/meetings/{ID}/checkin-links",
    summary="A signed self check-in link for an occurrence (and a site), with its QR code",
    body=schemas.LinkCreate,
    response=schemas.LinkOut,
    status=201,
    roles=RECORDERS,
)
async def issue_link(
    id: int, data: schemas.LinkCreate, actor: Actor, app: web.Application
) -> Created:
    link = await service_of(app).issue_link(actor, id, data)
    return Created(
        schemas.LinkOut(
            url=link.url,
            occurrence=occurrence_key_text(link.occurrence_key),
            room_id=link.room_id,
            expires_at=link.expires_at,
            qr_svg=link.qr_svg,
        ),
        headers={"Cache-Control": "no-store"},
    )


@routes.get(
    f"/api/checkin/{LINK_PATH_PART}",
    summary="What a self check-in link is for (public: the link is the credential)",
    response=schemas.LinkInfo,
    authenticated=False,
)
async def checkin_info(token: str, app: web.Application) -> Reply:
    page = await service_of(app).link_page(token)
    return Reply(
        schemas.LinkInfo(
            title=page.title,
            occurrence=occurrence_key_text(page.claims.occurrence_key),
            start=page.start,
            end=page.end,
            timezone=page.zone,
            room_id=page.claims.room_id,
            room_name=page.room_name,
            expires_at=page.claims.expires_at,
        ),
        headers={"Cache-Control": "no-store"},
    )


@routes.post(
    f"/api/checkin/{LINK_PATH_PART}",
    summary="Check oneself in (public: the link is the credential); 200 if already in",
    body=schemas.SelfCheckInForm,
    response=schemas.SelfCheckedIn,
    status=201,
    authenticated=False,
)
async def self_check_in(token: str, data: schemas.SelfCheckInForm, request: web.Request) -> Reply:
    address = client_address(request)
    await request.app[CHECKIN_THROTTLE](address)
    row, new = await service_of(request.app).self_check_in(token, data, address)
    return Reply(
        schemas.SelfCheckedIn(
            full_name=row.full_name,
            unit_name=row.unit_name,
            position=row.position,
            checked_in_at=row.checked_in_at,
            already=not new,
        ),
        status=201 if new else 200,
        headers={"Cache-Control": "no-store"},
    )


@routes.get(
    f"/api/checkin/{LINK_PATH_PART}/qr.svg",
    summary="The link as a QR code (SVG) to show at a site",
    authenticated=False,
    response_content_type=SVG,
)
async def checkin_qr(token: str, app: web.Application) -> web.StreamResponse:
    url = service_of(app).link_url(token)
    return web.Response(
        text=qr_svg(url), content_type=SVG, charset="utf-8", headers={"Cache-Control": "no-store"}
    )


@routes.get(
    f"/checkin/{LINK_PATH_PART}",
    summary="The self check-in page (add #qr to show the code big, for a screen)",
    authenticated=False,
    response_content_type="text/html",
)
async def checkin_page() -> web.StreamResponse:
    # The same page for every link: it reads its token from its own address, so nothing
    # of the request is echoed into it.  Its script is /static/checkin.js.
    response = page_response("checkin.html")
    response.headers["Cache-Control"] = "no-store"
    return response
