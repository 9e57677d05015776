"""HTTP edge of the WebRTC fallback: links for operators, the join page, WHIP signalling.

Links themselves are made by the orchestrator (operators' mail, ``GET .../live``) and by
``POST /api/meetings/{id}/sites/{site_id}/link`` (``conference/live_routes.py``).
- ``GET /api/join/{token}`` (public: the token is the credential): what the page shows and
  where it connects (the hosting bridge's page, or WHIP on the built-in bridge, with ICE
  servers and TURN credentials).
- ``POST /whip/{token}`` (``application/sdp`` offer) → ``201`` with the answer and a
  ``Location`` to ``DELETE`` on leaving.
- ``GET /join/{token}``: the page itself (plain HTML + ``/static/join.js``, no build step).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from vcorch.join.errors import OfferRejected
from vcorch.join.links import JoinLinks
from vcorch.join.service import JoinService
from vcorch.web import (
    SETTINGS,
    ApiRoutes,
    HttpProblem,
    NoContent,
    json_response,
    page_response,
    request_id,
)

JOIN = web.AppKey("join_service", JoinService)
JOIN_LINKS = web.AppKey("join_links", JoinLinks)

routes = ApiRoutes(tag="Browser join (WebRTC fallback)")

LINK_PATH_PART = r"{token:[0-9A-Za-z._-]{1,200}}"
SESSION = r"{session:[0-9A-Za-z_-]{1,64}}"


class IceServerOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class VideoCap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_width: int
    max_height: int
    max_fps: int


class JoinInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meeting_id: int
    meeting_title: str
    site_name: str
    unit_name: str
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime
    mode: Literal["bridge", "builtin", "gateway"]
    url: str | None = None
    whip_url: str | None = None
    ice_servers: list[IceServerOut] | None = None
    video: VideoCap | None = None


@routes.get(
    f"/api/join/{LINK_PATH_PART}",
    summary="What a join link leads to (public: the link is the credential)",
    response=JoinInfo,
    authenticated=False,
)
async def join_info(token: str, app: web.Application) -> web.StreamResponse:
    service = app[JOIN]
    target = await service.resolve(token)
    info = JoinInfo(
        meeting_id=target.meeting_id,
        meeting_title=target.meeting_title,
        site_name=target.site_name,
        unit_name=target.unit_name,
        starts_at=target.starts_at,
        ends_at=target.ends_at,
        expires_at=target.claims.expires_at,
        mode=target.mode,
    )
    if target.mode == "bridge":
        info.url = target.url
    else:
        settings = app[SETTINGS]
        info.whip_url = f"/whip/{token}"
        info.ice_servers = [
            IceServerOut(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in service.ice_servers(target)
        ]
        info.video = VideoCap(
            max_width=settings.webrtc_video_max_width,
            max_height=settings.webrtc_video_max_height,
            max_fps=settings.webrtc_video_max_fps,
        )
    return json_response(info.model_dump(mode="json", exclude_none=True))


@routes.post(
    f"/whip/{LINK_PATH_PART}",
    summary="WHIP: send an SDP offer, get the built-in bridge's answer",
    status=201,
    authenticated=False,
    response_content_type="application/sdp",
    description="Body: the SDP offer (Content-Type: application/sdp), with its ICE "
    "candidates. Answer: 201, the SDP answer, and Location: the resource to DELETE on "
    "leaving. A second offer with the same link replaces the first connection.",
)
async def whip_offer(token: str, request: web.Request) -> web.StreamResponse:
    if request.content_type != "application/sdp":
        raise HttpProblem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the offer as application/sdp",
        )
    raw = await request.read()
    try:
        offer = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise OfferRejected("the offer is not UTF-8 text") from err
    _, joined = await request.app[JOIN].join(
        token, offer, request_id=request_id(request), address=request.remote
    )
    return web.Response(
        status=201,
        text=joined.answer_sdp,
        content_type="application/sdp",
        headers={
            "Location": f"/whip/{token}/sessions/{joined.session_id}",
            "Cache-Control": "no-store",
        },
    )


@routes.delete(
    f"/whip/{LINK_PATH_PART}/sessions/{SESSION}",
    summary="WHIP: leave (end this connection)",
    status=204,
    authenticated=False,
)
async def whip_leave(token: str, session: str, app: web.Application) -> NoContent:
    await app[JOIN].leave(token, session)
    return NoContent()


@routes.get(
    f"/join/{LINK_PATH_PART}",
    summary="The join page (opens the link in a browser)",
    authenticated=False,
    response_content_type="text/html",
)
async def join_page() -> web.StreamResponse:
    # The page is the same for every link; it reads its token from its own address, so
    # nothing of the request is echoed into it.  Its script is /static/join.js.
    response = page_response("join.html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(self)"
    return response
