"""HTTP edge of the statistics.

- ``GET /api/stats/online-share?from=&to=&group_by=&unit=[&format=json|csv|xlsx]``
- ``GET /api/stats/dashboard?year=&unit=``: the dashboard's HTML fragment (leadership, admin)
- ``GET|POST /api/meetings/{id}/conference-links``, ``DELETE .../{link_id}``: a bridge
  conference named as the occurrence of a meeting recorded after the fact
- public and cacheable: ``GET /open-data/online-share.csv``, ``.json`` and
  ``online-share.schema.json`` (aggregates by month and province only)
- the page ``GET /dashboard``
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web

from vcorch.access import Actor, Principal, Role
from vcorch.stats import dashboard, export, schemas
from vcorch.stats.models import ConferenceLink
from vcorch.stats.service import StatsService
from vcorch.web import ApiRoutes, NoContent, json_response, page_response

STATS = web.AppKey("stats", StatsService)

routes = ApiRoutes(tag="Statistics")

READERS = (Role.ADMIN, Role.LEADERSHIP, Role.SECRETARIAT, Role.INTEGRATION)
DASHBOARD_VIEWERS = (Role.ADMIN, Role.LEADERSHIP)
LINKERS = (Role.ADMIN, Role.SECRETARIAT)
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SCHEMA_PATH = "/open-data/online-share.schema.json"


def _service(app: web.Application) -> StatsService:
    return app[STATS]


def _download(body: bytes, content_type: str, filename: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8" if content_type == CSV else None,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@routes.get(
    "/api/stats/online-share",
    summary="Share of meetings held online against the target",
    query=schemas.OnlineShareQuery,
    response=schemas.OnlineShareOut,
    roles=READERS,
    description="Held, declared online and verified online meetings per period, kind, level,"
    " unit or province of your subtree (or of `unit`'s), the total, and the current target"
    " period with its projection from what is booked.  Definitions: docs/statistics.md."
    " `format=csv` or `format=xlsx` give the same table with Vietnamese headers.",
)
async def online_share(
    query: schemas.OnlineShareQuery, me: Principal, app: web.Application
) -> web.StreamResponse:
    service = _service(app)
    result = await service.online_share(me, query)
    name = f"ty-le-hop-truc-tuyen-{result.unit.code}-{result.from_}-{result.to}-{result.group_by}"
    if query.format == "csv":
        return _download(export.report_csv(result), CSV, f"{name}.csv")
    if query.format == "xlsx":
        return _download(export.report_xlsx(result, service.policy.zone.key), XLSX, f"{name}.xlsx")
    return json_response(result.model_dump(mode="json", by_alias=True))


@routes.get(
    "/api/stats/dashboard",
    summary="The leadership dashboard, as an HTML fragment",
    query=schemas.DashboardQuery,
    roles=DASHBOARD_VIEWERS,
    response_content_type="text/html",
    description="What the page /dashboard shows: the monthly share against the target (an"
    " SVG chart), the provinces furthest behind first, the projection and attendance rates.",
)
async def dashboard_fragment(
    query: schemas.DashboardQuery, me: Principal, app: web.Application
) -> web.StreamResponse:
    view = await _service(app).dashboard(me, query.year, query.unit)
    return web.Response(text=dashboard.render(view), content_type="text/html", charset="utf-8")


# -- links of meetings recorded after the fact -------------------------------------------------


def _link(link: ConferenceLink) -> schemas.LinkOut:
    return schemas.LinkOut(
        id=link.id,
        meeting_id=link.meeting_id,
        occurrence=link.occurrence_key,
        bridge=link.bridge,
        conference_id=link.conference_id,
        created_by=link.created_by,
        created_at=link.created_at,
    )


@routes.get(
    "/api/meetings/{id}/conference-links",
    summary="Bridge conferences linked to a meeting recorded after the fact",
    response=schemas.LinkList,
    roles=READERS,
)
async def list_links(id: int, me: Principal, app: web.Application) -> schemas.LinkList:
    links = await _service(app).links(me, id)
    return schemas.LinkList(items=[_link(link) for link in links])


@routes.post(
    "/api/meetings/{id}/conference-links",
    summary="Name a bridge conference as an occurrence of a meeting recorded after the fact",
    body=schemas.LinkCreate,
    response=schemas.LinkOut,
    status=201,
    roles=LINKERS,
    description="The join/leave records that bridge stored for that conference then count"
    " for verification (two sites connected at once).  Refused (409) for an occurrence vcorch"
    " ran itself, or for a conference already linked or run.",
)
async def create_link(
    id: int, data: schemas.LinkCreate, actor: Actor, app: web.Application
) -> schemas.LinkOut:
    return _link(await _service(app).add_link(actor, id, data))


@routes.delete(
    "/api/meetings/{id}/conference-links/{link_id}",
    summary="Remove a conference link",
    status=204,
    roles=LINKERS,
)
async def delete_link(id: int, link_id: int, actor: Actor, app: web.Application) -> NoContent:
    await _service(app).remove_link(actor, id, link_id)
    return NoContent()


# -- open data ----------------------------------------------------------------------------------


def _cacheable(
    request: web.Request, body: bytes, content_type: str, modified: datetime | None, max_age: int
) -> web.Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}",
        "Access-Control-Allow-Origin": "*",
        "Link": f'<{SCHEMA_PATH}>; rel="describedby"',
    }
    if modified is not None:
        headers["Last-Modified"] = format_datetime(modified.astimezone(UTC), usegmt=True)
    if _not_modified(request, etag, modified):
        return web.Response(status=304, headers=headers)
    charset = "utf-8"
    response = web.Response(body=body, headers=headers)
    response.content_type = content_type
    response.charset = charset
    return response


def _not_modified(request: web.Request, etag: str, modified: datetime | None) -> bool:
    wanted = request.headers.get("If-None-Match")
    if wanted is not None:
        tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
        return etag in tags or "*" in tags
    since = request.headers.get("If-Modified-Since")
    if since and modified is not None:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            return False
        return modified.replace(microsecond=0) <= when
    return False


@routes.get(
    "/open-data/online-share.csv",
    summary="Open data: the online share by month and province (CSV)",
    query=schemas.OpenDataQuery,
    authenticated=False,
    response_content_type=CSV,
    description="Public and cacheable (ETag, Last-Modified).  Aggregates only.  Columns:"
    f" {', '.join(export.OPEN_DATA_COLUMNS)}; schema at {SCHEMA_PATH}.",
)
async def open_data_csv(query: schemas.OpenDataQuery, request: web.Request) -> web.StreamResponse:
    service = _service(request.app)
    data = await service.open_data(query.year)
    response = _cacheable(
        request, export.open_data_csv(data), CSV, data.summarised_at, service.open_data_max_age
    )
    if response.status == 200:
        response.headers["Content-Disposition"] = 'inline; filename="online-share.csv"'
    return response


@routes.get(
    "/open-data/online-share.json",
    summary="Open data: the online share by month and province (JSON)",
    query=schemas.OpenDataQuery,
    authenticated=False,
    description=f"The rows of the CSV as JSON objects; schema at {SCHEMA_PATH}.",
)
async def open_data_json(query: schemas.OpenDataQuery, request: web.Request) -> web.StreamResponse:
    service = _service(request.app)
    data = await service.open_data(query.year)
    return _cacheable(
        request,
        export.open_data_json(data, SCHEMA_PATH),
        "application/json",
        data.summarised_at,
        service.open_data_max_age,
    )


@routes.get(
    SCHEMA_PATH,
    summary="Open data: the Table Schema of the online-share files",
    authenticated=False,
)
async def open_data_schema(request: web.Request) -> web.StreamResponse:
    return _cacheable(request, export.table_schema_json(), "application/json", None, 86_400)


# -- the page -------------------------------------------------------------------------------------


async def dashboard_page(_request: web.Request) -> web.StreamResponse:
    """The page holds no data: it logs in and fetches the fragment from the browser."""
    return page_response("dashboard.html")


def mount_pages(app: web.Application) -> None:
    app.router.add_get("/dashboard", dashboard_page)
