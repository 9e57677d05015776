"""HTTP edge of monitoring: endpoint health, its history, probe now, and the operator board."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from vcorch.access import STAFF, Actor, Principal, Role
from vcorch.errors import FieldProblem, InvalidInput
from vcorch.monitoring import schemas
from vcorch.monitoring.probes.result import ProbeResult
from vcorch.monitoring.service import HealthView, MonitoringService
from vcorch.web import ApiRoutes, decode_cursor, encode_cursor, page_response

routes = ApiRoutes(tag="Monitoring")
MONITORING = web.AppKey("monitoring", MonitoringService)

READERS = STAFF
PROBERS = (Role.ADMIN, Role.OPERATOR)
ID = "{id:[0-9]+}"
DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=400)


def _health(view: HealthView) -> schemas.EndpointHealthOut:
    return schemas.EndpointHealthOut(
        endpoint_id=view.endpoint_id,
        name=view.name,
        kind=view.kind,
        room_id=view.room_id,
        room_name=view.room_name,
        unit_id=view.unit_id,
        unit_code=view.unit_code,
        unit_name=view.unit_name,
        state=view.state,
        since=view.since,
        latency_ms=view.latency_ms,
        last_checked_at=view.last_checked_at,
        detail=view.detail,
        status_code=view.status_code,
        probe_kind=view.probe_kind,
        probe_enabled=view.probe_enabled,
        probed=view.probed,
        stale=view.stale,
        failures=view.failures,
        successes=view.successes,
        measurements={key: float(value) for key, value in view.measurements.items()},
    )


def _result(result: ProbeResult) -> schemas.ProbeResultOut:
    return schemas.ProbeResultOut(
        ok=result.ok,
        reachable=result.reachable,
        latency_ms=result.latency_ms,
        detail=result.detail,
        status_code=result.status_code,
        measurements=dict(result.metrics),
    )


@routes.get(
    "/api/health/endpoints",
    summary="Endpoints in your scope with their current health",
    query=schemas.HealthQuery,
    response=schemas.HealthPage,
    roles=READERS,
    description="Endpoints never probed, or with nothing to probe, are `unknown`.",
)
async def list_endpoint_health(
    query: schemas.HealthQuery, me: Principal, app: web.Application
) -> schemas.HealthPage:
    views, last = await app[MONITORING].list_health(
        me,
        unit_id=query.unit,
        state=query.state,
        kind=query.kind,
        after=decode_cursor(query.cursor),
        limit=query.limit,
    )
    return schemas.HealthPage(
        items=[_health(view) for view in views],
        next=encode_cursor(last) if last is not None else None,
    )


@routes.get(
    f"/api/endpoints/{ID}/health",
    summary="An endpoint's state changes and uptime over a period",
    query=schemas.HistoryQuery,
    response=schemas.HistoryOut,
    roles=READERS,
    description="Uptime is up time over the time the state was known (up or down).",
)
async def endpoint_health_history(
    id: int, query: schemas.HistoryQuery, me: Principal, app: web.Application
) -> schemas.HistoryOut:
    service = app[MONITORING]
    end = query.to or service.now()
    start = query.from_ or end - DEFAULT_WINDOW
    if start >= end:
        raise InvalidInput(
            "the period is empty", problems=[FieldProblem("from", "must be before `to`")]
        )
    if end - start > MAX_WINDOW:
        raise InvalidInput(
            "the period is too long",
            problems=[FieldProblem("from", f"at most {MAX_WINDOW.days} days before `to`")],
        )
    history = await service.history(me, id, start, end)
    ratio = history.uptime.ratio
    return schemas.HistoryOut(
        endpoint_id=history.current.endpoint_id,
        state=history.current.state,
        since=history.current.since,
        latency_ms=history.current.latency_ms,
        from_=history.start,
        to=history.end,
        uptime=schemas.UptimeOut(
            percent=round(ratio * 100, 3) if ratio is not None else None,
            up_seconds=history.uptime.up_seconds,
            down_seconds=history.uptime.down_seconds,
            unknown_seconds=history.uptime.unknown_seconds,
        ),
        transitions=[
            schemas.TransitionOut(
                at=row.at,
                previous=row.previous,
                current=row.current,
                detail=row.detail,
                latency_ms=row.latency_ms,
                status_code=row.status_code,
                cause=row.cause,
                alerted=row.alerted,
            )
            for row in history.transitions
        ],
        truncated=history.truncated,
    )


@routes.post(
    f"/api/endpoints/{ID}/probe",
    summary="Probe an endpoint now; the result also counts for its state",
    response=schemas.ProbeOut,
    roles=PROBERS,
)
async def probe_endpoint(id: int, actor: Actor, app: web.Application) -> schemas.ProbeOut:
    result, at, view = await app[MONITORING].probe_endpoint(actor, id)
    return schemas.ProbeOut(
        endpoint_id=view.endpoint_id, probed_at=at, result=_result(result), health=_health(view)
    )


# -- the operator board ---------------------------------------------------------------------


@routes.get(
    "/api/health/meetings",
    summary="The next meeting of each endpoint in your scope, and its state while it runs",
    query=schemas.BoardQuery,
    response=schemas.BoardMeetingsPage,
    roles=READERS,
    description=(
        "Pages the endpoints as `/api/health/endpoints` does (by id) and lists those with a"
        " video meeting within 24 hours or running now: the running one first, else the"
        " earliest. A page may list none and still have a `next`."
    ),
)
async def board_meetings(
    query: schemas.BoardQuery, me: Principal, app: web.Application
) -> schemas.BoardMeetingsPage:
    found, last = await app[MONITORING].board_meetings(
        me, unit_id=query.unit, after=decode_cursor(query.cursor), limit=query.limit
    )
    return schemas.BoardMeetingsPage(
        items=[
            schemas.BoardMeetingOut(
                endpoint_id=item.endpoint_id,
                meeting_id=item.site.meeting_id,
                title=item.site.title,
                start=item.site.start,
                end=item.site.end,
                running=item.site.running,
                state=item.site.state,
                channel=item.site.channel,
                live=f"/api/meetings/{item.site.meeting_id}/live",
            )
            for item in found
        ],
        next=encode_cursor(last) if last is not None else None,
    )


async def board(_request: web.Request) -> web.StreamResponse:
    """The page itself holds no data: it logs in and reads the API from the browser."""
    return page_response("board.html")


def mount_pages(app: web.Application) -> None:
    app.router.add_get("/board", board)
