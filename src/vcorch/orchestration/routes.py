"""HTTP edge of live control: start, end, extend, per-site actions and the live view."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vcorch.auth.principal import STAFF, Role
from vcorch.orchestration import schemas
from vcorch.orchestration.live import LiveService, SiteAction
from vcorch.web.api import ApiRequest, ApiRoutes, json_response

LIVE = web.AppKey("live", LiveService)

routes = ApiRoutes(tag="Live control")

ID = "{id:[0-9]+}"
SITE = "{site_id:-?[0-9]+}"
CONTROLLERS = (Role.ADMIN, Role.SECRETARIAT)
SITE_ACTORS = (Role.ADMIN, Role.SECRETARIAT, Role.OPERATOR)


def _live(view: dict[str, Any], status: int = 200) -> web.Response:
    return json_response(schemas.LiveOut.model_validate(view), status=status)


@routes.post(
    f"/api/meetings/{ID}/start",
    summary="Start a meeting now (the occurrence under way or starting within the hour)",
    body=schemas.StartIn,
    response=schemas.LiveOut,
    status=202,
    roles=CONTROLLERS,
)
async def start_meeting(req: ApiRequest) -> web.StreamResponse:
    body = req.body_as(schemas.StartIn)
    view = await req.http.app[LIVE].start(req.actor, req.path_id(), body.occurrence)
    return _live(view, 202)


@routes.post(
    f"/api/meetings/{ID}/end",
    summary="End the live meeting: every conference ends, every site is dropped",
    response=schemas.LiveOut,
    roles=CONTROLLERS,
)
async def end_meeting(req: ApiRequest) -> web.StreamResponse:
    return _live(await req.http.app[LIVE].end(req.actor, req.path_id()))


@routes.post(
    f"/api/meetings/{ID}/extend",
    summary="Let the live meeting run longer (at most four hours in all)",
    body=schemas.ExtendIn,
    response=schemas.LiveOut,
    roles=CONTROLLERS,
)
async def extend_meeting(req: ApiRequest) -> web.StreamResponse:
    body = req.body_as(schemas.ExtendIn)
    return _live(await req.http.app[LIVE].extend(req.actor, req.path_id(), body.minutes))


@routes.get(
    f"/api/meetings/{ID}/live",
    summary="Bridges and every site's state, since when, last error",
    response=schemas.LiveOut,
    roles=STAFF,
)
async def live_view(req: ApiRequest) -> web.StreamResponse:
    return _live(await req.http.app[LIVE].live(req.me, req.path_id()))


def _site_route(action: SiteAction, summary: str) -> None:
    async def handler(req: ApiRequest) -> web.StreamResponse:
        site_id = int(req.http.match_info["site_id"])
        view = await req.http.app[LIVE].site_action(req.actor, req.path_id(), site_id, action)
        return _live(view)

    # The operation id (and route name) comes from the function's name: set it first.
    handler.__name__ = handler.__qualname__ = f"site_{action}"
    routes.post(
        f"/api/meetings/{ID}/sites/{SITE}/{action}",
        summary=summary,
        response=schemas.LiveOut,
        roles=SITE_ACTORS,
    )(handler)


_site_route("redial", "Call the site again (drops its current call first)")
_site_route("disconnect", "Drop the site; it is not called back until redialled")
_site_route("mute", "Stop the others hearing the site")
_site_route("unmute", "Let the others hear the site again")


@routes.post(
    f"/api/meetings/{ID}/sites/{SITE}/link",
    summary="A browser (WebRTC) link for the site, valid until the meeting ends",
    response=schemas.LinkOut,
    status=201,
    roles=SITE_ACTORS,
)
async def site_link(req: ApiRequest) -> web.StreamResponse:
    site_id = int(req.http.match_info["site_id"])
    url, expires = await req.http.app[LIVE].fallback_link(req.actor, req.path_id(), site_id)
    return json_response(schemas.LinkOut(url=url, expires_at=expires), status=201)
