"""HTTP edge of attendance: reports and exports, manual entries, headcounts, roster,
check-ins, and the signed self check-in link with its page and QR code.

- ``GET /api/meetings/{id}/attendance[?occurrence=&format=json|csv|xlsx]``
- ``GET /api/attendance?unit=&from=&to=[&format=]``: per unit over a period
- ``/api/meetings/{id}/attendance/entries``, ``/headcounts``, ``/roster``, ``/checkins``
- ``POST /api/meetings/{id}/checkin-links``: a signed link and its QR code
- public, the token being the credential: ``GET|POST /api/checkin/{token}``,
  ``GET /api/checkin/{token}/qr.svg`` and the page ``GET /checkin/{token}``
"""

from __future__ import annotations

from aiohttp import web

from vcorch.access import EVERYONE, Actor, Principal, Role
from vcorch.attendance import export, schemas
from vcorch.attendance.intervals import Interval, ParticipantTimeline
from vcorch.attendance.links import qr_svg
from vcorch.attendance.models import CheckIn, Headcount, ManualEntry, RosterEntry
from vcorch.attendance.report import SiteReport
from vcorch.attendance.service import (
    AttendanceService,
    MeetingAttendance,
    UnitAttendance,
    UnitTally,
)
from vcorch.booking import occurrence_key_text
from vcorch.web import ApiRoutes, Created, NoContent, Reply, page_response

ATTENDANCE = web.AppKey("attendance", AttendanceService)

routes = ApiRoutes(tag="Attendance")

READERS = EVERYONE
# People at a site record what happened there; the secretariat may for any site it organises.
RECORDERS = (Role.ADMIN, Role.SECRETARIAT, Role.OPERATOR)
ROSTER_KEEPERS = (Role.ADMIN, Role.SECRETARIAT)
ID = "{id:[0-9]+}"
LINK_PATH_PART = r"{token:[0-9A-Za-z._-]{1,200}}"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SVG = "image/svg+xml"


def _service(app: web.Application) -> AttendanceService:
    return app[ATTENDANCE]


