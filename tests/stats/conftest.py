"""A calendar for the statistics: meetings booked through the API, runs and bridge records
stored the way the orchestrator and the bridges' hooks store them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api import Api, FakeClock
from tests.world import World
from vcorch.mcu_adapter.base import BridgeEvent
from vcorch.mcu_adapter.routes import EVENT_SINK
from vcorch.orchestration.models import MeetingRun, RunConference, RunSite
from vcorch.rooms.models import Room
from vcorch.web.keys import SESSIONS

HANOI = timedelta(hours=7)
BOOKED_ON = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
_events = itertools.count(1)


@pytest.fixture
def clock() -> FakeClock:
    """The service's clock, on 5 January 2026 (before every meeting of the calendar)."""
    fake = FakeClock()
    fake.now = BOOKED_ON
    return fake


def local(day: str, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Hà Nội (UTC+7), as an aware UTC datetime."""
    year, month, dom = (int(part) for part in day.split("-"))
    return datetime(year, month, dom, hour, minute, tzinfo=UTC) - HANOI


@dataclass
class Calendar:
    """Books meetings as a secretariat does and records what happened to them."""

    app: Any
    api: Api
    world: World
    clock: FakeClock
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    async def token(self, username: str) -> str:
        # Tokens expire with the (moving) service clock: log in again once it has moved.
        known = self.tokens.get(username)
        if known is not None and known[0] == self.clock.now:
            return known[1]
        token = await self.api.login(username)
        self.tokens[username] = (self.clock.now, token)
        return token

    async def book(
        self,
        name: str,
        *,
        day: str = "",
        mode: str,
        kind: str = "meeting",
        organizer: str = "central",
        sites: tuple[str, ...] = ("central",),
        hours: tuple[int, int] = (9, 10),
        when: tuple[datetime, datetime] | None = None,
        **extra: Any,
    ) -> int:
        start, end = when or (local(day, hours[0]), local(day, hours[1]))
        body: dict[str, Any] = {
            "title": f"Cuộc họp {name}",
            "kind": kind,
            "mode": mode,
            "organizer_unit_id": self.world.units[organizer],
            "start": start.isoformat(),
            "end": end.isoformat(),
            "sites": [{"room_id": self.world.rooms[code]} for code in sites],
            **extra,
        }
        status, answer = await self.api.as_(await self.token("admin")).post("/api/meetings", body)
        assert status == 201, answer
        self.ids[name] = int(answer["id"])
        return int(answer["id"])

    async def cancel(self, name: str) -> None:
        api = self.api.as_(await self.token("admin"))
        status, meeting = await api.get(f"/api/meetings/{self.ids[name]}")
        assert status == 200, meeting
        status, answer = await api.delete(
            f"/api/meetings/{self.ids[name]}", headers={"If-Match": f'"{meeting["version"]}"'}
        )
        assert status == 200, answer

    async def cancel_occurrence(self, name: str, start: datetime) -> None:
        api = self.api.as_(await self.token("admin"))
        status, meeting = await api.get(f"/api/meetings/{self.ids[name]}")
        assert status == 200, meeting
        key = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        status, answer = await api.delete(
            f"/api/meetings/{self.ids[name]}/occurrences/{key}",
            headers={"If-Match": f'"{meeting["version"]}"'},
        )
        assert status == 200, answer

    async def ran(
        self,
        name: str,
        start: datetime,
        end: datetime,
        connected: dict[str, list[tuple[datetime, datetime]]],
        *,
        invited: tuple[str, ...],
        status: str = "ended",
        bridge: str = "mcu-a",
    ) -> None:
        """The occurrence as the orchestrator ran it: a run, its conference on ``bridge``, a
        site per invited room, and the joins and leaves the bridge pushed for the sites that
        connected (tagged with the run site's id, as the orchestrator dials them)."""
        meeting_id = self.ids[name]
        conference = f"conf-{meeting_id}-{start:%Y%m%d}"
        async with self.app[SESSIONS].begin() as session:
            run = MeetingRun(
                meeting_id=meeting_id,
                occurrence_key=start,
                start_at=start,
                end_at=end,
                status=status,
                launched_at=start if status != "missed" else None,
                ended_at=end if status == "ended" else None,
                created_at=start,
            )
            session.add(run)
            await session.flush()
            if status == "missed":
                return
            row = RunConference(
                run_id=run.id,
                bridge=bridge,
                conference_id=conference,
                conference_key=conference,
                role="host",
                created_at=start,
            )
            session.add(row)
            await session.flush()
            sites = {}
            for code in invited:
                room = await session.get(Room, self.world.rooms[code])
                assert room is not None
                site = RunSite(
                    run_id=run.id,
                    room_id=room.id,
                    endpoint_id=self.world.endpoints[code],
                    unit_id=room.unit_id,
                    conference_row_id=row.id,
                    participant_id=f"leg-{code}" if code in connected else None,
                    state="disconnected" if code in connected else "failed",
                    since=end,
                )
                session.add(site)
                await session.flush()
                sites[code] = site.id
        events = []
        for code, spans in connected.items():
            for joined, left in spans:
                for kind, at in (("join", joined), ("leave", left)):
                    events.append(
                        BridgeEvent(
                            kind=kind,  # type: ignore[arg-type]
                            conference_id=conference,
                            participant_id=f"leg-{code}",
                            at=at,
                            event_id=f"ev-{next(_events)}",
                            site_id=str(sites[code]),
                        )
                    )
        await self.app[EVENT_SINK](bridge, events)

    async def bridge_records(
        self,
        bridge: str,
        conference: str,
        connected: dict[str, list[tuple[datetime, datetime]]],
    ) -> None:
        """What a bridge vcorch did not run reported (a CDR receiver, a hook): by address."""
        events = []
        for code, spans in connected.items():
            for joined, left in spans:
                for kind, at in (("join", joined), ("leave", left)):
                    events.append(
                        BridgeEvent(
                            kind=kind,  # type: ignore[arg-type]
                            conference_id=conference,
                            participant_id=f"call-{code}",
                            at=at,
                            event_id=f"cdr-{next(_events)}",
                            address=f"sip:phonghop@{code}.example.vn",
                        )
                    )
        await self.app[EVENT_SINK](bridge, events)


@pytest.fixture
def calendar(app_client: Any, api: Api, world: World, clock: FakeClock) -> Calendar:
    return Calendar(app_client.server.app, api, world, clock)
