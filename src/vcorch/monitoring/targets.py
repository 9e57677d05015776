"""What to probe for each endpoint, and which meetings make endpoints "hot" or alert-worthy.

An endpoint's probe follows from its kind:

- ``sip``: SIP OPTIONS to its address, over the endpoint's ``probe_transport`` when set
  (``tcp`` adds ``;transport=tcp``); ``sips:`` and ``tls`` are not probed (no TLS probe yet).
- ``h323``: TCP connect to the call-signalling port (``h323:`` is added when missing).
- ``webrtc``: a WebRTC site is a browser or a room gateway.  An address that is an
  ``http(s)`` URL names the room's Janus gateway: the media probe runs through its
  EchoTest.  Otherwise the endpoint's ``management_url``, when set, gets the HTTP probe;
  with neither there is nothing to reach and the endpoint stays ``unknown``.

Meetings: an occurrence of a held meeting (scheduled or live) in mode online or hybrid
counts; in-person meetings dial nobody.  Runs being launched or live count whatever their
booked times say (a meeting may overrun).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.booking.models import Meeting, MeetingOccurrence, MeetingOverride, MeetingSite
from vcorch.monitoring.models import EndpointHealthRecord
from vcorch.orchestration.models import MeetingRun, RunSite
from vcorch.rooms.models import Endpoint, Room, Unit

HELD = ("scheduled", "live")
VIDEO_MODES = ("online", "hybrid")
ACTIVE_RUNS = ("launching", "live")
# No occurrence lasts longer than this (the booking rules refuse it): the lower bound lets
# the window query use the start index.
MAX_OCCURRENCE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """How one endpoint is probed: the probe kind and what it is given."""

    kind: str  # sip | h323 | http | webrtc
    address: str


def probe_plan(
    kind: str, address: str, management_url: str | None, transport: str | None
) -> ProbePlan | None:
    """The probe for an endpoint, or None when nothing about it can be probed."""
    address = address.strip()
    if kind == "sip":
        if address.lower().startswith("sips:") or transport == "tls":
            return None
        if transport in ("udp", "tcp"):
            # The stored transport wins over a parameter in the URI.
            params = [
                part
                for part in address.split(";")[1:]
                if part.split("=", 1)[0].strip().lower() != "transport"
            ]
            base = address.split(";", 1)[0]
            if transport == "tcp":
                params.append("transport=tcp")
            address = ";".join([base, *params])
        return ProbePlan("sip", address)
    if kind == "h323":
        return ProbePlan(
            "h323", address if address.lower().startswith("h323:") else f"h323:{address}"
        )
    if kind == "webrtc":
        if address.lower().startswith(("http://", "https://")):
            return ProbePlan("webrtc", address)
        if management_url:
            return ProbePlan("http", management_url)
        return None
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint as the monitor sees it."""

    endpoint_id: int
    endpoint_kind: str
    room_id: int
    unit_id: int
    unit_path: str
    plan: ProbePlan | None
    own_interval: timedelta | None
    enabled: bool
    last_checked_at: datetime | None


def _target(row: Any) -> Target:
    return Target(
        endpoint_id=row.id,
        endpoint_kind=row.kind,
        room_id=row.room_id,
        unit_id=row.unit_id,
        unit_path=row.path,
        plan=probe_plan(row.kind, row.address, row.management_url, row.probe_transport),
        own_interval=(
            timedelta(seconds=row.probe_interval_seconds) if row.probe_interval_seconds else None
        ),
        enabled=bool(row.probe_enabled),
        last_checked_at=row.last_checked_at,
    )


def _target_query() -> Any:
    return (
        select(
            Endpoint.id,
            Endpoint.kind,
            Endpoint.address,
            Endpoint.management_url,
            Endpoint.probe_transport,
            Endpoint.probe_interval_seconds,
            Endpoint.probe_enabled,
            Endpoint.room_id,
            Room.unit_id,
            Unit.path,
            EndpointHealthRecord.last_checked_at,
        )
        .join(Room, Room.id == Endpoint.room_id)
        .join(Unit, Unit.id == Room.unit_id)
        .outerjoin(EndpointHealthRecord, EndpointHealthRecord.endpoint_id == Endpoint.id)
    )


async def load_targets(session: AsyncSession) -> list[Target]:
    """Every endpoint with probing enabled, in id order."""
    rows = await session.execute(
        _target_query().where(Endpoint.probe_enabled.is_(True)).order_by(Endpoint.id)
    )
    return [_target(row) for row in rows]


async def load_targets_by_id(session: AsyncSession, endpoint_ids: Collection[int]) -> list[Target]:
    """The named endpoints, enabled or not, in id order (unknown ids are left out)."""
    found: list[Target] = []
    ids = sorted(set(endpoint_ids))
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            _target_query().where(Endpoint.id.in_(ids[start : start + 500])).order_by(Endpoint.id)
        )
        found.extend(_target(row) for row in rows)
    return found


