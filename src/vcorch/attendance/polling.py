"""Filling gaps from polled participant lists: what a lost pushed event would have said.

The orchestrator's supervisor polls each live conference's participants; it hands every list
to :func:`record_poll`.  Compared with what the stored reports say at that moment:

- a participant listed as connected whom no report has in gets a ``join`` (at the time the
  bridge says it joined, when it says one that fits, else at the poll);
- a participant the reports have in who is no longer listed (or no longer connected) gets a
  ``leave`` at the poll.

Both are stored as *polled* observations (table ``attendance_observations``), once each.  A
pushed event arriving later with its own, truer time wins on its own: intervals are replayed
in event-time order, and a join while in or a leave while out changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.attendance.intervals import Observation, dedupe, participant_timeline
from vcorch.attendance.loader import event_report, polled_report
from vcorch.attendance.mapping import ConferenceRef, Report, reports_of_run
from vcorch.attendance.models import PolledObservation
from vcorch.bridge_events import BridgeEventRecord
from vcorch.mcu_adapter import Participant
from vcorch.orchestration import MeetingRun, RunSite


async def record_poll(
    sessions: AsyncSession | async_sessionmaker[AsyncSession],
    run_id: int,
    bridge: str,
    conference_id: str,
    participants: Sequence[Participant],
    at: datetime,
) -> int:
    """Store the joins and leaves the poll of ``(bridge, conference_id)`` at ``at`` shows
    that no stored report says; returns how many were stored.

    Give an ``AsyncSession`` to write inside the caller's transaction, or a sessionmaker to
    write in a transaction of its own.  ``at`` is an aware UTC datetime.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    if isinstance(sessions, AsyncSession):
        return await _record(sessions, run_id, bridge, conference_id, participants, at)
    async with sessions.begin() as session:
        return await _record(session, run_id, bridge, conference_id, participants, at)


async def _record(
    session: AsyncSession,
    run_id: int,
    bridge: str,
    conference_id: str,
    participants: Sequence[Participant],
    at: datetime,
) -> int:
    if await session.get(MeetingRun, run_id) is None:
        return 0
    listed = {p.participant_id: p for p in participants if p.connected}
    dialled = set(
        (
            await session.execute(
                select(RunSite.participant_id).where(
                    RunSite.run_id == run_id, RunSite.participant_id.is_not(None)
                )
            )
        ).scalars()
    )
    candidates = sorted(set(listed) | {d for d in dialled if d})
    rows = list(
        (
            await session.execute(
                select(BridgeEventRecord).where(
                    BridgeEventRecord.bridge == bridge,
                    or_(
                        BridgeEventRecord.conference_id == conference_id,
                        and_(
                            BridgeEventRecord.conference_id == "",
                            BridgeEventRecord.participant_id.in_(candidates),
                        ),
                    ),
                    BridgeEventRecord.at <= at,
                )
            )
        ).scalars()
    )
    reports: list[Report] = [event_report(row) for row in rows]
    polled = list(
        (
            await session.execute(
                select(PolledObservation).where(
                    PolledObservation.run_id == run_id,
                    PolledObservation.bridge == bridge,
                    PolledObservation.conference_id.in_([conference_id, ""]),
                    PolledObservation.at <= at,
                )
            )
        ).scalars()
    )
    reports.extend(polled_report(row) for row in polled)
    # Reports naming no conference count when their participant is listed now or was
    # reported in this conference (reports_of_run keeps the latter).
    conference = ConferenceRef(bridge, conference_id, "host")
    mine = reports_of_run(reports, [conference], [])
    kept = {r.key for r in mine}
    mine.extend(
        r
        for r in reports
        if r.conference_id == "" and r.participant_id in listed and r.key not in kept
    )
    by_participant: dict[str, list[Observation]] = defaultdict(list)
    for report in mine:
        by_participant[report.participant_id].append(
            Observation(
                key=report.key,
                kind="join" if report.kind == "join" else "leave",
                participant=report.participant_id,
                at=report.at,
                source=report.source,
            )
        )
    inside: set[str] = set()
    last_leave: dict[str, datetime] = {}
    for ident, observed in by_participant.items():
        timeline = participant_timeline(ident, dedupe(observed), at, closed=False)
        if timeline.intervals and timeline.intervals[-1].end_mark == "still_connected":
            inside.add(ident)
        elif timeline.intervals:
            last_leave[ident] = timeline.intervals[-1].end
    new: list[dict[str, object]] = []
    for participant_id, participant in sorted(listed.items()):
        if participant_id in inside:
            continue
        joined = participant.joined_at
        left = last_leave.get(participant_id)
        when = at
        if joined is not None and joined <= at and (left is None or joined > left):
            when = joined
        new.append(_row(run_id, bridge, conference_id, participant, "join", when, at))
    for participant_id in sorted(inside - set(listed)):
        new.append(_row(run_id, bridge, conference_id, None, "leave", at, at, participant_id))
    if not new:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(PolledObservation).on_conflict_do_nothing(index_elements=["run_id", "dedupe_key"]),
        new,
    )
    return len(new)


def _row(
    run_id: int,
    bridge: str,
    conference_id: str,
    participant: Participant | None,
    kind: str,
    when: datetime,
    polled_at: datetime,
    participant_id: str | None = None,
) -> dict[str, object]:
    ident = participant.participant_id if participant is not None else participant_id or ""
    key = f"{bridge}:{conference_id}:{ident}:{kind}:{when.isoformat()}"
    return {
        "run_id": run_id,
        "bridge": bridge[:64],
        "conference_id": conference_id[:255],
        "participant_id": ident[:255],
        "kind": kind,
        "at": when,
        "source": "polled",
        "site_tag": participant.site_id[:64] if participant and participant.site_id else None,
        "display_name": participant.display_name[:255]
        if participant and participant.display_name
        else None,
        "address": participant.address[:500] if participant and participant.address else None,
        "dedupe_key": key[:255],
        "recorded_at": polled_at,
    }
