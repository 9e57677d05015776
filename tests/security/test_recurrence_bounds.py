"""A series' end bounds the work one booking costs: ends past the horizon are refused at
once, and a stored series that reaches far (written before the limit) breaks no feed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
from sqlalchemy import func, select, update

from tests.api import Api
from tests.world import World
from vcorch.booking import Meeting, MeetingOccurrence
from vcorch.web.keys import SESSIONS

START = (datetime.now(UTC) + timedelta(days=2)).replace(hour=1, minute=0, second=0, microsecond=0)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def booking(world: World, rrule: str, start: datetime = START) -> dict[str, Any]:
    return {
        "title": "Giao ban hằng ngày",
        "kind": "meeting",
        "mode": "online",
        "organizer_unit_id": world.units["lao-cai"],
        "start": stamp(start),
        "end": stamp(start + timedelta(hours=1)),
        "rrule": rrule,
        "sites": [{"room_id": world.rooms["lao-cai"]}],
    }


FAR_RULES = [
    "FREQ=DAILY;UNTIL=99991231T000000Z",
    "FREQ=YEARLY;INTERVAL=366;UNTIL=99991231T000000Z",
    "FREQ=YEARLY;INTERVAL=366;COUNT=1000",
    "FREQ=MONTHLY;INTERVAL=12;COUNT=12",  # eleven years
]


async def test_an_end_past_the_horizon_is_refused_at_once(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    for rule in FAR_RULES:
        began = time.perf_counter()
        status, body = await sec.post("/api/meetings", booking(world, rule))
        took = time.perf_counter() - began
        assert status == 422, (rule, body)
        assert [e["field"] for e in body["errors"]] == ["rrule"], body
        assert "10 years" in body["errors"][0]["message"], body
        assert took < 1.0, (rule, took)
    # The same rules within the horizon are bookings like any other.
    until = stamp(START + timedelta(days=365 * 9)).replace("-", "").replace(":", "")
    status, body = await sec.post("/api/meetings", booking(world, f"FREQ=WEEKLY;UNTIL={until}"))
    assert status == 201, body


async def test_a_long_series_stores_its_occurrences_two_years_ahead(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    until = stamp(START + timedelta(days=365 * 9)).replace("-", "").replace(":", "")
    status, body = await sec.post("/api/meetings", booking(world, f"FREQ=DAILY;UNTIL={until}"))
    assert status == 201, body
    sessions = api.client.app[SESSIONS]
    async with sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(MeetingOccurrence)
            .where(MeetingOccurrence.meeting_id == body["id"])
        )
    # Nine years of days would be 3,287 rows; the horizon keeps about two years of them.
    assert stored is not None and 700 <= stored <= 740, stored


async def test_a_stored_far_series_breaks_neither_its_ics_nor_the_feeds(
    api: Api, world: World
) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    status, far = await sec.post("/api/meetings", booking(world, "FREQ=DAILY;COUNT=3"))
    assert status == 201, far
    later = START + timedelta(hours=3)
    status, other = await sec.post("/api/meetings", booking(world, "FREQ=WEEKLY;COUNT=3", later))
    assert status == 201, other
    # As a booking made before the horizon existed would be stored.
    async with api.client.app[SESSIONS].begin() as session:
        await session.execute(
            update(Meeting)
            .where(Meeting.id == far["id"])
            .values(rrule="FREQ=YEARLY;INTERVAL=366;UNTIL=99991231T000000Z", series_end=None)
        )
    response = await api.client.get(
        f"/api/meetings/{far['id']}.ics", headers={"Authorization": f"Bearer {sec.token}"}
    )
    assert response.status == 200, await response.text()
    # Nor the pages and reports that list it.
    window = f"from={stamp(START - timedelta(days=1))}&to={stamp(START + timedelta(days=30))}"
    for path in (
        f"/api/meetings?{window}",
        f"/api/meetings/{far['id']}",
        f"/api/meetings/{far['id']}/occurrences?{window}",
        "/api/meetings/changes",
        f"/api/stats/online-share?from={START:%Y-%m-%d}&to={START + timedelta(days=30):%Y-%m-%d}",
    ):
        status, body = await sec.get(path)
        assert status == 200, (path, body)
    status, token = await sec.post("/api/calendar-tokens", {"unit_id": world.units["lao-cai"]})
    assert status == 201, token
    feed = await api.client.get(f"/api/calendar/lao-cai.ics?token={token['token']}")
    assert feed.status == 200, await feed.text()
    uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(await feed.read()).walk("VEVENT")}
    assert any(str(other["id"]) in uid for uid in uids), uids
