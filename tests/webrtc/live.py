"""A meeting being held, as the orchestrator leaves it in the database: a live run, its
host conference and its sites (the orchestrator is tested elsewhere; these tests start
from its result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from tests.api import Api
from tests.world import World
from vcorch.orchestration.models import MeetingRun, RunConference, RunSite
from vcorch.rooms.models import Room
from vcorch.web.keys import SESSIONS

SITES = ("central", "lao-cai", "dien-bien")
SDP = {"Content-Type": "application/sdp"}


@dataclass
class LiveRun:
    meeting_id: int
    run_id: int
    end_at: datetime
    meeting_sites: dict[str, int] = field(default_factory=dict)  # room code -> meeting site id
    run_sites: dict[str, int] = field(default_factory=dict)  # room code -> run site id


async def live_meeting(
    app: web.Application,
    api: Api,
    world: World,
    now: datetime,
    *,
    host_bridge: str = "mo-phong",
    host_conference: str = "sim-1",
    whole_fallback: bool = False,
    extra_room: str | None = None,
) -> LiveRun:
    """Book a meeting on ``SITES`` and record its run as live, hosted on ``host_bridge``.

    ``extra_room``: a room taking part in this occurrence only (no meeting site)."""
    start = now.replace(microsecond=0) - timedelta(minutes=5)
    end = start + timedelta(hours=2)
    status, body = await api.as_(world.tokens["central_sec"]).post(
        "/api/meetings",
        {
            "title": "Hội nghị giao ban chương trình — quý IV",
            "kind": "conference",
            "mode": "online",
            "organizer_unit_id": world.units["central"],
            "start": start.isoformat(),
            "end": end.isoformat(),
            "host_room_id": world.rooms["central"],
            "sites": [{"room_id": world.rooms[code]} for code in SITES],
        },
    )
    assert status == 201, body
    live = LiveRun(meeting_id=body["id"], run_id=0, end_at=end)
    by_room = {site["room_id"]: site["site_id"] for site in body["sites"]}
    async with app[SESSIONS].begin() as session:
        run = MeetingRun(
            meeting_id=live.meeting_id,
            occurrence_key=start,
            start_at=start,
            end_at=end,
            status="live",
            whole_fallback=whole_fallback,
            launched_at=now,
        )
        session.add(run)
        await session.flush()
        conference = RunConference(
            run_id=run.id,
            bridge=host_bridge,
            conference_id=host_conference,
            conference_key=f"meeting-{live.meeting_id}",
            role="host",
            active=True,
        )
        session.add(conference)
        await session.flush()
        codes = [*SITES, *([extra_room] if extra_room else [])]
        for code in codes:
            room = await session.get(Room, world.rooms[code])
            assert room is not None
            site = RunSite(
                run_id=run.id,
                meeting_site_id=by_room.get(room.id),
                room_id=room.id,
                endpoint_id=world.endpoints[code],
                unit_id=room.unit_id,
                conference_row_id=conference.id,
                state="connected",
                since=now,
            )
            session.add(site)
            await session.flush()
            live.run_sites[code] = site.id
            if room.id in by_room:
                live.meeting_sites[code] = by_room[room.id]
        live.run_id = run.id
    return live


async def set_run_status(app: web.Application, run_id: int, status: str) -> None:
    async with app[SESSIONS].begin() as session:
        run = await session.get(MeetingRun, run_id)
        assert run is not None
        run.status = status


async def link_for(api: Api, world: World, live: LiveRun, code: str) -> str:
    status, body = await api.as_(world.tokens["admin"]).post(
        f"/api/meetings/{live.meeting_id}/sites/{live.meeting_sites[code]}/link"
    )
    assert status == 201, body
    token: str = body["url"].rsplit("/", 1)[1]
    return token


class Whip:
    """The page's side of WHIP: POST the offer, keep the Location, DELETE to leave."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.token = token
        self.location: str | None = None

    async def __call__(self, offer: str) -> str:
        response = await self.client.post(f"/whip/{self.token}", data=offer, headers=SDP)
        assert response.status == 201, await response.text()
        assert response.content_type == "application/sdp"
        self.location = response.headers["Location"]
        answer: str = await response.text()
        return answer

    async def leave(self) -> int:
        assert self.location is not None
        response = await self.client.delete(self.location)
        return int(response.status)
