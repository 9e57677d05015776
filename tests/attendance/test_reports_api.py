"""The attendance report over HTTP, from stored bridge events, polls and manual entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tests.api import Api, FakeClock
from tests.attendance.helpers import book, event, iso, key_text, launch, push, whole_minute
from tests.world import World
from vcorch.attendance.polling import record_poll
from vcorch.attendance.routes import ATTENDANCE
from vcorch.mcu_adapter.base import Participant
from vcorch.web.keys import SESSIONS


def by_room(report: dict[str, Any], world: World) -> dict[str, dict[str, Any]]:
    codes = {room: code for code, room in world.rooms.items()}
    return {codes[site["room_id"]]: site for site in report["sites"]}


async def test_statuses_times_and_shares_from_pushed_events(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = whole_minute(clock.now) - timedelta(hours=3)
    end = start + timedelta(hours=2)
    meeting = await book(api, world, start=start, end=end)
    run = await launch(
        app,
        world,
        meeting["id"],
        occurrence_key=start,
        start=start,
        end=end,
        participants={"central": "leg-c", "lao-cai": "leg-lc", "dien-bien": "leg-db"},
    )
    m = timedelta(minutes=1)
    stored = await push(
        app,
        "mcu",
        [
            # Central: tagged with its site, on time, to the end.
            event("join", start - 2 * m, "leg-c", site=run.sites["central"]),
            event("leave", end + m, "leg-c"),
            # Lào Cai: known by its participant id, 25 minutes late.
            event("join", start + 25 * m, "leg-lc"),
            event("leave", end, "leg-lc"),
            # Điện Biên: on time, gone after an hour, by a reconnect in between.
            event("join", start, "leg-db"),
            event("leave", start + 30 * m, "leg-db"),
            event("join", start + 30 * m + timedelta(seconds=20), "leg-db", event_id="rejoin"),
            event("leave", start + 60 * m, "leg-db", event_id="gone"),
            # Someone nobody knows.
            event("join", start + 5 * m, "guest-1", name="Khách"),
        ],
    )
    assert stored == 9

    status, report = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting['id']}/attendance"
    )
    assert status == 200, report
    assert report["run_id"] == run.run_id and report["final"] is True
    assert report["occurrence"] == key_text(start)
    sites = by_room(report, world)
    # The contract's fields, as contract.
    for site in report["sites"]:
        assert {"room_id", "status", "connected_seconds", "first_join", "last_leave"} <= set(site)
    assert sites["central"]["status"] == "present"
    assert sites["central"]["connected_seconds"] == 7200
    assert sites["central"]["first_join"] == iso(start - 2 * m)
    assert sites["central"]["last_leave"] == iso(end + m)
    assert sites["central"]["took_part_via"] == "room_system"
    assert sites["lao-cai"]["status"] == "late"
    assert sites["lao-cai"]["connected_seconds"] == 95 * 60
    assert sites["dien-bien"]["status"] == "left_early"
    assert sites["dien-bien"]["connected_seconds"] == 3600
    assert sites["dien-bien"]["reconnects"] == 1
    assert len(sites["dien-bien"]["intervals"]) == 1
    assert sites["lao-cai.bac-ha"]["status"] == "absent"
    assert sites["lao-cai.bac-ha"]["first_join"] is None
    assert sites["lao-cai.bac-ha"]["connected_seconds"] == 0
    # The guest stayed in when the meeting ended: closed at its end, kept apart.
    [guest] = report["unmatched"]
    assert guest["participant_id"] == "guest-1" and guest["display_name"] == "Khách"
    assert guest["intervals"][0]["end_mark"] == "meeting_ended"
    assert report["summary"] == {
        "sites": 4,
        "present": 1,
        "late": 1,
        "left_early": 1,
        "partial": 0,
        "absent": 1,
        "attended": 3,
        "headcount": 0,
        "checked_in": 0,
    }

    # Replaying every event, and the same events once more in another order, changes nothing.
    assert await push(app, "mcu", []) == 0
    again_status, again = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting['id']}/attendance"
    )
    assert again_status == 200 and again == report


async def test_unnamed_conference_address_matching_and_fallback_channel(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = whole_minute(clock.now) - timedelta(hours=3)
    end = start + timedelta(hours=1)
    meeting = await book(api, world, start=start, end=end)
    run = await launch(
        app,
        world,
        meeting["id"],
        occurrence_key=start,
        start=start,
        end=end,
        participants={"central": "leg-c", "dien-bien": "web-db"},
        states={"dien-bien": "fallback"},
    )
    m = timedelta(minutes=1)
    await push(
        app,
        "mcu",
        [
            event("join", start, "leg-c"),
            # A leave that does not name its conference (a CDR read after a restart).
            event("leave", start + 40 * m, "leg-c", conference=""),
            # Lào Cai's room system, known only by its address.
            event(
                "join", start, "leg-x", address="<SIP:PhongHop@lao-cai.example.vn;transport=tls>"
            ),
            # Điện Biên fell back: its browser participant.
            event("join", start + m, "web-db"),
        ],
    )
    _, report = await api.as_(world.tokens["admin"]).get(
        f"/api/meetings/{meeting['id']}/attendance"
    )
    sites = by_room(report, world)
    assert sites["central"]["last_leave"] == iso(start + 40 * m)
    assert sites["central"]["status"] == "left_early"
    assert sites["lao-cai"]["status"] == "present"
    assert sites["lao-cai"]["marks"] == ["closed_at_end"]
    assert sites["dien-bien"]["took_part_via"] == "browser"
    assert sites["dien-bien"]["site_id"] == run.sites["dien-bien"]


async def test_polling_fills_what_pushed_events_lost(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    # The clock only moves forward from here (tokens issued now stay valid).
    start = whole_minute(clock.now) - timedelta(minutes=20)
    end = start + timedelta(hours=2)
    meeting = await book(api, world, start=start, end=end)
    run = await launch(
        app,
        world,
        meeting["id"],
        occurrence_key=start,
        start=start,
        end=end,
        status="live",
        participants={"central": "leg-c", "lao-cai": "leg-lc"},
    )
    m = timedelta(minutes=1)
    await push(app, "mcu", [event("join", start, "leg-c")])

    def listed(*ids: str) -> list[Participant]:
        return [
            Participant(
                participant_id=ident,
                display_name=ident,
                address=None,
                site_id=None,
                connected=True,
                muted=False,
                joined_at=start + 2 * m if ident == "leg-lc" else None,
            )
            for ident in ids
        ]

    sessions = app[SESSIONS]
    # Lào Cai's join never arrived; the poll lists it, with the time the bridge knows.
    assert (
        await record_poll(
            sessions, run.run_id, "mcu", "conf-1", listed("leg-c", "leg-lc"), start + 10 * m
        )
        == 1
    )
    # Polling again says nothing new.
    assert (
        await record_poll(
            sessions, run.run_id, "mcu", "conf-1", listed("leg-c", "leg-lc"), start + 11 * m
        )
        == 0
    )
    # Central left and its leave was lost: the next poll no longer lists it.
    assert (
        await record_poll(sessions, run.run_id, "mcu", "conf-1", listed("leg-lc"), start + 20 * m)
        == 1
    )
    clock.now = start + 25 * m
    _, report = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting['id']}/attendance"
    )
    assert report["final"] is False and report["run_status"] == "live"
    sites = by_room(report, world)
    assert sites["lao-cai"]["first_join"] == iso(start + 2 * m)
    assert sites["lao-cai"]["still_connected"] is True
    assert sites["lao-cai"]["last_leave"] is None
    assert "gaps_filled_by_polling" in sites["lao-cai"]["marks"]
    assert sites["central"]["last_leave"] == iso(start + 20 * m)
    assert sites["central"]["intervals"][0]["end_mark"] == "polled"
    # The lost leave turns up late with its true time: it wins over the poll's.
    await push(app, "mcu", [event("leave", start + 17 * m, "leg-c")])
    _, report = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting['id']}/attendance"
    )
    assert by_room(report, world)["central"]["last_leave"] == iso(start + 17 * m)
    # The service method is the orchestrator's on_poll sink (same signature).
    await app[ATTENDANCE].record_poll(run.run_id, "mcu", "conf-1", [], start + 26 * m)
    clock.now = start + 27 * m
    _, report = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting['id']}/attendance"
    )
    assert by_room(report, world)["lao-cai"]["last_leave"] == iso(start + 26 * m)


async def test_occurrences_of_a_series_and_bad_input(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    first = whole_minute(clock.now) - timedelta(days=14, hours=2)
    meeting = await book(
        api,
        world,
        start=first,
        end=first + timedelta(hours=1),
        rooms=("central", "lao-cai"),
        rrule="FREQ=WEEKLY;COUNT=4",
    )
    second = first + timedelta(days=7)
    for when, joined in ((first, "lc-1"), (second, "lc-2")):
        await launch(
            app,
            world,
            meeting["id"],
            occurrence_key=when,
            start=when,
            end=when + timedelta(hours=1),
            conference_id=f"conf-{joined}",
            participants={"lao-cai": joined},
            rooms=("central", "lao-cai"),
        )
    await push(app, "mcu", [event("join", first, "lc-1", conference="conf-lc-1")])
    sec = api.as_(world.tokens["central_sec"])
    # Default: the latest run.
    _, latest = await sec.get(f"/api/meetings/{meeting['id']}/attendance")
    assert latest["occurrence"] == key_text(second)
    assert by_room(latest, world)["lao-cai"]["status"] == "absent"
    _, earlier = await sec.get(
        f"/api/meetings/{meeting['id']}/attendance?occurrence={key_text(first)}"
    )
    assert by_room(earlier, world)["lao-cai"]["status"] == "present"
    # The third occurrence was never launched: everyone absent, from the booked sites.
    third = first + timedelta(days=14)
    _, never = await sec.get(
        f"/api/meetings/{meeting['id']}/attendance?occurrence={key_text(third)}"
    )
    assert never["run_status"] == "not_launched"
    assert [s["status"] for s in never["sites"]] == ["absent", "absent"]

    for bad in ("soon", "20261399T999999Z"):
        status, problem = await sec.get(
            f"/api/meetings/{meeting['id']}/attendance?occurrence={bad}"
        )
        assert status == 422 and problem["errors"][0]["field"] == "occurrence", bad
    status, problem = await sec.get(
        f"/api/meetings/{meeting['id']}/attendance?occurrence=20200101T000000Z"
    )
    assert status == 404 and problem["errors"][0]["field"] == "occurrence"
    status, problem = await sec.get(f"/api/meetings/{meeting['id']}/attendance?format=pdf")
    assert status == 422
    for missing in (999999, 2**40):
        status, _ = await sec.get(f"/api/meetings/{missing}/attendance")
        assert status == 404, missing
    # Nothing is recorded for a cancelled occurrence.
    fourth = key_text(first + timedelta(days=21))
    status, _ = await sec.delete(
        f"/api/meetings/{meeting['id']}/occurrences/{fourth}", headers={"If-Match": '"v1"'}
    )
    assert status == 200
    status, problem = await sec.post(
        f"/api/meetings/{meeting['id']}/attendance/entries",
        {"room_id": world.rooms["lao-cai"], "occurrence": fourth},
    )
    assert status == 409 and problem["errors"][0]["field"] == "occurrence"


async def test_scope_follows_the_meeting_register(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    start = whole_minute(clock.now) - timedelta(hours=3)
    meeting = await book(
        api,
        world,
        start=start,
        end=start + timedelta(hours=1),
        rooms=("dien-bien",),
        organizer_unit_id=world.units["dien-bien"],
        host_room_id=world.rooms["dien-bien"],
        as_user="dienbien_sec",
    )
    path = f"/api/meetings/{meeting['id']}/attendance"
    for user in ("dienbien_op", "dienbien_sec", "leader", "admin"):
        status, _ = await api.as_(world.tokens[user]).get(path)
        assert status == 200, user
    for user in ("laocai_leader", "laocai_op", "laocai_admin"):
        status, _ = await api.as_(world.tokens[user]).get(path)
        assert status == 404, user
    status, _ = await api.get(path)
    assert status == 401
