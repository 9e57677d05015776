"""HTTP edge of attendance: reports and exports, manual entries and headcounts (the roster,
check-ins and self check-in are in ``checkin_routes.py``).

- ``GET /api/meetings/{id}/attendance[?occurrence=&format=json|csv|xlsx]``
- ``GET /api/attendance?unit=&from=&to=[&format=]``: per unit over a period
- ``/api/meetings/{id}/attendance/entries``, ``/headcounts``
"""

from __future__ import annotations

from aiohttp import web

from vcorch.access import EVERYONE, Actor, Principal, Role
from vcorch.attendance import export, schemas
from vcorch.attendance.intervals import Interval, ParticipantTimeline
from vcorch.attendance.models import CheckIn, Headcount, ManualEntry, RosterEntry
from vcorch.attendance.report import SiteReport, entry_channel
from vcorch.attendance.service import (
    AttendanceService,
    MeetingAttendance,
    UnitAttendance,
    UnitTally,
)
from vcorch.booking import occurrence_key_text
from vcorch.web import ApiRoutes, page_response

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


def service_of(app: web.Application) -> AttendanceService:
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
        took_part_via_label=export.CHANNEL_VI.get(outcome.took_part_via)
        if outcome.took_part_via
        else None,
        channels_label=export.channels_text(outcome.seconds_by_channel),
        channels={name: int(seconds) for name, seconds in outcome.seconds_by_channel.items()},
        reconnects=outcome.reconnects,
        marks=list(outcome.marks),
        intervals=[_interval(i) for i in outcome.intervals],
        participants=[_participant(p) for p in site.participants],
        headcount=site.headcount,
        checked_in=site.checked_in,
    )


def person_out(row: RosterEntry) -> schemas.PersonOut:
    return schemas.PersonOut(
        id=row.id,
        full_name=row.full_name,
        unit_name=row.unit_name,
        position=row.position,
        room_id=row.room_id,
    )


def checkin_out(row: CheckIn) -> schemas.CheckInOut:
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
            items=[checkin_out(row) for row in report.checkins],
            not_checked_in=[person_out(r) for r in report.roster if r.id not in checked_roster],
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
    channel: schemas.ChannelName = entry_channel(row.channel)
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
    service = service_of(app)
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
    result = await service_of(app).unit_report(me, query.unit, query.from_, query.to)
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
    return _entry(await service_of(app).add_entry(actor, id, data))


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
    rows = await service_of(app).list_entries(me, id, query.occurrence)
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
    return _entry(await service_of(app).retract_entry(actor, id, entry_id))


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
    return _headcount(await service_of(app).set_headcount(actor, id, data))


# -- roster and check-ins -------------------------------------------------------------------------


# -- the console's page ------------------------------------------------------------------------


async def attendance_page(_request: web.Request) -> web.StreamResponse:
    """A meeting's attendance: the page holds no data, it signs in and reads the API."""
    return page_response("attendance.html")


def mount_pages(app: web.Application) -> None:
    app.router.add_get(f"/meetings/{ID}/attendance", attendance_page)
