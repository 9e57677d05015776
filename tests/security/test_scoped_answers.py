"""Answers about rooms and clashes reveal nothing of another unit's meetings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api import Api
from tests.world import World

START = (datetime.now(UTC) + timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def booking(world: World, unit: str, room: str, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "kind": "meeting",
        "mode": "online",
        "organizer_unit_id": world.units[unit],
        "start": stamp(START),
        "end": stamp(START + timedelta(hours=2)),
        "sites": [{"room_id": world.rooms[room]}],
    }


async def test_a_clash_with_a_hidden_meeting_says_only_when_the_room_is_taken(
    api: Api, world: World
) -> None:
    laocai = api.as_(world.tokens["laocai_sec"])
    status, hidden = await laocai.post(
        "/api/meetings", booking(world, "lao-cai", "lao-cai", "Họp nội bộ tỉnh Lào Cai")
    )
    assert status == 201, hidden
    dienbien = api.as_(world.tokens["dienbien_sec"])
    assert (await dienbien.get(f"/api/meetings/{hidden['id']}"))[0] == 404
    status, body = await dienbien.post(
        "/api/meetings", booking(world, "dien-bien", "lao-cai", "Họp tỉnh Điện Biên")
    )
    assert status == 409, body
    text = str(body)
    assert "Lào Cai" not in text and str(hidden["id"]) not in [
        str(c.get("meeting_id")) for c in body["clashes"]
    ]
    room_clash = next(c for c in body["clashes"] if c["kind"] == "room")
    assert set(room_clash) == {"kind", "resource_id", "start", "end", "candidate_occurrence"}
    assert room_clash["resource_id"] == world.rooms["lao-cai"]
    assert room_clash["start"] == stamp(START) and room_clash["end"] == stamp(
        START + timedelta(hours=2)
    )
    # Whoever may read the meeting learns which one it is.
    central = api.as_(world.tokens["central_sec"])
    status, body = await central.post(
        "/api/meetings", booking(world, "central", "lao-cai", "Họp Ban Chỉ đạo")
    )
    assert status == 409, body
    seen = next(c for c in body["clashes"] if c["kind"] == "room")
    assert seen["meeting_id"] == hidden["id"]
    assert seen["meeting_title"] == "Họp nội bộ tỉnh Lào Cai"


async def test_availability_answers_a_hidden_room_as_an_unknown_one(api: Api, world: World) -> None:
    laocai = api.as_(world.tokens["laocai_sec"])
    status, _ = await laocai.post(
        "/api/meetings", booking(world, "lao-cai", "lao-cai", "Họp nội bộ tỉnh Lào Cai")
    )
    assert status == 201
    window = f"from={stamp(START - timedelta(hours=1))}&to={stamp(START + timedelta(hours=4))}"
    dienbien = api.as_(world.tokens["dienbien_sec"])
    assert (await dienbien.get(f"/api/rooms/{world.rooms['lao-cai']}"))[0] == 404
    hidden_status, hidden = await dienbien.get(
        f"/api/availability?rooms={world.rooms['lao-cai']}&{window}"
    )
    unknown_status, unknown = await dienbien.get(f"/api/availability?rooms=987654&{window}")
    assert hidden_status == unknown_status == 422, (hidden, unknown)
    assert hidden["type"] == unknown["type"]
    assert "spans" not in str(hidden)
    # The room's own unit still reads its calendar.
    status, own = await laocai.get(f"/api/availability?rooms={world.rooms['lao-cai']}&{window}")
    assert status == 200 and any(s["busy"] for s in own["rooms"][0]["spans"]), own
