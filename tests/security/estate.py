"""Objects of every kind in two provinces, for tests that call every route: Lào Cai (the
callers' own unit) and Điện Biên (another unit).  Made through the API, as users would.

``Estate.ids[scope][name]`` holds, for ``scope`` in ("own", "other"), one existing object
of each kind a path names: meeting, run site, occurrence key, attendance entry, roster
person, check-in, conference link, calendar token, user name, link tokens...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api import Api
from tests.world import World

PROVINCE = {"own": "lao-cai", "other": "dien-bien"}
OPERATOR = {"own": "laocai_op", "other": "dienbien_op"}


@dataclass
class Estate:
    world: World
    tokens: dict[str, str]  # role -> token of a Lào Cai caller with that role
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_secret: str = ""


def key_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def _ok(result: tuple[int, Any], *expected: int) -> Any:
    status, body = result
    assert status in (expected or (200, 201)), (status, body)
    return body


async def build_estate(api: Api, world: World) -> Estate:
    central = api.as_(world.tokens["central_sec"])
    admin = api.as_(world.tokens["admin"])
    created = await _ok(
        await admin.post(
            "/api/clients", {"name": "Cổng thông tin Lào Cai", "unit_id": world.units["lao-cai"]}
        )
    )
    status, grant = await api.call(
        "POST",
        "/api/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert status == 200, grant
    estate = Estate(
        world,
        tokens={
            "admin": world.tokens["laocai_admin"],
            "secretariat": world.tokens["laocai_sec"],
            "operator": world.tokens["laocai_op"],
            "leadership": world.tokens["laocai_leader"],
            "integration": grant["access_token"],
        },
        client_secret=created["client_secret"],
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    bridges = await _ok(await admin.get("/api/bridges"))
    for scope, code in PROVINCE.items():
        unit_id = world.units[code]
        room_id = world.rooms[code]
        ids: dict[str, Any] = {
            "unit": unit_id,
            "room": room_id,
            "endpoint": world.endpoints[code],
            "username": OPERATOR[scope],
            "unit_code": code,
            "bridge": bridges["items"][0]["name"],  # bridges belong to no unit
        }
        start = now + timedelta(minutes=10)
        meeting = await _ok(
            await central.post(
                "/api/meetings",
                {
                    "title": f"Giao ban hằng tuần {code}",
                    "kind": "meeting",
                    "mode": "online",
                    "organizer_unit_id": unit_id,
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(),
                    "host_room_id": room_id,
                    "sites": [{"room_id": room_id}],
                    "rrule": "FREQ=WEEKLY;COUNT=3",
                },
            )
        )
        ids["meeting"] = meeting["id"]
        ids["start"] = start
        ids["key"] = key_of(start + timedelta(days=7))
        await _ok(await central.post(f"/api/meetings/{meeting['id']}/start"), 202)
        live = await _ok(await central.get(f"/api/meetings/{meeting['id']}/live"))
        ids["site"] = live["sites"][0]["site_id"]
        link = await _ok(
            await central.post(f"/api/meetings/{meeting['id']}/sites/{ids['site']}/link")
        )
        ids["join_token"] = str(link.get("url", "")).rsplit("/", 1)[-1]
        entry = await _ok(
            await central.post(
                f"/api/meetings/{meeting['id']}/attendance/entries",
                {"room_id": room_id, "channel": "in_person"},
            )
        )
        ids["entry"] = entry["id"]
        roster = await _ok(
            await central.post(
                f"/api/meetings/{meeting['id']}/roster",
                {"people": [{"full_name": "Nguyễn Thị Hoa", "room_id": room_id}]},
            )
        )
        ids["person"] = roster["items"][0]["id"]
        checkin = await _ok(
            await central.post(
                f"/api/meetings/{meeting['id']}/checkins",
                {"room_id": room_id, "full_name": "Lò Văn Minh"},
            )
        )
        ids["checkin"] = checkin["id"]
        checkin_link = await _ok(
            await central.post(f"/api/meetings/{meeting['id']}/checkin-links", {"room_id": room_id})
        )
        ids["checkin_token"] = str(checkin_link.get("url", "")).rsplit("/", 1)[-1]
        # A meeting recorded after the fact, with a bridge conference linked to it.
        past = now - timedelta(days=2)
        recorded = await _ok(
            await central.post(
                "/api/meetings",
                {
                    "title": f"Hội nghị đã họp {code}",
                    "kind": "conference",
                    "mode": "online",
                    "organizer_unit_id": unit_id,
                    "start": past.isoformat(),
                    "end": (past + timedelta(hours=2)).isoformat(),
                    "host_room_id": room_id,
                    "sites": [{"room_id": room_id}],
                },
            )
        )
        ids["recorded_meeting"] = recorded["id"]
        conference_link = await _ok(
            await central.post(
                f"/api/meetings/{recorded['id']}/conference-links",
                {"bridge": "mcu-a", "conference_id": f"cospace-{code}"},
            )
        )
        ids["link"] = conference_link["id"]
        feed = await _ok(
            await api.as_(world.tokens["admin"]).post(
                "/api/calendar-tokens", {"unit_id": unit_id, "label": f"Cổng {code}"}
            )
        )
        ids["calendar_token"] = feed["id"]
        ids["feed_token"] = feed["token"]
        group = await _ok(
            await central.post(
                "/api/site-groups",
                {"unit_id": unit_id, "name": f"Nhóm {code}", "room_ids": [room_id]},
            )
        )
        ids["site_group"] = group["id"]
        estate.ids[scope] = ids
    return estate
