"""The live room's stream: a first view, then each change as it lands, cut to the caller's
scope, bounded (streams per account, the token checked again, an end when the run ends)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from tests.api import Api, FakeClock, make_settings
from tests.orchestration.conftest import book, settle, sim
from tests.world import World
from vcorch.access import Principal, Role
from vcorch.config import Settings
from vcorch.orchestration.live_feed import changes, scope_of, scoped
from vcorch.orchestration.models import RunSite
from vcorch.orchestration.routes import LIVE_FEED


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        bridges=[sim("mcu-a", 10), sim("mcu-b", 20)],
        dial_attempts=2,
        failover_after=2,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
        # Another process' writes are seen by the poll: long here, so that a test sees
        # this process' own writes arrive without it (the engine's events).
        live_stream_poll_seconds=30,
        live_stream_heartbeat_seconds=0.3,
        live_streams_per_user=2,
    )


class Stream:
    """One open stream, read event by event."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.seen: list[tuple[str, Any]] = []

    async def next(self, within: float = 10.0) -> tuple[str, Any]:
        kind, data = "", ""
        while True:
            line = (await asyncio.wait_for(self.response.content.readline(), within)).decode()
            if line == "":
                raise EOFError("the stream closed")
            line = line.rstrip("\n")
            if line == "":
                if kind:
                    self.seen.append((kind, json.loads(data)))
                    return self.seen[-1]
                continue
            field, _, value = line.partition(": ")
            if field == "event":
                kind = value
            elif field == "data":
                data = value

    async def until(self, what: str, test: Any, within: float = 10.0) -> tuple[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            got = await self.next(max(0.1, deadline - loop.time()))
            if test(*got):
                return got
            if loop.time() > deadline:
                raise AssertionError(f"no {what}; saw {self.seen[-5:]}")


async def open_stream(api: Api, token: str, meeting_id: int) -> Stream:
    response = await api.client.get(
        f"/api/meetings/{meeting_id}/live/stream", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 200, await response.text()
    assert response.content_type == "text/event-stream"
    return Stream(response)


def rooms_of(view: dict[str, Any]) -> set[int]:
    return {site["room_id"] for site in view["sites"]}


async def test_the_secretariat_watches_a_launch_and_its_end(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    stream = await open_stream(api, world.tokens["central_sec"], meeting_id)
    kind, first = await stream.next()
    assert kind == "snapshot" and first["status"] == "scheduled" and first["controls"] is True
    assert first["progress"] == {"connected": 0, "total": 4, "pending": 4}
    assert rooms_of(first) == {world.rooms[c] for c in ("central", "lao-cai", "dien-bien")} | {
        world.rooms["lao-cai.bac-ha"]
    }

    secretariat = api.as_(world.tokens["central_sec"])
    status, _ = await secretariat.post(f"/api/meetings/{meeting_id}/start")
    assert status == 202
    _, started = await stream.until("the run's view", lambda k, d: k == "snapshot")
    assert started["run_id"] is not None and started["status"] in ("launching", "live")
    await settle(app, clock)
    # Each site's change arrived as its own message, told by the engine's events (the
    # poll is 30 s here): the reachable ones connected, Điện Biên fell back with its link.
    _, laocai = await stream.until(
        "Lào Cai connected",
        lambda k, d: (
            k == "site" and d["room_id"] == world.rooms["lao-cai"] and d["state"] == "connected"
        ),
    )
    assert laocai["channel"] == "room_system" and laocai["actions"] is True
    _, dien_bien = await stream.until(
        "Điện Biên in fallback",
        lambda k, d: (
            k == "site" and d["room_id"] == world.rooms["dien-bien"] and d["state"] == "fallback"
        ),
    )
    assert dien_bien["fallback_url"] and dien_bien["attempts"] >= 1 and dien_bien["last_error"]
    await stream.until(
        "three of four connected",
        lambda k, d: k == "run" and d["progress"]["connected"] == 3,
    )

    status, _ = await secretariat.post(f"/api/meetings/{meeting_id}/end")
    assert status == 200
    await stream.until("the run ended", lambda k, d: k == "run" and d["status"] == "ended")
    _, end = await stream.until("the end", lambda k, d: k == "end")
    assert end == {"reason": "over"}
    with pytest.raises(EOFError):
        await stream.next()
    assert app[LIVE_FEED].following() == 0


async def test_a_provincial_operator_sees_only_its_sites(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    secretariat = api.as_(world.tokens["central_sec"])
    assert (await secretariat.post(f"/api/meetings/{meeting_id}/start"))[0] == 202
    await settle(app, clock)
    stream = await open_stream(api, world.tokens["laocai_op"], meeting_id)
    kind, view = await stream.next()
    assert kind == "snapshot"
    # Lào Cai and its commune; not the central room, not Điện Biên (nor its browser link).
    assert rooms_of(view) == {world.rooms["lao-cai"], world.rooms["lao-cai.bac-ha"]}
    assert view["controls"] is False and view["incidents"] == []
    assert all(site["actions"] for site in view["sites"])
    assert view["progress"]["total"] == 2
    text = json.dumps(view, ensure_ascii=False)
    assert "dien-bien" not in text and "Phòng họp central" not in text

    # The central room's site changes: nothing reaches Lào Cai's stream; its commune's does.
    _, whole = await secretariat.get(f"/api/meetings/{meeting_id}/live")
    central = next(s for s in whole["sites"] if s["room_id"] == world.rooms["central"])
    bac_ha = next(s for s in whole["sites"] if s["room_id"] == world.rooms["lao-cai.bac-ha"])
    base = f"/api/meetings/{meeting_id}/sites"
    assert (await secretariat.post(f"{base}/{central['site_id']}/mute"))[0] == 200
    operator = api.as_(world.tokens["laocai_op"])
    assert (await operator.post(f"{base}/{bac_ha['site_id']}/mute"))[0] == 200
    _, muted = await stream.until("the commune muted", lambda k, d: k == "site" and d["muted"])
    assert muted["room_id"] == world.rooms["lao-cai.bac-ha"]
    for kind, data in stream.seen:
        if kind == "site":
            assert data["room_id"] in rooms_of(view), data


async def test_streams_per_account_and_the_token_checked_again(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    token = await api.login("central_sec")
    first = await open_stream(api, token, meeting_id)
    await open_stream(api, world.tokens["central_sec"], meeting_id)
    response = await api.client.get(
        f"/api/meetings/{meeting_id}/live/stream", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 429
    assert (await response.json())["type"] == "urn:vcorch:problem:too-many-streams"
    # A reader the meeting does not exist for learns nothing more than 404.
    response = await api.client.get(
        f"/api/meetings/{meeting_id}/live/stream",
        headers={"Authorization": f"Bearer {world.tokens['leader']}"},
    )
    assert response.status == 200  # the central leadership reads every meeting
    response.close()
    status, _ = await api.as_(world.tokens["laocai_leader"]).get("/api/meetings/999/live")
    response = await api.client.get(
        "/api/meetings/999/live/stream",
        headers={"Authorization": f"Bearer {world.tokens['laocai_leader']}"},
    )
    assert response.status == status == 404

    await first.next()  # the snapshot
    # Quiet: comment lines keep it open; a revoked token ends it at the next check.
    assert (await api.as_(token).post("/api/auth/revoke"))[0] == 204
    _, end = await first.until("the end", lambda k, d: k == "end")
    assert end == {"reason": "token"}
    with pytest.raises(EOFError):
        await first.next()
    # The place is free again.
    again = await open_stream(api, await api.login("central_sec"), meeting_id)
    assert (await again.next())[0] == "snapshot"


async def test_a_change_written_by_another_process_arrives_by_the_poll(
    app_client: Any, api: Api, world: World, clock: FakeClock, settings: Settings
) -> None:
    app = app_client.server.app
    app[LIVE_FEED].policy = type(app[LIVE_FEED].policy)(poll_seconds=0.2)
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    secretariat = api.as_(world.tokens["central_sec"])
    assert (await secretariat.post(f"/api/meetings/{meeting_id}/start"))[0] == 202
    await settle(app, clock)
    stream = await open_stream(api, world.tokens["central_sec"], meeting_id)
    await stream.next()
    reads = app[LIVE_FEED].reads
    # Another process: its own engine, whose commits this process' engine never sees.
    other = create_async_engine(settings.database_url)
    try:
        async with async_sessionmaker(other).begin() as session:
            await session.execute(
                update(RunSite)
                .where(RunSite.room_id == world.rooms["lao-cai"])
                .values(last_error="mất tín hiệu", attempts=7)
            )
    finally:
        await other.dispose()
    _, site = await stream.until(
        "the other process' change",
        lambda k, d: k == "site" and d["last_error"] == "mất tín hiệu",
    )
    assert site["attempts"] == 7
    assert app[LIVE_FEED].reads > reads


def _site(site_id: int, state: str = "pending", **more: Any) -> dict[str, Any]:
    return {"site_id": site_id, "room_id": site_id, "state": state, "bridge": None, **more}


def _view(*sites: dict[str, Any], run_id: int | None = 1, status: str = "live") -> dict[str, Any]:
    return {
        "meeting_id": 9,
        "run_id": run_id,
        "status": status,
        "sites": list(sites),
        "bridges": [],
        "incidents": [{"kind": "failover"}],
    }


def _who(role: Role, path: str) -> Principal:
    return Principal("user", 1, "u", role, 2, path)


@pytest.mark.parametrize(
    ("role", "path", "visible", "acts_on", "controls"),
    [
        (Role.SECRETARIAT, "/1/", {1, 2, -3}, {1, 2, -3}, True),
        (Role.LEADERSHIP, "/1/", {1, 2, -3}, set(), False),
        (Role.OPERATOR, "/1/", {1, 2, -3}, {1, 2, -3}, False),
        (Role.OPERATOR, "/1/5/", {2}, {2}, False),
        (Role.SECRETARIAT, "/1/5/", {2}, set(), False),
        (Role.ADMIN, "/1/5/", {2}, {2}, False),
        (Role.OPERATOR, "/1/6/", set(), set(), False),
    ],
)
def test_who_sees_and_acts_on_which_site(
    role: Role, path: str, visible: set[int], acts_on: set[int], controls: bool
) -> None:
    paths = {1: "/1/", 2: "/1/5/7/", -3: "/1/"}
    scope = scope_of(_who(role, path), "/1/", paths)
    assert (set(scope.visible), set(scope.acts_on), scope.controls) == (
        visible,
        acts_on,
        controls,
    )
    shown = scoped(_view(_site(1), _site(2), _site(-3)), scope)
    assert {s["site_id"] for s in shown["sites"]} == visible
    assert bool(shown["incidents"]) is scope.whole


def test_the_messages_between_two_views() -> None:
    scope = scope_of(_who(Role.SECRETARIAT, "/"), "/", {1: "/", 2: "/"})
    first = scoped(_view(_site(1), _site(2)), scope)
    assert changes(None, first) == [("snapshot", first)]
    same = scoped(_view(_site(1), _site(2)), scope)
    assert changes(first, same) == []
    one = scoped(_view(_site(1, "connected"), _site(2)), scope)
    got = changes(first, one)
    assert [k for k, _ in got] == ["site", "run"]
    assert got[0][1]["state"] == "connected" and got[1][1]["progress"]["connected"] == 1
    error_only = scoped(_view(_site(1, "connected"), _site(2, last_error="busy")), scope)
    assert [k for k, _ in changes(one, error_only)] == ["site"]
    another_run = scoped(_view(_site(1), _site(2), run_id=2), scope)
    assert changes(one, another_run) == [("snapshot", another_run)]
    ended = scoped(_view(_site(1, "connected"), _site(2), status="ended"), scope)
    assert [(k, d.get("status")) for k, d in changes(one, ended)] == [("run", "ended")]


async def test_a_site_link_comes_with_its_qr_code_and_only_to_its_scope(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    from vcorch.orchestration.routes import qr_svg

    app = app_client.server.app
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    assert (await api.as_(world.tokens["central_sec"]).post(f"/api/meetings/{meeting_id}/start"))[
        0
    ] == 202
    await settle(app, clock)
    _, whole = await api.as_(world.tokens["central_sec"]).get(f"/api/meetings/{meeting_id}/live")
    dien_bien = next(s for s in whole["sites"] if s["room_id"] == world.rooms["dien-bien"])
    path = f"/api/meetings/{meeting_id}/sites/{dien_bien['site_id']}/link"
    status, body = await api.as_(world.tokens["dienbien_op"]).post(path)
    assert status == 201, body
    assert body["qr_svg"].startswith("<?xml") and "<svg" in body["qr_svg"]
    assert body["qr_svg"] == qr_svg(body["url"])  # the code of this link, not of another
    status, body = await api.as_(world.tokens["laocai_op"]).post(path)
    assert status == 403 and "url" not in body and "qr_svg" not in body


async def test_every_stream_ends_when_the_service_stops(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    from vcorch.orchestration import close_live_streams

    app = app_client.server.app
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    stream = await open_stream(api, world.tokens["central_sec"], meeting_id)
    assert (await stream.next())[0] == "snapshot"
    await close_live_streams(app)  # what app.on_shutdown runs, before requests are waited for
    _, end = await stream.until("the end", lambda k, d: k == "end", within=5)
    assert end == {"reason": "shutdown"}
    with pytest.raises(EOFError):
        await stream.next()
    response = await api.client.get(
        f"/api/meetings/{meeting_id}/live/stream",
        headers={"Authorization": f"Bearer {world.tokens['central_sec']}"},
    )
    assert response.status == 429
