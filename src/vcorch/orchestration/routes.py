"""HTTP edge of live control: start, end, extend, the meeting's in-call controls (layout,
mute everyone, lock, an on-screen message), per-site actions and the live view."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vcorch.access import STAFF, Actor, Principal, Role
from vcorch.orchestration import schemas
from vcorch.orchestration.live import LiveService, SiteAction
from vcorch.orchestration.orchestrator import Orchestrator
from vcorch.web import ApiRoutes

LIVE = web.AppKey("live", LiveService)
ORCHESTRATOR = web.AppKey("orchestrator", Orchestrator)

routes = ApiRoutes(tag="Live control")

ID = "{id:[0-9]+}"
SITE = "{site_id:-?[0-9]+}"
CONTROLLERS = (Role.ADMIN, Role.SECRETARIAT)
SITE_ACTORS = (Role.ADMIN, Role.SECRETARIAT, Role.OPERATOR)
# The organiser's operators too (they run its host room): the service checks the unit.
CONFERENCE_ACTORS = (Role.ADMIN, Role.SECRETARIAT, Role.OPERATOR)


def _live(view: dict[str, Any]) -> schemas.LiveOut:
    return schemas.LiveOut.model_validate(view)


@routes.post(
    f"/api/meetings/{ID}/start",
    summary="Start a meeting now (the occurrence under way or starting within the hour)",
    body=schemas.StartIn,
    response=schemas.LiveOut,
    status=202,
    roles=CONTROLLERS,
)
async def start_meeting(
    id: int, body: schemas.StartIn, actor: Actor, app: web.Application
) -> schemas.LiveOut:
    return _live(await app[LIVE].start(actor, id, body.occurrence))


@routes.post(
    f"/api/meetings/{ID}/end",
    summary="End the live meeting: every conference ends, every site is dropped",
    response=schemas.LiveOut,
    roles=CONTROLLERS,
)
async def end_meeting(id: int, actor: Actor, app: web.Application) -> schemas.LiveOut:
    return _live(await app[LIVE].end(actor, id))


@routes.post(
    f"/api/meetings/{ID}/extend",
    summary="Let the live meeting run longer (at most four hours in all)",
    body=schemas.ExtendIn,
    response=schemas.LiveOut,
    roles=CONTROLLERS,
)
async def extend_meeting(
    id: int, body: schemas.ExtendIn, actor: Actor, app: web.Application
) -> schemas.LiveOut:
    return _live(await app[LIVE].extend(actor, id, body.minutes))


@routes.post(
    f"/api/meetings/{ID}/layout",
    summary="Show the live meeting in another layout (every site's screen)",
    body=schemas.LayoutIn,
    response=schemas.LiveOut,
    roles=CONFERENCE_ACTORS,
)
async def meeting_layout(
    id: int, body: schemas.LayoutIn, actor: Actor, app: web.Application
) -> schemas.LiveOut:
    return _live(await app[LIVE].conference_control(actor, id, "layout", layout=body.layout))


@routes.post(
    f"/api/meetings/{ID}/mute-all",
    summary="Mute (or unmute) every site of the live meeting at once",
    body=schemas.MuteAllIn,
    response=schemas.LiveOut,
    roles=CONFERENCE_ACTORS,
)
async def meeting_mute_all(
    id: int, body: schemas.MuteAllIn, actor: Actor, app: web.Application
) -> schemas.LiveOut:
    return _live(await app[LIVE].conference_control(actor, id, "mute_all", on=body.muted))


@routes.post(
    f"/api/meetings/{ID}/lock",
    summary="Lock the live meeting (nobody new gets in) or open it again",
    body=schemas.LockIn,
    response=schemas.LiveOut,
    roles=CONFERENCE_ACTORS,
)
async def meeting_lock(
    id: int, body: schemas.LockIn, actor: Actor, app: web.Application
) -> schemas.LiveOut:
    return _live(await app[LIVE].conference_control(actor, id, "lock", on=body.locked))


@routes.post(
    f"/api/meetings/{ID}/message",
    summary="Show a short message on every site's screen for a while",
    body=schemas.MessageIn,
    response=schemas.LiveOut,
    roles=CONFERENCE_ACTORS,
)
async def meeting_message(
    id: int, body: schemas.MessageIn, actor: Actor, app: web.Application
) -> schemas.LiveOut:
    return _live(
        await app[LIVE].conference_control(
            actor, id, "message", text=body.text, seconds=body.seconds
        )
    )


@routes.get(
    f"/api/meetings/{ID}/live",
    summary="Bridges and every site's state, since when, last error",
    response=schemas.LiveOut,
    roles=STAFF,
)
async def live_view(id: int, me: Principal, app: web.Application) -> schemas.LiveOut:
    return _live(await app[LIVE].live(me, id))


def _site_route(action: SiteAction, summary: str) -> None:
    async def handler(id: int, site_id: int, actor: Actor, app: web.Application) -> schemas.LiveOut:
        return _live(await app[LIVE].site_action(actor, id, site_id, action))

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
async def site_link(id: int, site_id: int, actor: Actor, app: web.Application) -> schemas.LinkOut:
    url, expires = await app[LIVE].fallback_link(actor, id, site_id)
    return schemas.LinkOut(url=url, expires_at=expires)
