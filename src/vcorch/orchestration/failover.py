"""Fail-over: the sites on a bridge that stopped answering move to another.

:class:`BridgeFailures` counts each conference's failed health checks in a row (one is
made each time a look at the bridge fails; a busy answer is not a failure and makes
none); :func:`vcorch.orchestration.reconcile.after_look` says when the count is enough.

Only the sites on the failing bridge move: a failed cascaded bridge's sites go to the
meeting's standing conferences or to a new one linked to the host, and every other site
keeps its call.  A failed *host* takes the meeting with it (its cascades are linked to
it): the meeting is brought up again elsewhere, every site called again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.booking import Meeting
from vcorch.mcu_adapter import BridgeRegistry
from vcorch.orchestration.bridge_calls import drop_quietly, end_quietly
from vcorch.orchestration.bringup import BringUp
from vcorch.orchestration.channels import BROWSER_CHANNELS
from vcorch.orchestration.models import MeetingRun, RunConference, RunIncident, RunSite
from vcorch.orchestration.operator_mail import tell_secretariat
from vcorch.orchestration.snapshot import ConferenceView, RunView, read_view

log = logging.getLogger(__name__)


class BridgeFailures:
    """Failed looks in a row per conference row; in memory, so a new leader starts at 0."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def count(self, conference_id: int) -> int:
        return self._counts.get(conference_id, 0)

    def note(self, conference: ConferenceView, reason: str) -> None:
        count = self._counts.get(conference.id, 0) + 1
        self._counts[conference.id] = count
        if count == 1:
            log.warning("bridge %s stopped answering: %s", conference.bridge, reason)

    def clear(self, conference_id: int) -> bool:
        """Forget the conference's failures; True when it had any."""
        return bool(self._counts.pop(conference_id, 0))


class FailOver:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: BridgeRegistry,
        bring_up: BringUp,
        failures: BridgeFailures,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._bring_up = bring_up
        self._failures = failures

    async def fail_over(
        self, view: RunView, failing: Sequence[ConferenceView], now: datetime
    ) -> None:
        """Move the sites on the failing bridge(s) elsewhere."""
        bad = {c.bridge for c in failing}
        for conference in failing:
            self._failures.clear(conference.id)
        hosts = [c for c in view.conferences if c.role == "host"]
        if hosts and all(c.role == "cascade" for c in failing) and hosts[0].bridge not in bad:
            await self._move_cascaded(view, hosts[0], failing, bad, now)
            return
        await self._move_all(view, failing, bad, now)

    async def _move_cascaded(
        self,
        view: RunView,
        host: ConferenceView,
        failing: Sequence[ConferenceView],
        bad: set[str],
        now: datetime,
    ) -> None:
        """Only the failed cascades' sites move; everyone else keeps their call."""
        ids = {c.id for c in failing}
        moving = [
            s.id
            for s in view.sites
            if s.conference_row_id in ids
            and not s.held
            and s.state in ("pending", "dialling", "connected", "failed")
        ]
        async with self._sessions.begin() as session:
            await session.execute(
                update(RunConference)
                .where(RunConference.id.in_(sorted(ids)))
                .values(active=False, ended_at=now)
            )
        for conference in failing:
            if conference.role == "cascade":
                # The host's link leg to it is dead: hang it up (best effort).
                link = await self._link_of(conference.id)
                host_bridge = self._registry.get(host.bridge)
                if link and host_bridge is not None:
                    await drop_quietly(host_bridge, host.ref(), link)
            await end_quietly(self._registry, conference.bridge, conference.ref())
        moved = await self._bring_up.rehome(view, host, moving, set(bad))
        targets = ", ".join(sorted(moved)) or None
        await self._record(view, bad, targets, now, len(moving))

    async def _link_of(self, conference_row_id: int) -> str | None:
        async with self._sessions() as session:
            row = await session.get(RunConference, conference_row_id)
            return row.link_participant_id if row is not None else None

    async def _move_all(
        self, view: RunView, failing: Sequence[ConferenceView], bad: set[str], now: datetime
    ) -> None:
        """The host failed: a new generation elsewhere, every site called again."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(RunConference)
                .where(
                    RunConference.run_id == view.id,
                    RunConference.active.is_(True),
                    RunConference.role != "fallback",
                )
                .values(active=False, ended_at=now)
            )
            # Sites the supervisor gave up on get another chance on the new bridge.
            await session.execute(
                update(RunSite)
                .where(
                    RunSite.run_id == view.id,
                    RunSite.held.is_(False),
                    RunSite.state.in_(("pending", "dialling", "connected", "failed")),
                    # A site whose people are in the built-in bridge's conference by browser
                    # stays there; calling its room too would put it in the meeting twice.
                    or_(
                        RunSite.state != "connected",
                        RunSite.channel.is_(None),
                        RunSite.channel.not_in(sorted(BROWSER_CHANNELS)),
                        RunSite.conference_row_id.is_(None),
                        RunSite.conference_row_id.not_in(
                            select(RunConference.id).where(
                                RunConference.run_id == view.id, RunConference.role == "fallback"
                            )
                        ),
                    ),
                )
                .values(state="pending", participant_id=None, since=now, attempts=0)
            )
        # The healthy cascaded conferences are ended too: the new placement starts clean.
        for conference in view.conferences:
            if conference.bridge not in bad and conference.role != "fallback":
                await end_quietly(self._registry, conference.bridge, conference.ref())
        fresh = await read_view(self._sessions, view.id)
        if fresh is None:
            return
        await self._bring_up.bring_up(fresh, set(bad))
        after = await read_view(self._sessions, view.id)
        hosts = [c.bridge for c in after.conferences if c.role == "host"] if after else []
        await self._record(view, bad, hosts[0] if hosts else None, now, None)

    async def _record(
        self, view: RunView, bad: set[str], target: str | None, now: datetime, moved: int | None
    ) -> None:
        which = "" if moved is None else f"; {moved} site(s) on it moved, the others kept"
        async with self._sessions.begin() as session:
            session.add(
                RunIncident(
                    run_id=view.id,
                    kind="failover",
                    at=now,
                    detail=f"bridge {', '.join(sorted(bad))} stopped answering{which}",
                    from_bridge=sorted(bad)[0],
                    to_bridge=target,
                )
            )
            run = await session.get(MeetingRun, view.id)
            meeting = await session.get(Meeting, view.meeting_id)
            if run is not None and meeting is not None:
                await tell_secretariat(
                    session,
                    meeting,
                    dedupe_key=f"failover:{run.id}:{now.isoformat()}",
                    subject=f"Chuyển cầu dự phòng: {meeting.title}",
                    body=(
                        f"Cầu {', '.join(sorted(bad))} không phản hồi; cuộc họp {meeting.title}"
                        f" đã được chuyển sang {target or 'WebRTC'} và các điểm cầu đang được"
                        " gọi lại."
                    ),
                    now=now,
                )
        log.error(
            "run %s: moved from %s to %s", view.id, ", ".join(sorted(bad)), target or "WebRTC"
        )
