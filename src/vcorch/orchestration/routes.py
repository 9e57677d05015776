"""HTTP edge of live control: start, end, extend, the meeting's in-call controls (layout,
mute everyone, lock, an on-screen message), per-site actions and the live view."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import segno
from aiohttp import web

from vcorch.access import STAFF, Actor, Principal, Role
from vcorch.orchestration import schemas
from vcorch.orchestration.live import LiveService, SiteAction
from vcorch.orchestration.live_feed import LiveFeed
from vcorch.orchestration.orchestrator import Orchestrator
from vcorch.web import PRINCIPAL_RESOLVER, ApiRoutes, page_response

LIVE = web.AppKey("live", LiveService)
LIVE_FEED = web.AppKey("live_feed", LiveFeed)
ORCHESTRATOR = web.AppKey("orchestrator", Orchestrator)
EVENT_STREAM = "text/event-stream"

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
    return schemas.LinkOut(url=url, expires_at=expires, qr_svg=qr_svg(url))


def qr_svg(data: str) -> str:
    """``data`` as a QR code, a standalone SVG document (error correction M: phone cameras
    read it from a screen across a room)."""
    out = io.BytesIO()
    segno.make_qr(data, error="m").save(
        out, kind="svg", scale=6, border=4, dark="#000", light="#fff", xmldecl=True
    )
    return out.getvalue().decode("utf-8")


@routes.get(
    f"/api/meetings/{ID}/live/stream",
    summary="The live view as server-sent events: the view, then every change",
    roles=STAFF,
    response_content_type=EVENT_STREAM,
    description=(
        "A `text/event-stream` (server-sent events; read it with `fetch`, since the bearer "
        "token goes in the `Authorization` header). First `event: snapshot` with the live "
        "view as `GET /api/meetings/{id}/live` answers it, cut to the caller's scope, plus "
        "`controls` (may start, extend, end), each site's `actions` (may redial, mute, drop, "
        "give a browser link) and `progress` (`connected` of `total`, and a count per "
        "state). Then `event: site` with one site whenever its state, channel, attempts, "
        "last error, mute or link changes, `event: run` when the run's status, end, "
        "progress, bridges or incidents change, and `event: snapshot` again when another "
        "run starts. A comment line (`: ping`) every 15 s; `event: end` with a `reason` "
        "(`over`: the run ended; `token`: the token expired or was revoked; `shutdown`; "
        "`gone`) closes it. Who does not see the organiser's unit sees only its own "
        "units' sites and no incidents. At most 4 streams per account (429 "
        "too-many-streams)."
    ),
)
async def live_stream(
    id: int, me: Principal, request: web.Request, app: web.Application
) -> web.StreamResponse:
    feed = app[LIVE_FEED]
    follower = await feed.follow(me, id)
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    resolver = app[PRINCIPAL_RESOLVER]
    response = web.StreamResponse(
        headers={
            "Content-Type": EVENT_STREAM,
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # proxies must pass each message on at once
        }
    )
    try:
        await response.prepare(request)
        async for chunk in feed.stream(follower, lambda: resolver(token)):
            await asyncio.wait_for(
                response.write(chunk.encode("utf-8")), feed.policy.write_timeout_seconds
            )
    except (ConnectionResetError, TimeoutError):
        pass  # the reader went away or stopped reading: drop it
    finally:
        feed.unfollow(follower)
    return response


async def close_live_streams(app: web.Application) -> None:
    """At shutdown, before in-flight requests are waited for: end every live stream."""
    feed = app.get(LIVE_FEED)
    if feed is not None:
        await feed.close()


async def live_page(_request: web.Request) -> web.StreamResponse:
    """The live room: the page holds no data, it signs in and follows the stream."""
    return page_response("live.html")


def mount_pages(app: web.Application) -> None:
    app.router.add_get(f"/meetings/{ID}/live", live_page)
