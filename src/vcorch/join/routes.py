"""HTTP edge of the WebRTC fallback: links for operators, the join page, WHIP signalling.

Links themselves are made by the orchestrator (operators' mail, ``GET .../live``) and by
``POST /api/meetings/{id}/sites/{site_id}/link`` (``conference/live_routes.py``).
- ``GET /api/join/{token}`` (public: the token is the credential): the run's phase, what
  the page shows and where it connects (the hosting bridge's page, a Janus room, or WHIP on
  the built-in bridge, with ICE servers and TURN credentials).
- ``GET /api/join/{token}/sites``: the run's sites for the page's participant list.
- ``POST /whip/{token}`` (``application/sdp`` offer) → ``201`` with the answer and a
  ``Location`` to ``DELETE`` on leaving.
- ``GET /join/{token}``: the page itself (plain HTML + ``/static/join.js``, no build step).
- ``GET /vendor/janus.js``: Janus' own browser library, from the server's package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from vcorch.join.errors import OfferRejected
from vcorch.join.links import JoinLinks
from vcorch.join.service import JoinService, JoinTarget
from vcorch.web import (
    SETTINGS,
    ApiRoutes,
    HttpProblem,
    NoContent,
    client_address,
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


class JanusInfo(BaseModel):
    """Mode ``janus``: what the page joins with Janus' own library (``/vendor/janus.js``)."""

    model_config = ConfigDict(extra="forbid")

    server: str = Field(description="the Janus HTTP API as browsers reach it")
    plugin: Literal["audiobridge", "videoroom"] = Field(
        description="audiobridge: sound only; videoroom: the AudioBridge room carries the "
        "sound and the VideoRoom room of the same number the pictures"
    )
    room: int = Field(description="the AudioBridge room")
    videoroom: int | None = Field(default=None, description="the VideoRoom room, if any")
    participant_id: int = Field(
        description="the id to join with: the bridge maps it back to this site"
    )
    display: str
    pin: str | None = None


class JoinInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meeting_id: int
    meeting_title: str
    site_name: str
    unit_name: str
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime
    status: Literal["not_started", "live", "ended", "failed"] = Field(
        description="not_started: the meeting's conference is not up yet (ask again; "
        "starts_at says when it starts); live: join with `mode`; ended: it is over; "
        "failed: it could not be held. Only a live answer has `mode`."
    )
    mode: Literal["bridge", "builtin", "janus", "gateway"] | None = Field(
        default=None,
        description="bridge: open `url` (the hosting bridge's own page); builtin: WHIP to "
        "`whip_url` on vcorch's built-in bridge; janus: join `janus` with janus.js; gateway: "
        "WHIP to `whip_url`, carried into the hosting MCU's own conference by a "
        "WebRTC-to-SIP gateway",
    )
    separate_room: bool = Field(
        default=False,
        description="mode builtin while the meeting is hosted on another bridge that is not "
        "linked to the built-in one: this site meets only the other browser sites",
    )
    url: str | None = None
    whip_url: str | None = None
    ice_servers: list[IceServerOut] | None = None
    video: VideoCap | None = None
    janus: JanusInfo | None = None


class JoinSite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room_name: str
    unit_name: str
    state: Literal["pending", "dialling", "connected", "failed", "fallback", "disconnected"]
    channel: Literal["room_system", "browser", "gateway", "dial_in"] | None = Field(
        description="how the site takes part now; null until it first connects"
    )
    channel_label: str | None = Field(
        default=None, description="the channel in Vietnamese, as the other views say it"
    )
    is_me: bool = Field(description="the site this link is for")
    is_host: bool = Field(description="the meeting's host room")