@dataclass(frozen=True, slots=True)
class SiteInMeeting:
    """A room (and the endpoint to dial there, if named) taking part in a meeting."""

    meeting_id: int
    title: str
    start: datetime
    end: datetime
    room_id: int
    endpoint_id: int | None
    running: bool  # from a run being launched or live, not only the booking


async def sites_between(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    rooms: Collection[int] | None = None,
) -> list[SiteInMeeting]:
    """Sites of video meetings overlapping ``[start, end)`` plus those of active runs.

    ``rooms`` narrows to those rooms.  Occurrences come from the stored occurrence table,
    which holds every series at least two years ahead, so the near future is always there.
    """
    wanted = set(rooms) if rooms is not None else None
    if wanted is not None and not wanted:
        return []
    found: list[SiteInMeeting] = []
    occurrences = (
        await session.execute(
            select(
                MeetingOccurrence.meeting_id,
                MeetingOccurrence.occurrence_key,
                MeetingOccurrence.start_at,
                MeetingOccurrence.end_at,
                MeetingOccurrence.own_sites,
                Meeting.title,
            )
            .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .where(
                Meeting.status.in_(HELD),
                Meeting.mode.in_(VIDEO_MODES),
                MeetingOccurrence.cancelled.is_(False),
                MeetingOccurrence.start_at < end,
                MeetingOccurrence.start_at > start - MAX_OCCURRENCE,
                MeetingOccurrence.end_at > start,
            )
            .order_by(MeetingOccurrence.start_at, MeetingOccurrence.meeting_id)
        )
    ).all()
    if occurrences:
        meeting_ids = sorted({row.meeting_id for row in occurrences})
        shared: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
        for chunk in _chunks(meeting_ids):
            query = select(MeetingSite.meeting_id, MeetingSite.room_id, MeetingSite.endpoint_id)
            query = query.where(MeetingSite.meeting_id.in_(chunk))
            if wanted is not None:
                query = query.where(MeetingSite.room_id.in_(sorted(wanted)))
            for meeting_id, room_id, endpoint_id in await session.execute(query):
                shared[meeting_id].append((room_id, endpoint_id))
        own: dict[tuple[int, datetime], list[tuple[int, int | None]]] = {}
        with_own = sorted({row.meeting_id for row in occurrences if row.own_sites})
        for chunk in _chunks(with_own):
            overrides = await session.execute(
                select(MeetingOverride).where(
                    MeetingOverride.meeting_id.in_(chunk), MeetingOverride.sites.is_not(None)
                )
            )
            for override in overrides.scalars():
                own[(override.meeting_id, override.occurrence_key)] = [
                    (int(site["room_id"]), site.get("endpoint_id")) for site in override.sites or []
                ]
        for row in occurrences:
            sites = (
                own.get((row.meeting_id, row.occurrence_key), [])
                if row.own_sites
                else shared.get(row.meeting_id, [])
            )
            for room_id, endpoint_id in sites:
                if wanted is None or room_id in wanted:
                    found.append(
                        SiteInMeeting(
                            row.meeting_id,
                            row.title,
                            row.start_at,
                            row.end_at,
                            room_id,
                            endpoint_id,
                            running=False,
                        )
                    )
    runs = (
        select(
            MeetingRun.meeting_id,
            MeetingRun.start_at,
            MeetingRun.end_at,
            Meeting.title,
            RunSite.room_id,
            RunSite.endpoint_id,
        )
        .join(Meeting, Meeting.id == MeetingRun.meeting_id)
        .join(RunSite, RunSite.run_id == MeetingRun.id)
        .where(MeetingRun.status.in_(ACTIVE_RUNS))
        .order_by(MeetingRun.start_at, MeetingRun.id)
    )
    if wanted is not None:
        runs = runs.where(RunSite.room_id.in_(sorted(wanted)))
    for run in await session.execute(runs):
        found.append(
            SiteInMeeting(
                run.meeting_id,
                run.title,
                run.start_at,
                run.end_at,
                run.room_id,
                run.endpoint_id,
                running=True,
            )
        )
    return found


def hot_endpoint_ids(sites: Sequence[SiteInMeeting], targets: Sequence[Target]) -> set[int]:
    """Endpoints named by ``sites``; a site without an endpoint makes its room's all hot."""
    hot: set[int] = set()
    rooms: set[int] = set()
    for site in sites:
        if site.endpoint_id is not None:
            hot.add(site.endpoint_id)
        else:
            rooms.add(site.room_id)
    if rooms:
        hot.update(target.endpoint_id for target in targets if target.room_id in rooms)
    return hot


def _chunks(values: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [values[start : start + size] for start in range(0, len(values), size)]
