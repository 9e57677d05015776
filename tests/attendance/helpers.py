"""Booking a meeting over the API and standing in for the orchestrator's launch.

The orchestrator creates MeetingRun, RunConference and RunSite rows when it launches an
occurrence; these helpers write the same rows, so attendance is tested on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from tests.api import Api
from tests.world import World
from vcorch.bridge_events.models import BridgeEventRecord
from vcorch.mcu_adapter.base import BridgeEvent
from vcorch.mcu_adapter.routes import EVENT_SINK
from vcorch.orchestration.models import MeetingRun, RunConference, RunSite
from vcorch.web.keys import SESSIONS


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def key_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def whole_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


async def book(
    api: Api,
    world: World,
    *,
    start: datetime,
    end: datetime,
    rooms: Sequence[str] = ("central", "lao-cai", "dien-bien", "lao-cai.bac-ha"),
    as_user: str = "central_sec",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Hội nghị sơ kết Chương trình 1719",
        "kind": "conference",
        "mode": "online",
        "organizer_unit_id": world.units["central"],
        "start": iso(start),
        "end": iso(end),
        "host_room_id": world.rooms["central"],
        "sites": [{"room_id": world.rooms[code]} for code in rooms],
    }
    body.update(extra)
    status, created = await api.as_(world.tokens[as_user]).post("/api/meetings", body)
    assert status == 201, created
    return created


@dataclass
class Launched:
    run_id: int
    conference_id: str
    bridge: str
    # world room code -> RunSite id
    sites: dict[str, int] = field(default_factory=dict)


async def launch(
    app: web.Application,
    world: World,
    meeting_id: int,
    *,
    occurrence_key: datetime,
    start: datetime,
    end: datetime,
    status: str = "ended",
    ended_at: datetime | None = None,
    bridge: str = "mcu",
    conference_id: str = "conf-1",
    role: str = "host",
    participants: dict[str, str | None] | None = None,
    states: dict[str, str] | None = None,
    rooms: Sequence[str] = ("central", "lao-cai", "dien-bien", "lao-cai.bac-ha"),
) -> Launched:
    """The rows a launch leaves: one run, one conference, one RunSite per room."""
    participants = participants or {}
    states = states or {}
    async with app[SESSIONS].begin() as session:
        run = MeetingRun(
            meeting_id=meeting_id,
            occurrence_key=occurrence_key,
            start_at=start,
            end_at=end,
            status=status,
            launched_at=start - timedelta(minutes=5),
            launched_by="test",
            ended_at=ended_at if ended_at is not None else (end if status == "ended" else None),
        )
        session.add(run)
        await session.flush()
        conference = RunConference(
            run_id=run.id,
            bridge=bridge,
            conference_id=conference_id,
            conference_key=f"meeting-{meeting_id}",
            role=role,
        )
        session.add(conference)
        await session.flush()
        launched = Launched(run.id, conference_id, bridge)
        for code in rooms:
            site = RunSite(
                run_id=run.id,
                room_id=world.rooms[code],
                endpoint_id=world.endpoints[code],
                unit_id=world.units[code],
                conference_row_id=conference.id,
                participant_id=participants.get(code),
                state=states.get(code, "connected"),
                since=start,
            )
            session.add(site)
            await session.flush()
            launched.sites[code] = site.id
    return launched


async def set_participants(
    app: web.Application, launched: Launched, participants: dict[str, str]
) -> None:
    """What the orchestrator records once a dial-out is placed: the bridge's participant."""
    async with app[SESSIONS].begin() as session:
        for code, participant in participants.items():
            await session.execute(
                update(RunSite)
                .where(RunSite.id == launched.sites[code])
                .values(participant_id=participant)
            )


async def end_run(app: web.Application, launched: Launched, at: datetime) -> None:
    async with app[SESSIONS].begin() as session:
        await session.execute(
            update(MeetingRun)
            .where(MeetingRun.id == launched.run_id)
            .values(status="ended", ended_at=at)
        )


async def stored_events(app: web.Application, bridge: str) -> list[BridgeEventRecord]:
    async with app[SESSIONS]() as session:
        return list(
            (
                await session.execute(
                    select(BridgeEventRecord)
                    .where(BridgeEventRecord.bridge == bridge)
                    .order_by(BridgeEventRecord.at, BridgeEventRecord.id)
                )
            ).scalars()
        )


async def wait_for_events(
    app: web.Application,
    bridge: str,
    predicate: Callable[[list[BridgeEventRecord]], bool],
    wait: float = 10.0,
) -> list[BridgeEventRecord]:
    """The bridge's stored events once ``predicate`` holds for them."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        found = await stored_events(app, bridge)
        if predicate(found):
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"events not stored within {wait} s: "
                + ", ".join(f"{e.kind} {e.participant_id}" for e in found)
            )
        await asyncio.sleep(0.05)


async def push(app: web.Application, bridge: str, events: Sequence[BridgeEvent]) -> int:
    """Events as the hook route stores them (the same sink)."""
    return await app[EVENT_SINK](bridge, events)


def event(
    kind: str,
    at: datetime,
    participant: str,
    *,
    conference: str = "conf-1",
    site: int | None = None,
    address: str | None = None,
    name: str | None = None,
    event_id: str | None = None,
) -> BridgeEvent:
    return BridgeEvent(
        kind="join" if kind == "join" else "leave",
        conference_id=conference,
        participant_id=participant,
        at=at,
        event_id=event_id or f"{kind}:{participant}:{at.isoformat()}",
        site_id=str(site) if site is not None else None,
        display_name=name,
        address=address,
    )
