"""People and manual records: roster, operator check-ins, headcounts, in-person entries, and
self check-in through the signed link and its QR code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

from aiohttp.test_utils import TestClient

from tests.api import Api, FakeClock
from tests.attendance.helpers import book, iso, key_text, whole_minute
from tests.world import World


def by_room(report: dict[str, Any], world: World) -> dict[str, dict[str, Any]]:
    codes = {room: code for code, room in world.rooms.items()}
    return {codes[site["room_id"]]: site for site in report["sites"]}


async def audit_actions(api: Api, world: World, entity: str) -> list[tuple[str, str]]:
    status, page = await api.as_(world.tokens["admin"]).get(f"/api/audit?entity={entity}")
    assert status == 200, page
    return [(item["action"], item["actor"]) for item in page["items"]]


async def test_in_person_training_with_roster_checkins_and_headcounts(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    start = whole_minute(clock.now) - timedelta(minutes=30)
    end = start + timedelta(hours=1)
    meeting = await book(
        api,
        world,
        start=start,
        end=end,
        rooms=("central", "lao-cai", "dien-bien"),
        mode="in_person",
        kind="training",
    )
    path = f"/api/meetings/{meeting['id']}"
    sec = api.as_(world.tokens["central_sec"])
    status, roster = await sec.post(
        f"{path}/roster",
        {
            "people": [
                {
                    "full_name": "Nguyễn Văn An",
                    "unit_name": "Sở Nông nghiệp",
                    "position": "Chuyên viên",
                    "room_id": world.rooms["lao-cai"],
                },
                {"full_name": "Lò Thị Bình", "unit_name": "UBND xã Bắc Hà"},
                {"full_name": "Giàng A Chử", "room_id": world.rooms["dien-bien"]},
                # The same person again, typed differently: kept once.
                {"full_name": "nguyen van  an", "unit_name": "SỞ NÔNG NGHIỆP"},
            ]
        },
    )
    assert status == 200, roster
    assert [p["full_name"] for p in roster["items"]] == [
        "Nguyễn Văn An",
        "Lò Thị Bình",
        "Giàng A Chử",
    ]
    an, binh, chu = (p["id"] for p in roster["items"])
    status, problem = await sec.post(
        f"{path}/roster", {"people": [{"full_name": "X", "room_id": world.rooms["lao-cai.bac-ha"]}]}
    )
    assert status == 422 and problem["errors"][0]["field"] == "people.0.room_id"
    status, _ = await api.as_(world.tokens["laocai_op"]).post(
        f"{path}/roster", {"people": [{"full_name": "Y"}]}
    )
    assert status == 403

    # Lào Cai's operator checks people in at the Lào Cai site.
    op = api.as_(world.tokens["laocai_op"])
    status, first = await op.post(
        f"{path}/checkins", {"room_id": world.rooms["lao-cai"], "roster_id": an}
    )
    assert status == 201, first
    assert first["full_name"] == "Nguyễn Văn An" and first["method"] == "operator"
    status, again = await op.post(
        f"{path}/checkins",
        {
            "room_id": world.rooms["lao-cai"],
            "full_name": "NGUYỄN VĂN AN",
            "unit_name": "Sở nông nghiệp",
        },
    )
    assert status == 200 and again["id"] == first["id"]
    # Unit left out: still matched to the roster by the name alone.
    status, binh_in = await op.post(
        f"{path}/checkins", {"room_id": world.rooms["lao-cai"], "full_name": "Lò Thị Bình"}
    )
    assert status == 201 and binh_in["roster_id"] == binh
    status, walk_in = await op.post(
        f"{path}/checkins",
        {"room_id": world.rooms["lao-cai"], "full_name": "Vàng Văn Dế", "position": "Trưởng bản"},
    )
    assert status == 201 and walk_in["roster_id"] is None
    # Not their site; not a site at all; nobody named.
    status, problem = await op.post(
        f"{path}/checkins", {"room_id": world.rooms["dien-bien"], "full_name": "Z"}
    )
    assert status == 403 and problem["errors"][0]["field"] == "room_id"
    status, problem = await op.post(
        f"{path}/checkins", {"room_id": world.rooms["lao-cai.bac-ha"], "full_name": "Z"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "room_id"
    status, problem = await op.post(f"{path}/checkins", {"room_id": world.rooms["lao-cai"]})
    assert status == 422 and problem["errors"][0]["field"] == "full_name"
    status, _ = await api.as_(world.tokens["laocai_leader"]).post(
        f"{path}/checkins", {"room_id": world.rooms["lao-cai"], "full_name": "Z"}
    )
    assert status == 403
    status, _ = await op.delete(f"{path}/checkins/{walk_in['id']}")
    assert status == 204

    status, counted = await op.call(
        "PUT",
        f"{path}/attendance/headcounts",
        json={"room_id": world.rooms["lao-cai"], "count": 12},
    )
    assert status == 200 and counted["count"] == 12
    status, counted = await op.call(
        "PUT",
        f"{path}/attendance/headcounts",
        json={"room_id": world.rooms["lao-cai"], "count": 14},
    )
    assert status == 200 and counted["count"] == 14
    status, problem = await op.call(
        "PUT",
        f"{path}/attendance/headcounts",
        json={"room_id": world.rooms["lao-cai"], "count": -1},
    )
    assert status == 422

    # In person: the operator records the site took part (default: the whole occurrence).
    status, entry = await op.post(f"{path}/attendance/entries", {"room_id": world.rooms["lao-cai"]})
    assert status == 201, entry
    assert entry["channel"] == "in_person"
    assert entry["start"] == iso(start) and entry["end"] == iso(end)
    # Điện Biên's, by the organiser's secretariat, for the first 20 minutes only.
    status, partial = await sec.post(
        f"{path}/attendance/entries",
        {
            "room_id": world.rooms["dien-bien"],
            "start": iso(start),
            "end": iso(start + timedelta(minutes=20)),
            "note": "Mất điện sau 20 phút",
        },
    )
    assert status == 201, partial
    status, problem = await sec.post(
        f"{path}/attendance/entries",
        {"room_id": world.rooms["dien-bien"], "start": iso(end), "end": iso(start)},
    )
    assert status == 422 and problem["errors"][0]["field"] == "end"
    # A portal still sending the first API's name of a browser site is understood.
    status, older = await sec.post(
        f"{path}/attendance/entries",
        {
            "room_id": world.rooms["central"],
            "channel": "webrtc_fallback",
            "start": iso(start),
            "end": iso(start + timedelta(minutes=1)),
        },
    )
    assert status == 201 and older["channel"] == "browser", older
    assert (await sec.delete(f"{path}/attendance/entries/{older['id']}"))[0] in (200, 204)

    clock.now = end + timedelta(minutes=5)
    status, report = await sec.get(f"{path}/attendance")
    assert status == 200, report
    sites = by_room(report, world)
    assert sites["lao-cai"]["status"] == "present"
    assert sites["lao-cai"]["took_part_via"] == "in_person"
    assert sites["lao-cai"]["marks"] == ["manual_entry"]
    assert sites["lao-cai"]["headcount"] == 14 and sites["lao-cai"]["checked_in"] == 2
    assert sites["dien-bien"]["status"] == "left_early"
    assert sites["central"]["status"] == "absent"
    people = report["people"]
    assert people["roster_size"] == 3 and people["checked_in"] == 2
    assert people["checked_in_from_roster"] == 2
    assert [p["id"] for p in people["not_checked_in"]] == [chu]
    assert report["summary"]["headcount"] == 14

    # Retracting an entry takes it out of the report, and keeps it listed.
    status, retracted = await sec.delete(f"{path}/attendance/entries/{partial['id']}")
    assert status == 200 and retracted["retracted_at"] is not None
    _, report = await sec.get(f"{path}/attendance")
    assert by_room(report, world)["dien-bien"]["status"] == "absent"
    _, entries = await sec.get(f"{path}/attendance/entries")
    assert len([e for e in entries["items"] if e["room_id"] != world.rooms["central"]]) == 2

    assert ("create", "user:laocai_op") in await audit_actions(api, world, "checkin")
    assert ("delete", "user:laocai_op") in await audit_actions(api, world, "checkin")
    assert ("retract", "user:central_sec") in await audit_actions(api, world, "attendance_entry")
    assert ("update", "user:laocai_op") in await audit_actions(api, world, "headcount")
    assert ("create", "user:central_sec") in await audit_actions(api, world, "roster_entry")


async def test_self_check_in_through_the_signed_link(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    start = whole_minute(clock.now) + timedelta(minutes=30)
    end = start + timedelta(hours=2)
    meeting = await book(api, world, start=start, end=end, rooms=("central", "lao-cai"))
    path = f"/api/meetings/{meeting['id']}"
    op = api.as_(world.tokens["laocai_op"])
    status, link = await op.post(f"{path}/checkin-links", {"room_id": world.rooms["lao-cai"]})
    assert status == 201, link
    assert link["occurrence"] == key_text(start)
    assert link["expires_at"] == iso(end + timedelta(minutes=120))
    assert link["url"].startswith("http://127.0.0.1:8080/checkin/")
    svg = ElementTree.fromstring(link["qr_svg"].encode())  # noqa: S314 -- our own SVG
    assert svg.tag.endswith("svg")
    token = link["url"].rsplit("/", 1)[1]
    # An operator of another province cannot make one for Lào Cai's site, nor for the meeting.
    status, _ = await api.as_(world.tokens["dienbien_op"]).post(
        f"{path}/checkin-links", {"room_id": world.rooms["lao-cai"]}
    )
    assert status == 404  # the meeting has no Điện Biên site: not even visible
    status, problem = await op.post(f"{path}/checkin-links", {})
    assert status == 403 and problem["errors"][0]["field"] == "room_id"

    public = api.as_(None)
    status, info = await public.get(f"/api/checkin/{token}")
    assert status == 200, info
    assert info["title"] == meeting["title"] and info["room_name"] == "Phòng họp lao-cai"
    assert info["timezone"] == "Asia/Ho_Chi_Minh"
    page = await app_client.get(f"/checkin/{token}")
    assert page.status == 200 and "checkin.js" in await page.text()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    qr = await app_client.get(f"/api/checkin/{token}/qr.svg")
    assert qr.status == 200 and qr.content_type == "image/svg+xml"

    status, done = await public.post(
        f"/api/checkin/{token}",
        {"full_name": "Hoàng Thị Mai", "unit_name": "Phòng Dân tộc huyện", "position": "Cán bộ"},
    )
    assert status == 201, done
    assert done["already"] is False
    status, done = await public.post(
        f"/api/checkin/{token}", {"full_name": "hoàng thị mai", "unit_name": "phòng dân tộc huyện"}
    )
    assert status == 200 and done["already"] is True
    status, problem = await public.post(f"/api/checkin/{token}", {"full_name": "  "})
    assert status == 422 and problem["errors"][0]["field"] == "full_name"
    status, problem = await public.post(f"/api/checkin/{token}", {"full_name": "A\u0000B"})
    assert status == 422

    # A forged or altered token is refused; so is one past its expiry.
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status, problem = await public.post(f"/api/checkin/{forged}", {"full_name": "Kẻ giả mạo"})
    assert status == 403 and problem["type"].endswith("checkin-link-invalid")
    other_meeting = token.replace(f"1.{meeting['id']}.", f"1.{meeting['id'] + 1}.", 1)
    status, _ = await public.get(f"/api/checkin/{other_meeting}")
    assert status == 403
    status, _ = await public.get("/api/checkin/not-a-token")
    assert status == 403

    sec = api.as_(world.tokens["central_sec"])
    _, people = await sec.get(f"{path}/checkins")
    assert [(p["full_name"], p["method"], p["room_id"]) for p in people["items"]] == [
        ("Hoàng Thị Mai", "self", world.rooms["lao-cai"])
    ]
    assert ("create", "user:self-check-in") in await audit_actions(api, world, "checkin")

    clock.now = end + timedelta(minutes=121)
    status, problem = await public.post(f"/api/checkin/{token}", {"full_name": "Người đến muộn"})
    assert status == 410 and problem["type"].endswith("checkin-link-expired")


async def test_a_link_before_the_meeting_and_for_a_cancelled_one(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    start = whole_minute(clock.now) + timedelta(days=2)
    meeting = await book(
        api, world, start=start, end=start + timedelta(hours=1), rooms=("central",)
    )
    sec = api.as_(world.tokens["central_sec"])
    status, link = await sec.post(f"/api/meetings/{meeting['id']}/checkin-links", {})
    assert status == 201
    token = link["url"].rsplit("/", 1)[1]
    status, _ = await api.as_(None).post(f"/api/checkin/{token}", {"full_name": "Sớm quá"})
    assert status == 409
    status, _ = await sec.delete(f"/api/meetings/{meeting['id']}", headers={"If-Match": '"v1"'})
    assert status == 200
    status, _ = await api.as_(None).get(f"/api/checkin/{token}")
    assert status == 404
