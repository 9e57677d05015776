"""How each site takes part, through the real app: the host room dialled first, a fallen-back
site's real browser (aiortc over WHIP) on the built-in bridge connecting it, the live view,
attendance exports, verification and statistics saying so; a one-off meeting ended early is
ended, held and measured from its real end."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.api import Api, FakeClock, make_settings
from tests.orchestration.conftest import book, booking, settle, sim
from tests.webrtc.live import Whip
from tests.webrtc.peers import Peer
from tests.world import World
from vcorch.attendance import AttendancePolicy
from vcorch.config import Settings
from vcorch.mcu_adapter.base import ConferenceRef
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge
from vcorch.orchestration.hot_endpoints import MeetingSites, SiteInRun
from vcorch.orchestration.models import MeetingRun, RunConference, RunSite
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.stats.models import StatsOccurrence
from vcorch.stats.routes import STATS
from vcorch.stats.verify import measure_occurrences
from vcorch.web.keys import SESSIONS

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        # An MCU that cannot take the built-in bridge's conference as a link leg.
        bridges=[sim("mcu-a", 10, links_builtin=False)],
        dial_attempts=2,
        failover_after=2,
        ring_timeout_seconds=30,
        dial_retry_base_seconds=1,
        dial_retry_max_seconds=2,
        # The built-in bridge answers the test peer on loopback.
        webrtc_host_addresses=["127.0.0.1"],
    )


def by_code(live: dict[str, Any], world: World) -> dict[str, dict[str, Any]]:
    names = {room_id: code for code, room_id in world.rooms.items()}
    return {names[s["room_id"]]: s for s in live["sites"]}


async def start_now(api: Api, world: World, meeting_id: int) -> dict[str, Any]:
    status, body = await api.as_(world.tokens["central_sec"]).post(
        f"/api/meetings/{meeting_id}/start", {}
    )
    assert status == 202, body
    return dict(body)


async def live_of(api: Api, world: World, meeting_id: int) -> dict[str, Any]:
    status, body = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting_id}/live"
    )
    assert status == 200, body
    return dict(body)


def mcu(app: Any) -> SimulatedBridge:
    bridge = app[REGISTRY]["mcu-a"]
    assert isinstance(bridge, SimulatedBridge)
    return bridge


async def until(check: Any, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_the_host_room_is_dialled_first_even_when_not_booked_as_a_site(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=5)
    sites = [{"room_id": world.rooms[code]} for code in ("central", "lao-cai")]
    meeting_id = await book(
        api, world, start, sites=sites, host_room_id=world.rooms["lao-cai.bac-ha"]
    )
    before = await live_of(api, world, meeting_id)
    first = before["sites"][0]
    assert (first["room_id"], first["host"]) == (world.rooms["lao-cai.bac-ha"], True)
    await start_now(api, world, meeting_id)
    await settle(app, clock)

    live = await live_of(api, world, meeting_id)
    sites_now = by_code(live, world)
    assert {code: (s["state"], s["host"]) for code, s in sites_now.items()} == {
        "lao-cai.bac-ha": ("connected", True),
        "central": ("connected", False),
        "lao-cai": ("connected", False),
    }
    # Not a booked site: it shows as -room_id, like a room added to one occurrence.
    assert sites_now["lao-cai.bac-ha"]["site_id"] == -world.rooms["lao-cai.bac-ha"]
    async with app[SESSIONS]() as session:
        run_site_of = {
            room_id: site_id
            for site_id, room_id in await session.execute(select(RunSite.id, RunSite.room_id))
        }
    # The board's source gives each running site's state and channel.
    async with app[SESSIONS]() as session:
        hot = await MeetingSites().sites_between(session, clock.now, clock.now)
    running = {s.room_id: (s.state, s.channel) for s in hot if isinstance(s, SiteInRun)}
    assert running == {
        world.rooms[code]: ("connected", "room_system")
        for code in ("central", "lao-cai", "lao-cai.bac-ha")
    }
    conference = next(iter(mcu(app).mcu._conferences.values()))
    # Legs are kept in the order the MCU was asked to dial them.
    order = [leg.site_id for leg in conference.legs.values()]
    assert order[0] == str(run_site_of[world.rooms["lao-cai.bac-ha"]])
    assert len(order) == 3


async def test_a_host_room_outside_the_organisers_units_is_refused(
    api: Api, world: World, clock: FakeClock
) -> None:
    start = clock.now.replace(microsecond=0) + timedelta(hours=2)
    status, body = await api.as_(world.tokens["laocai_sec"]).post(
        "/api/meetings",
        booking(
            world,
            start,
            organizer_unit_id=world.units["lao-cai"],
            host_room_id=world.rooms["dien-bien"],
        ),
    )
    assert status == 422, body
    assert [e["field"] for e in body["errors"]] == ["host_room_id"]


async def test_a_fallen_back_sites_browser_connects_it_and_every_view_says_so(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=1)
    meeting_id = await book(api, world, start)
    await start_now(api, world, meeting_id)
    await settle(app, clock)

    live = await live_of(api, world, meeting_id)
    sites = by_code(live, world)
    dien_bien = sites["dien-bien"]
    assert dien_bien["state"] == "fallback" and dien_bien["channel"] is None
    assert dien_bien["bridge"] == "webrtc"
    # mcu-a takes no browsers and nothing links the built-in conference to it.
    assert dien_bien["separate_room"] is True
    url = dien_bien["fallback_url"]
    assert url.startswith("http://127.0.0.1:8080/join/")
    assert sites["central"]["host"] is True and sites["lao-cai"]["host"] is False
    for code in ("central", "lao-cai", "lao-cai.bac-ha"):
        assert (sites[code]["channel"], sites[code]["channel_label"]) == (
            "room_system",
            "Thiết bị phòng họp",
        )
        assert sites[code]["separate_room"] is False and sites[code]["fallback_url"] is None
    attempts = dien_bien["attempts"]

    peer = Peer("dien-bien", 660.0)
    whip = Whip(app_client, url.rsplit("/", 1)[1])
    try:
        await peer.join(whip)
        async with app[SESSIONS]() as session:
            builtin = await session.scalar(
                select(RunConference).where(RunConference.role == "fallback")
            )
        assert builtin is not None
        ref = ConferenceRef("webrtc", builtin.conference_id)

        async def browser_in() -> bool:
            listed = await app[REGISTRY]["webrtc"].participants(ref)
            return any(p.connected for p in listed)

        await until(browser_in)
        await app[ORCHESTRATOR].step_all()
        dien_bien = by_code(await live_of(api, world, meeting_id), world)["dien-bien"]
        assert dien_bien["state"] == "connected"
        assert (dien_bien["channel"], dien_bien["channel_label"]) == (
            "browser",
            "Trình duyệt (WebRTC)",
        )
        assert dien_bien["bridge"] == "webrtc" and dien_bien["separate_room"] is True
        assert dien_bien["fallback_url"] == url

        clock.advance(minutes=20)
        assert await whip.leave() == 204

        async def browser_out() -> bool:
            return not await app[REGISTRY]["webrtc"].participants(ref)

        await until(browser_out)
    finally:
        await peer.close()
    for _ in range(2):  # it stays in fallback: nobody calls its room by itself
        await app[ORCHESTRATOR].step_all()
    dien_bien = by_code(await live_of(api, world, meeting_id), world)["dien-bien"]
    assert (dien_bien["state"], dien_bien["channel"]) == ("fallback", "browser")
    assert dien_bien["attempts"] == attempts and dien_bien["fallback_url"] == url

    clock.advance(minutes=5)
    status, ended = await api.as_(world.tokens["central_sec"]).post(
        f"/api/meetings/{meeting_id}/end"
    )
    assert status == 200 and ended["status"] == "ended", ended
    assert all(s["fallback_url"] is None for s in ended["sites"])
    status, meeting = await api.as_(world.tokens["central_sec"]).get(f"/api/meetings/{meeting_id}")
    assert status == 200 and meeting["status"] == "ended"

    # Attendance: JSON, CSV and XLSX name the browser.
    sec = world.tokens["central_sec"]
    status, report = await api.as_(sec).get(f"/api/meetings/{meeting_id}/attendance")
    assert status == 200, report
    names = {room_id: code for code, room_id in world.rooms.items()}
    rows = {names[s["room_id"]]: s for s in report["sites"]}
    assert rows["dien-bien"]["took_part_via"] == "browser"
    assert rows["dien-bien"]["took_part_via_label"] == "Trình duyệt (WebRTC)"
    # Joined a little before the booked start (measured from it) and left 20 minutes later.
    assert list(rows["dien-bien"]["channels"]) == ["browser"]
    assert 19 * 60 <= rows["dien-bien"]["channels"]["browser"] <= 20 * 60
    assert rows["lao-cai"]["took_part_via"] == "room_system"
    base = f"/api/meetings/{meeting_id}/attendance"
    response = await app_client.get(
        f"{base}?format=csv", headers={"Authorization": f"Bearer {sec}"}
    )
    table = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    column = table[0].index("Hình thức tham dự")
    by_room = {row[1]: row[column] for row in table[1:]}
    assert by_room["Phòng họp dien-bien"] == "Trình duyệt (WebRTC)"
    assert by_room["Phòng họp lao-cai"] == "Thiết bị phòng họp"
    response = await app_client.get(
        f"{base}?format=xlsx", headers={"Authorization": f"Bearer {sec}"}
    )
    sheet = load_workbook(io.BytesIO(await response.read()))["Điểm cầu"]
    header = [cell.value for cell in sheet[1]]
    index = header.index("Hình thức tham dự")
    xlsx = {row[1]: row[index] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert xlsx["Phòng họp dien-bien"] == "Trình duyệt (WebRTC)"

    # Verification counts the browser site from the built-in bridge's own records.
    async with app[SESSIONS]() as session:
        run = await session.scalar(select(MeetingRun))
        assert run is not None
        measured = await measure_occurrences(
            session,
            [(meeting_id, run.occurrence_key)],
            now=clock.now,
            policy=AttendancePolicy(),
            builtin_bridges=frozenset({"webrtc"}),
        )
    connection = measured[(meeting_id, run.occurrence_key)]
    assert connection.sites_connected == 4 and connection.peak_sites == 4

    # Statistics: site participations per channel.
    await app[STATS].refresher.refresh()
    # From the meeting's own day: near midnight in Hà Nội the clock is a day further by now.
    first_day = start.astimezone(HCM).date().isoformat()
    day = clock.now.astimezone(HCM).date().isoformat()
    status, share = await api.as_(world.tokens["admin"]).get(
        f"/api/stats/online-share?from={first_day}&to={day}"
    )
    assert status == 200, share
    assert share["channels"] == {"room_system": 3, "browser": 1, "gateway": 0, "dial_in": 0}
    assert share["total"]["held"] == 1 and share["total"]["verified_online"] == 1


async def test_a_one_off_meeting_ended_early_is_held_and_measured_from_its_real_end(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = clock.now.replace(microsecond=0) + timedelta(minutes=1)
    sites = [{"room_id": world.rooms[code]} for code in ("central", "lao-cai")]
    meeting_id = await book(api, world, start, sites=sites)
    await start_now(api, world, meeting_id)
    await settle(app, clock)
    clock.now = start + timedelta(minutes=20)
    status, ended = await api.as_(world.tokens["central_sec"]).post(
        f"/api/meetings/{meeting_id}/end"
    )
    assert status == 200 and ended["status"] == "ended"
    status, meeting = await api.as_(world.tokens["central_sec"]).get(f"/api/meetings/{meeting_id}")
    assert meeting["status"] == "ended"
    real_end = clock.now

    # Attendance over the 20 minutes it ran, not the 60 booked: both sites were there.
    status, report = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting_id}/attendance"
    )
    assert status == 200, report
    assert {s["status"] for s in report["sites"]} == {"present"}
    assert all(s["share"] > 0.9 for s in report["sites"])
    assert all(s["connected_seconds"] <= 20 * 60 for s in report["sites"])

    # Statistics hold it from its real end, well before the booked one.
    clock.advance(minutes=1)
    await app[STATS].refresher.refresh()
    async with app[SESSIONS]() as session:
        fact = await session.scalar(
            select(StatsOccurrence).where(StatsOccurrence.meeting_id == meeting_id)
        )
    assert fact is not None and fact.end_at == real_end
    # Rebuilt from the register, the row says the same.
    async with app[SESSIONS].begin() as session:
        await app[STATS].refresher.rebuild(session)
    async with app[SESSIONS]() as session:
        rebuilt = await session.scalar(
            select(StatsOccurrence.end_at).where(StatsOccurrence.meeting_id == meeting_id)
        )
    assert rebuilt == real_end
    await app[STATS].refresher.refresh()
    first_day = start.astimezone(HCM).date().isoformat()
    day = clock.now.astimezone(HCM).date().isoformat()
    status, share = await api.as_(world.tokens["admin"]).get(
        f"/api/stats/online-share?from={first_day}&to={day}"
    )
    assert status == 200, share
    assert share["total"]["held"] == 1 and share["total"]["booked"] == 0


async def test_the_schema_documents_channel_host_and_separate_room(api: Api) -> None:
    status, document = await api.get("/api/openapi.json")
    assert status == 200
    schemas = document["components"]["schemas"]
    site = schemas["LiveSite"]["properties"]
    for name in ("channel", "channel_label", "host", "separate_room", "fallback_url", "bridge"):
        assert site[name].get("description"), name
    assert "dial_in" in str(site["channel"])
    for model in ("MeetingCreate", "MeetingUpdate", "MeetingOut"):
        described = schemas[model]["properties"]["host_room_id"]["description"]
        assert "chaired" in described and "dialled first" in described, model
