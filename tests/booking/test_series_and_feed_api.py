"""Series over HTTP (occurrences, one moved, one cancelled), the change feed, availability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api import Api
from tests.booking.test_booking_api import meeting
from tests.world import World

# A Monday 08:00 in Hà Nội, safely in the future.
FIRST = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def weekly(api: Api, world: World, **extra: Any) -> dict[str, Any]:
    body = meeting(
        world,
        title="Giao ban tuần",
        start=iso(FIRST),
        end=iso(FIRST + timedelta(hours=1)),
        rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        **extra,
    )
    status, created = await api.as_(world.tokens["central_sec"]).post("/api/meetings", body)
    assert status == 201, created
    return created


async def test_series_expands_with_exdates_and_crosses_the_year(api: Api, world: World) -> None:
    created = await weekly(api, world, exdates=[iso(FIRST + timedelta(weeks=1))])
    status, occ = await api.as_(world.tokens["laocai_op"]).get(
        f"/api/meetings/{created['id']}/occurrences?from=2026-12-01T00:00:00Z&to=2027-02-01T00:00:00Z"
    )
    assert status == 200
    starts = [o["start"] for o in occ["items"]]
    assert starts == ["2027-01-04T01:00:00Z", "2027-01-18T01:00:00Z", "2027-01-25T01:00:00Z"]
    assert occ["items"][0]["key"] == "20270104T010000Z"


async def test_moving_and_cancelling_one_occurrence(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    created = await weekly(api, world)
    path = f"/api/meetings/{created['id']}"
    key = "20270111T010000Z"
    moved_start = FIRST + timedelta(weeks=1, days=1)
    status, changed = await sec.patch(
        f"{path}/occurrences/{key}",
        {
            "start": iso(moved_start),
            "end": iso(moved_start + timedelta(hours=1)),
            "sites": [{"room_id": world.rooms["central"]}],
        },
        headers={"If-Match": '"v1"'},
    )
    assert status == 200, changed
    status, changed = await sec.delete(
        f"{path}/occurrences/20270118T010000Z", headers={"If-Match": '"v2"'}
    )
    assert status == 200 and changed["version"] == 3
    status, occ = await sec.get(
        f"{path}/occurrences?from=2027-01-10T00:00:00Z&to=2027-01-20T00:00:00Z"
    )
    by_key = {o["key"]: o for o in occ["items"]}
    assert by_key[key]["start"] == iso(moved_start) and by_key[key]["moved"] is True
    assert [s["room_id"] for s in by_key[key]["sites"]] == [world.rooms["central"]]
    assert by_key["20270118T010000Z"]["cancelled"] is True
    # The moved occurrence now holds only the central room: Lào Cai's room is free then.
    clash_free = meeting(
        world,
        sites=[{"room_id": world.rooms["lao-cai"]}],
        host_room_id=None,
        start=iso(moved_start),
        end=iso(moved_start + timedelta(hours=1)),
    )
    assert (await sec.post("/api/meetings", clash_free))[0] == 201
    clashing = meeting(
        world,
        sites=[{"room_id": world.rooms["central"]}],
        host_room_id=None,
        start=iso(moved_start),
        end=iso(moved_start + timedelta(hours=1)),
    )
    status, problem = await sec.post("/api/meetings", clashing)
    assert status == 409 and problem["clashes"][0]["occurrence"] == key


async def test_change_feed_replays_every_change_in_order(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    portal = api.as_(world.tokens["laocai_op"])
    _, start = await portal.get("/api/meetings/changes")
    cursor = start["next"]
    first = await weekly(api, world)
    await sec.patch(
        f"/api/meetings/{first['id']}",
        {"title": "Giao ban tuần (mới)"},
        headers={"If-Match": '"v1"'},
    )
    await sec.delete(f"/api/meetings/{first['id']}", headers={"If-Match": '"v2"'})
    hidden = meeting(world, sites=[{"room_id": world.rooms["dien-bien"]}], host_room_id=None)
    assert (await sec.post("/api/meetings", hidden))[0] == 201
    _status, page = await portal.get(f"/api/meetings/changes?since={cursor}")
    assert [(c["meeting_id"], c["version"], c["action"]) for c in page["items"]] == [
        (first["id"], 1, "create"),
        (first["id"], 2, "update"),
        (first["id"], 3, "cancel"),
    ]
    assert page["items"][1]["meeting"]["title"] == "Giao ban tuần (mới)"
    _, again = await portal.get(f"/api/meetings/changes?since={page['next']}")
    assert again["items"] == [] and again["next"] == page["next"]
    _, everything = await api.as_(world.tokens["leader"]).get(
        f"/api/meetings/changes?since={cursor}"
    )
    assert len(everything["items"]) == 4


async def test_availability_shows_busy_rooms_and_free_ports(api: Api, world: World) -> None:
    created = await weekly(api, world)
    status, body = await api.as_(world.tokens["central_sec"]).get(
        f"/api/availability?rooms={world.rooms['lao-cai']},{world.rooms['dien-bien']}"
        "&from=2027-01-04T00:00:00Z&to=2027-01-04T03:00:00Z"
    )
    assert status == 200, body
    laocai, dienbien = body["rooms"]
    assert [(s["start"], s["end"], s["busy"]) for s in laocai["spans"]] == [
        ("2027-01-04T00:00:00Z", "2027-01-04T01:00:00Z", False),
        ("2027-01-04T01:00:00Z", "2027-01-04T02:00:00Z", True),
        ("2027-01-04T02:00:00Z", "2027-01-04T03:00:00Z", False),
    ]
    assert [s["busy"] for s in dienbien["spans"]] == [False]
    in_use = {(p["start"], p["in_use"]) for p in body["ports"]}
    assert ("2027-01-04T01:00:00Z", len(created["sites"])) in in_use
    assert all(p["free"] == body["ports_total"] - p["in_use"] for p in body["ports"])


async def test_open_ended_series_clashes_beyond_the_stored_horizon(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["central_sec"])
    open_ended = meeting(
        world,
        title="Giao ban tháng",
        start=iso(FIRST),
        end=iso(FIRST + timedelta(hours=1)),
        rrule="FREQ=MONTHLY;BYMONTHDAY=4",
    )
    status, created = await sec.post("/api/meetings", open_ended)
    assert status == 201, created
    # Three years on (past the two stored years) the series still holds its rooms.
    later = datetime(2030, 3, 4, 1, 30, tzinfo=UTC)
    clash = meeting(world, start=iso(later), end=iso(later + timedelta(hours=1)))
    status, problem = await sec.post("/api/meetings", clash)
    assert status == 409, problem
    assert {c["meeting_id"] for c in problem["clashes"]} == {created["id"]}
    assert problem["clashes"][0]["occurrence"] == "20300304T010000Z"
    free_day = datetime(2030, 3, 5, 1, 30, tzinfo=UTC)
    status, _ = await sec.post(
        "/api/meetings", meeting(world, start=iso(free_day), end=iso(free_day + timedelta(hours=1)))
    )
    assert status == 201


async def test_the_calendar_lists_occurrences_in_a_window_within_scope(
    api: Api, world: World
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    created = await weekly(api, world)
    key = "20270111T010000Z"
    moved_start = FIRST + timedelta(weeks=1, days=1)
    status, _ = await sec.patch(
        f"/api/meetings/{created['id']}/occurrences/{key}",
        {"start": iso(moved_start), "end": iso(moved_start + timedelta(hours=1))},
        headers={"If-Match": '"v1"'},
    )
    assert status == 200
    status, _ = await sec.delete(
        f"/api/meetings/{created['id']}/occurrences/20270118T010000Z", headers={"If-Match": '"v2"'}
    )
    assert status == 200
    # Điện Biên's own meeting: not in Lào Cai's calendar.
    status, other = await api.as_(world.tokens["dienbien_sec"]).post(
        "/api/meetings",
        meeting(
            world,
            title="Họp Điện Biên",
            organizer_unit_id=world.units["dien-bien"],
            host_room_id=world.rooms["dien-bien"],
            sites=[{"room_id": world.rooms["dien-bien"]}],
            start=iso(FIRST),
            end=iso(FIRST + timedelta(hours=1)),
        ),
    )
    assert status == 201, other
    window = "from=2027-01-01T00:00:00Z&to=2027-01-22T00:00:00Z"

    status, page = await api.as_(world.tokens["laocai_sec"]).get(f"/api/occurrences?{window}")
    assert status == 200, page
    items = sorted(page["items"], key=lambda i: i["start"])
    assert [(i["meeting_id"], i["start"], i["moved"]) for i in items] == [
        (created["id"], "2027-01-04T01:00:00Z", False),
        (created["id"], iso(moved_start), True),
    ]
    assert items[0]["title"] == "Giao ban tuần" and items[0]["recurring"] is True
    assert items[0]["organizer_unit_name"] and items[0]["site_count"] == 2

    status, page = await sec.get(f"/api/occurrences?{window}&cancelled=true&q=giao ban")
    assert status == 200
    assert sorted(i["cancelled"] for i in page["items"]) == [False, False, True]

    status, page = await sec.get(f"/api/occurrences?{window}&unit={world.units['dien-bien']}")
    assert [i["title"] for i in page["items"]] == ["Họp Điện Biên"]

    status, page = await sec.get(f"/api/occurrences?{window}&limit=1")
    assert len(page["items"]) == 1 and page["next"]
    status, rest = await sec.get(f"/api/occurrences?{window}&limit=5&cursor={page['next']}")
    assert len(rest["items"]) == 2 and rest["next"] is None

    status, problem = await sec.get(
        "/api/occurrences?from=2027-01-01T00:00:00Z&to=2027-06-01T00:00:00Z"
    )
    assert status == 422 and problem["errors"][0]["field"] == "to"