def _download(body: bytes, content_type: str, filename: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8" if content_type == CSV else None,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- views ------------------------------------------------------------------------------------


def _interval(item: Interval) -> schemas.IntervalOut:
    return schemas.IntervalOut(
        start=item.start,
        end=item.end,
        start_mark=item.start_mark,
        end_mark=item.end_mark,
        channels=sorted(item.channels),
        sources=sorted(item.sources),
    )


def _participant(item: ParticipantTimeline) -> schemas.ParticipantOut:
    parts = item.participant.split("|", 2)
    if parts[0] == "manual":
        bridge, conference, ident = None, None, item.participant
    elif len(parts) == 3:
        bridge, conference, ident = parts[0], parts[1], parts[2]
    else:
        bridge, conference, ident = None, None, item.participant
    return schemas.ParticipantOut(
        bridge=bridge,
        conference_id=conference,
        participant_id=ident,
        display_name=item.display_name,
        connected_seconds=int(sum(i.seconds for i in item.intervals)),
        intervals=[_interval(i) for i in item.intervals],
        leaves_without_join=item.unmatched_leaves,
    )


def _site(site: SiteReport) -> schemas.SiteAttendanceOut:
    outcome = site.outcome
    return schemas.SiteAttendanceOut(
        room_id=site.place.room_id,
        room_name=site.place.room_name,
        unit_id=site.place.unit_id,
        unit_name=site.place.unit_name,
        site_id=site.place.run_site_id,
        status=outcome.status,
        connected_seconds=int(outcome.connected_seconds),
        share=round(outcome.share, 4),
        first_join=outcome.first_join,
        last_leave=outcome.last_leave,
        still_connected=outcome.still_connected,
        took_part_via=outcome.took_part_via,
        channels={name: int(seconds) for name, seconds in outcome.seconds_by_channel.items()},
        reconnects=outcome.reconnects,
        marks=list(outcome.marks),
        intervals=[_interval(i) for i in outcome.intervals],
        participants=[_participant(p) for p in site.participants],
        headcount=site.headcount,
        checked_in=site.checked_in,
    )


def _person(row: RosterEntry) -> schemas.PersonOut:
    return schemas.PersonOut(
        id=row.id,
        full_name=row.full_name,
        unit_name=row.unit_name,
        position=row.position,
        room_id=row.room_id,
    )


def _checkin(row: CheckIn) -> schemas.CheckInOut:
    return schemas.CheckInOut(
        id=row.id,
        full_name=row.full_name,
        unit_name=row.unit_name,
        position=row.position,
        room_id=row.room_id,
        method="self" if row.method == "self" else "operator",
        checked_in_at=row.checked_in_at,
        roster_id=row.roster_id,
    )


def attendance_out(result: MeetingAttendance, service: AttendanceService) -> schemas.AttendanceOut:
    report = result.report
    counts = report.counts()
    checked_roster = {c.roster_id for c in report.checkins if c.roster_id is not None}
    policy = service.policy
    return schemas.AttendanceOut(
        meeting_id=report.data.meeting.id,
        title=report.data.meeting.title,
        occurrence=occurrence_key_text(report.data.ref.key),
        run_id=report.data.run.id if report.data.run is not None else None,
        run_status=report.run_status,
        start=report.window.start,
        end=report.window.end,
        final=report.window.closed,
        timezone=result.zone,
        thresholds=schemas.Thresholds(
            late_after_minutes=int(policy.late_after.total_seconds() // 60),
            left_early_minutes=int(policy.left_early.total_seconds() // 60),
            present_share=policy.present_share,
            reconnect_grace_seconds=int(policy.reconnect_grace.total_seconds()),
        ),
        summary=schemas.Summary(
            sites=len(report.sites),
            present=counts["present"],
            late=counts["late"],
            left_early=counts["left_early"],
            partial=counts["partial"],
            absent=counts["absent"],
            attended=len(report.sites) - counts["absent"],
            headcount=sum(site.headcount or 0 for site in report.sites),
            checked_in=len(report.checkins),
        ),
        sites=[_site(site) for site in report.sites],
        people=schemas.PeopleOut(
            roster_size=len(report.roster),
            checked_in=len(report.checkins),
            checked_in_from_roster=len(checked_roster),
            items=[_checkin(row) for row in report.checkins],
            not_checked_in=[_person(r) for r in report.roster if r.id not in checked_roster],
        ),
        unmatched=[_participant(p) for p in report.unmatched],
    )


def _unit_row(row: UnitTally) -> schemas.UnitRow:
    return schemas.UnitRow(
        unit_id=row.unit_id,
        code=row.code,
        name=row.name,
        invited=row.invited,
        attended=row.attended,
        rate=round(row.rate, 4),
        present=row.by_status["present"],
        late=row.by_status["late"],
        left_early=row.by_status["left_early"],
        partial=row.by_status["partial"],
        absent=row.by_status["absent"],
    )


def unit_out(result: UnitAttendance) -> schemas.UnitAttendanceOut:
    return schemas.UnitAttendanceOut(
        unit=_unit_row(result.unit),
        from_=result.start,
        to=result.end,
        timezone=result.zone,
        items=[_unit_row(row) for row in result.items],
    )


def _entry(row: ManualEntry) -> schemas.EntryOut:
    channel: schemas.ChannelName = (
        "room_system"
        if row.channel == "room_system"
        else "webrtc_fallback"
        if row.channel == "webrtc_fallback"
        else "in_person"
    )
    return schemas.EntryOut(
        id=row.id,
        room_id=row.room_id,
        occurrence=occurrence_key_text(row.occurrence_key),
        channel=channel,
        start=row.start_at,
        end=row.end_at,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
        retracted_at=row.retracted_at,
    )


def _headcount(row: Headcount) -> schemas.HeadcountOut:
    return schemas.HeadcountOut(
        room_id=row.room_id,
        occurrence=occurrence_key_text(row.occurrence_key),
        count=row.count,
        reported_by=row.reported_by,
        reported_at=row.reported_at,
    )


# -- reports ----------------------------------------------------------------------------------


@routes.get(
    f"/api/meetings/{ID}/attendance",
    summary="Attendance of one occurrence: sites connected and people checked in",
    query=schemas.AttendanceQuery,
    response=schemas.AttendanceOut,
    roles=READERS,
    description=(
        "`format=csv` (sites; `table=people` for the people) or `format=xlsx` (both, and the"
        " meeting) give a download with Vietnamese headers and local times, zone named."
    ),
)
async def meeting_attendance(
    id: int, query: schemas.AttendanceQuery, me: Principal, app: web.Application
) -> schemas.AttendanceOut | web.StreamResponse:
    service = _service(app)
    result = await service.meeting_report(me, id, query.occurrence)
    name = f"diem-danh-{result.report.data.meeting.id}-"
    name += occurrence_key_text(result.report.data.ref.key)
    if query.format == "csv":
        suffix = "-nguoi" if query.table == "people" else ""
        return _download(export.meeting_csv(result, query.table), CSV, f"{name}{suffix}.csv")
    if query.format == "xlsx":
        return _download(export.meeting_xlsx(result), XLSX, f"{name}.xlsx")
    return attendance_out(result, service)


@routes.get(
    "/api/attendance",
    summary="Attendance per unit over a period: meetings invited to, attended, rate",
    query=schemas.UnitAttendanceQuery,
    response=schemas.UnitAttendanceOut,
    roles=READERS,
    description="Days are the unit's own (its time zone); `to` is included.",
)
async def unit_attendance(
    query: schemas.UnitAttendanceQuery, me: Principal, app: web.Application
) -> schemas.UnitAttendanceOut | web.StreamResponse:
    result = await _service(app).unit_report(me, query.unit, query.from_, query.to)
    name = f"ty-le-tham-du-{result.unit.code}-{query.from_.isoformat()}-{query.to.isoformat()}"
    if query.format == "csv":
        return _download(export.unit_csv(result), CSV, f"{name}.csv")
    if query.format == "xlsx":
        return _download(export.unit_xlsx(result), XLSX, f"{name}.xlsx")
    return unit_out(result)


# -- manual entries and headcounts ---------------------------------------------------------------


@routes.post(
    f"/api/meetings/{ID}/attendance/entries",
    summary="Record by hand that a site took part (in person, or its bridge lost the records)",
    body=schemas.EntryCreate,
    response=schemas.EntryOut,
    status=201,
    roles=RECORDERS,
)
async def add_entry(
    id: int, data: schemas.EntryCreate, actor: Actor, app: web.Application
) -> schemas.EntryOut:
    return _entry(await _service(app).add_entry(actor, id, data))


@routes.get(
    f"/api/meetings/{ID}/attendance/entries",
    summary="Manual attendance entries of an occurrence (retracted ones included)",
    query=schemas.OccurrenceQuery,
    response=schemas.EntryList,
    roles=READERS,
)
async def list_entries(
    id: int, query: schemas.OccurrenceQuery, me: Principal, app: web.Application
) -> schemas.EntryList:
    rows = await _service(app).list_entries(me, id, query.occurrence)
    return schemas.EntryList(items=[_entry(row) for row in rows])


@routes.delete(
    f"/api/meetings/{ID}/attendance/entries/{{entry_id:[0-9]+}}",
    summary="Retract a manual entry (kept, marked retracted)",
    response=schemas.EntryOut,
    roles=RECORDERS,
)
async def retract_entry(
    id: int, entry_id: int, actor: Actor, app: web.Application
) -> schemas.EntryOut:
    return _entry(await _service(app).retract_entry(actor, id, entry_id))


@routes.operation(
    "PUT",
    f"/api/meetings/{ID}/attendance/headcounts",
    summary="The number of people in a site's room (the latest count wins)",
    body=schemas.HeadcountSet,
    response=schemas.HeadcountOut,
    roles=RECORDERS,
)
async def set_headcount(
    id: int, data: schemas.HeadcountSet, actor: Actor, app: web.Application
) -> schemas.HeadcountOut:
    return _headcount(await _service(app).set_headcount(actor, id, data))


# -- roster and check-ins -------------------------------------------------------------------------


@routes.get(
    f"/api/meetings/{ID}/roster",
    summary="The people expected at the meeting",
    response=schemas.RosterOut,
    roles=READERS,
)
async def get_roster(id: int, me: Principal, app: web.Application) -> schemas.RosterOut:
    rows = await _service(app).roster(me, id)
    return schemas.RosterOut(items=[_person(row) for row in rows])


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
    rows = await _service(app).add_to_roster(actor, id, data)
    return schemas.RosterOut(items=[_person(row) for row in rows])


@routes.delete(
    f"/api/meetings/{ID}/roster/{{person_id:[0-9]+}}",
    summary="Remove a person from the roster",
    status=204,
    roles=ROSTER_KEEPERS,
)
async def remove_roster(id: int, person_id: int, actor: Actor, app: web.Application) -> NoContent:
    await _service(app).remove_from_roster(actor, id, person_id)
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
    row, new = await _service(app).check_in(actor, id, data)
    return Reply(_checkin(row), status=201 if new else 200)


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
    service = _service(app)
    rows = await service.list_checkins(me, id, query.occurrence)
    roster = await service.roster(me, id)
    from_roster = {row.roster_id for row in rows if row.roster_id is not None}
    return schemas.PeopleOut(
        roster_size=len(roster),
        checked_in=len(rows),
        checked_in_from_roster=len(from_roster),
        items=[_checkin(row) for row in rows],
        not_checked_in=[_person(r) for r in roster if r.id not in from_roster],
    )


@routes.delete(
    f"/api/meetings/{ID}/checkins/{{checkin_id:[0-9]+}}",
    summary="Remove a check-in (a mistake)",
    status=204,
    roles=RECORDERS,
)
async def remove_checkin(id: int, checkin_id: int, actor: Actor, app: web.Application) -> NoContent:
    await _service(app).remove_checkin(actor, id, checkin_id)
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
    link = await _service(app).issue_link(actor, id, data)
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
    page = await _service(app).link_page(token)
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
    row, new = await _service(request.app).self_check_in(token, data, request.remote)
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
    url = _service(app).link_url(token)
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
