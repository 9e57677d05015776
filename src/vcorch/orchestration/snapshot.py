"""Snapshots: a run, its conferences and sites as plain values read in one short transaction.

A supervisor step decides from a snapshot and talks to bridges outside any transaction;
:func:`fingerprint` is what must not have changed between the snapshot and the write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.booking import Meeting
from vcorch.mcu_adapter import ConferenceRef
from vcorch.orchestration.models import MeetingRun, RunConference, RunSite
from vcorch.orchestration.placement import EndpointKind
from vcorch.rooms import Endpoint, Room, Unit


@dataclass
class SiteView:
    id: int
    room_id: int
    room_name: str
    unit_path: str
    endpoint_kind: EndpointKind | None
    address: str | None
    conference_row_id: int | None
    participant_id: str | None
    state: str
    since: datetime
    attempts: int
    dial_deadline: datetime | None
    last_error: str | None
    held: bool
    operators_told: bool
    # How the site takes part now (orchestration/channels.py); None until it first connects.
    channel: str | None = None
    # The meeting's host room (``Meeting.host_room_id``): dialled ahead of the others.
    host: bool = False


def fingerprint(site: SiteView | RunSite) -> tuple[object, ...]:
    """What must not have changed between a step's snapshot and its write."""
    return (site.state, site.participant_id, site.held, site.conference_row_id, site.channel)


@dataclass
class ConferenceView:
    id: int
    bridge: str
    conference_id: str
    conference_key: str
    extra: dict[str, str]
    role: str

    def ref(self) -> ConferenceRef:
        return ConferenceRef(self.bridge, self.conference_id, dict(self.extra))


@dataclass
class RunView:
    id: int
    meeting_id: int
    title: str
    organizer_path: str
    preferred_bridge: str | None
    start_at: datetime
    end_at: datetime
    status: str
    whole_fallback: bool
    conferences: list[ConferenceView]
    sites: list[SiteView]
    generation: int


def _kind(value: str | None) -> EndpointKind | None:
    kinds: dict[str | None, EndpointKind] = {"sip": "sip", "h323": "h323", "webrtc": "webrtc"}
    return kinds.get(value)


async def read_view(sessions: async_sessionmaker[AsyncSession], run_id: int) -> RunView | None:
    """The run as it is stored now, or None when it (or its meeting) is gone."""
    async with sessions() as session:
        run = await session.get(MeetingRun, run_id)
        if run is None:
            return None
        meeting = await session.get(Meeting, run.meeting_id)
        if meeting is None:  # deleted meanwhile (runs go with their meeting)
            return None
        organizer = await session.get(Unit, meeting.organizer_unit_id)
        conferences = list(
            (
                await session.execute(
                    select(RunConference)
                    .where(RunConference.run_id == run.id)
                    .order_by(RunConference.id)
                )
            ).scalars()
        )
        rows = (
            await session.execute(
                select(RunSite, Room.name, Unit.path, Endpoint.kind, Endpoint.address)
                .join(Room, Room.id == RunSite.room_id)
                .join(Unit, Unit.id == RunSite.unit_id)
                .outerjoin(Endpoint, Endpoint.id == RunSite.endpoint_id)
                .where(RunSite.run_id == run.id)
                .order_by(RunSite.id)
            )
        ).all()
    sites = [
        SiteView(
            id=site.id,
            room_id=site.room_id,
            room_name=room_name,
            unit_path=path,
            endpoint_kind=_kind(kind),
            address=address,
            conference_row_id=site.conference_row_id,
            participant_id=site.participant_id,
            state=site.state,
            since=site.since,
            attempts=site.attempts,
            dial_deadline=site.dial_deadline,
            last_error=site.last_error,
            held=site.held,
            operators_told=site.operators_told,
            channel=site.channel,
            host=site.room_id == meeting.host_room_id,
        )
        for site, room_name, path, kind, address in rows
    ]
    return RunView(
        id=run.id,
        meeting_id=meeting.id,
        title=meeting.title,
        organizer_path=organizer.path if organizer else "/",
        preferred_bridge=meeting.preferred_bridge,
        start_at=run.start_at,
        end_at=run.end_at,
        status=run.status,
        whole_fallback=run.whole_fallback,
        conferences=[
            ConferenceView(
                c.id, c.bridge, c.conference_id, c.conference_key, dict(c.extra or {}), c.role
            )
            for c in conferences
            if c.active
        ],
        sites=sites,
        generation=sum(1 for c in conferences if c.role == "host"),
    )