class JoinSites(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[JoinSite]


@routes.get(
    f"/api/join/{LINK_PATH_PART}",
    summary="What a join link leads to (public: the link is the credential)",
    response=JoinInfo,
    authenticated=False,
    description="A link of a meeting that is not live answers 200 with `status` "
    "not_started, ended or failed and no `mode` (the page says so); an expired link 410, "
    "a forged one 403.",
)
async def join_info(token: str, app: web.Application) -> web.StreamResponse:
    service = app[JOIN]
    target = await service.resolve(token, live_only=False)
    info = JoinInfo(
        meeting_id=target.meeting_id,
        meeting_title=target.meeting_title,
        site_name=target.site_name,
        unit_name=target.unit_name,
        starts_at=target.starts_at,
        ends_at=target.ends_at,
        expires_at=target.claims.expires_at,
        status=target.status,
    )
    if target.status == "live" and target.mode == "bridge":
        info.mode = "bridge"
        info.url = target.url
    elif target.status == "live" and target.mode == "janus" and target.janus is not None:
        room = target.janus
        info.mode = "janus"
        info.janus = JanusInfo(
            server=room.server,
            plugin="videoroom" if room.videoroom is not None else "audiobridge",
            room=room.room,
            videoroom=room.videoroom,
            participant_id=room.participant_id,
            display=room.display,
            pin=room.pin,
        )
        info.ice_servers = _ice(service, target)
    elif target.status == "live":
        settings = app[SETTINGS]
        # The page does WHIP either way; in gateway mode vcorch carries the call on into
        # the hosting MCU's conference (the browser never names what is called).
        info.mode = "gateway" if target.mode == "gateway" else "builtin"
        info.separate_room = target.separate_room
        info.whip_url = f"/whip/{token}"
        info.ice_servers = _ice(service, target)
        info.video = VideoCap(
            max_width=settings.webrtc_video_max_width,
            max_height=settings.webrtc_video_max_height,
            max_fps=settings.webrtc_video_max_fps,
        )
    body = info.model_dump(mode="json", exclude_none=True)
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _ice(service: JoinService, target: JoinTarget) -> list[IceServerOut]:
    return [
        IceServerOut(urls=list(s.urls), username=s.username, credential=s.credential)
        for s in service.ice_servers(target)
    ]


@routes.get(
    f"/api/join/{LINK_PATH_PART}/sites",
    summary="The sites of a join link's meeting (public: the link is the credential)",
    response=JoinSites,
    authenticated=False,
    description="Only for a valid, unexpired link of a live meeting (409 meeting-not-live "
    "otherwise). The join page asks every few seconds while joined.",
)
async def join_sites(token: str, app: web.Application) -> web.StreamResponse:
    listed = await app[JOIN].sites(token)
    out = JoinSites(
        items=[
            JoinSite(
                room_name=item.room_name,
                unit_name=item.unit_name,
                state=item.state,
                channel=item.channel,
                channel_label=item.channel_label,
                is_me=item.is_me,
                is_host=item.is_host,
            )
            for item in listed
        ]
    )
    response = json_response(out.model_dump(mode="json"))
    response.headers["Cache-Control"] = "no-store"
    return response


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
        token, offer, request_id=request_id(request), address=client_address(request)
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
async def join_page(app: web.Application) -> web.StreamResponse:
    # The page is the same for every link; it reads its token from its own address, so
    # nothing of the request is echoed into it.  Its script is /static/join.js.
    response = page_response("join.html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(self)"
    origins = app[JOIN].browser_origins()
    if origins:
        # janus.js signals to the Janus HTTP API itself (another origin): only the Janus
        # bridges configured here are added, nothing else.
        policy = response.headers["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = policy.replace(
            "connect-src 'self'", "connect-src 'self' " + " ".join(origins), 1
        )
    return response


@routes.get(
    "/vendor/janus.js",
    summary="Janus' own browser library, as the server's package installs it",
    authenticated=False,
    response_content_type="application/javascript",
    description="From settings `janus_js_path` (default: Debian libjs-janus-gateway's "
    "/usr/share/javascript/janus-gateway/janus.js); 404 when it is not installed.",
)
async def janus_js(app: web.Application) -> web.StreamResponse:
    path = app[SETTINGS].janus_js_path
    if not path.is_file():
        raise HttpProblem(
            404,
            "not-found",
            "Not found",
            "janus.js is not installed on this server (apt-get install libjs-janus-gateway)",
        )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/javascript; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )
