"""Bringing occurrences up on bridges, keeping every site connected, failing over, ending.

The database is the truth: a :class:`MeetingRun` per launched occurrence, its conferences
(:class:`RunConference`) and its sites (:class:`RunSite`).  Everything here is written so
that it may stop at any point (a crash, a SIGKILL, a lost leadership) and be resumed by
another process:

- a launch *claims* the occurrence by inserting its run (unique per occurrence), so two
  launchers end up with one run;
- conferences are created with a key derived from the run and its fail-over generation,
  and bridges return the existing conference for a key they know;
- before dialling, :meth:`Orchestrator.step` lists the bridge's participants and adopts any
  call it finds for a site (by the site tag vcorch dials with, or by address), so a site
  whose call was placed just before a crash is never called twice.

Only the scheduler leader calls :meth:`step` (the supervisor loop); API requests in any
process change a site's wish (redial, hold) and the leader acts on it.

Bridge calls happen outside database transactions (on SQLite a write transaction locks
the file); a step reads a snapshot, talks to bridges, then writes what changed in one
transaction, skipping a site that someone else changed in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor
from vcorch.mcu_adapter import BridgeBusy, BridgeRegistry, Capabilities
from vcorch.orchestration.bringup import BringUp
from vcorch.orchestration.claim import EARLY_START, Claims
from vcorch.orchestration.collaborators import (
    DialMetrics,
    FallbackLinks,
    HealthReader,
    PollSink,
)
from vcorch.orchestration.control import MAX_EXTENSION, ConferenceAction, Control, SiteAction
from vcorch.orchestration.dial_in import DialInNotices, DialInNumbers
from vcorch.orchestration.failover import BridgeFailures, FailOver
from vcorch.orchestration.fallback import Fallback
from vcorch.orchestration.models import MeetingRun
from vcorch.orchestration.policy import ACTIVE_RUN, SETTLED, OrchestrationPolicy
from vcorch.orchestration.snapshot import read_view
from vcorch.orchestration.supervise import StepOutcome, Supervisor

__all__ = [
    "ACTIVE_RUN",
    "EARLY_START",
    "MAX_EXTENSION",
    "SETTLED",
    "DialMetrics",
    "FallbackLinks",
    "OrchestrationPolicy",
    "Orchestrator",
    "PollSink",
    "StepOutcome",
]

log = logging.getLogger(__name__)


class Orchestrator:
    """The orchestration parts composed: claim, bring-up, supervision with its fallback and
    fail-over, live control; one lock per run keeps a step and an end apart."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: BridgeRegistry,
        clock: Callable[[], datetime],
        policy: OrchestrationPolicy | None = None,
        *,
        links: FallbackLinks | None = None,
        metrics: DialMetrics | None = None,
        on_poll: PollSink | None = None,
        health: HealthReader | None = None,
        dial_in_notices: DialInNotices | None = None,
    ) -> None:
        self._sessions = sessions
        self.policy = policy or OrchestrationPolicy()
        self.links = links
        self._metrics = metrics
        self._claims = Claims(sessions, clock)
        self._fallback = Fallback(sessions, registry, clock, self.policy, links, metrics)
        self._bring_up = BringUp(sessions, registry, clock, self.policy, self._fallback, health)
        failures = BridgeFailures()
        self._supervisor = Supervisor(
            sessions,
            registry,
            clock,
            self.policy,
            failures=failures,
            fail_over=FailOver(sessions, registry, self._bring_up, failures),
            fallback=self._fallback,
            metrics=metrics,
            on_poll=on_poll,
            health=health,
        )
        self._control = Control(sessions, registry, clock)
        self._dial_in = DialInNumbers(sessions, registry, clock, dial_in_notices)
        self._locks: dict[int, asyncio.Lock] = {}
        self._wake = asyncio.Event()

    @property
    def supervision_requests(self) -> dict[str, int]:
        """Requests supervision sent so far, per bridge (listings and confirming looks)."""
        return dict(self._supervisor.requests)

    # -- waking the supervisor ----------------------------------------------------------

    def wake(self) -> None:
        """Ask the supervisor to look now (a launch, a redial) instead of at its next tick."""
        self._wake.set()

    async def wait_for_work(self, seconds: float) -> None:
        """Sleep until :meth:`wake` or for ``seconds``, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    def _lock(self, run_id: int) -> asyncio.Lock:
        return self._locks.setdefault(run_id, asyncio.Lock())

    # -- claiming -------------------------------------------------------------------------

    async def claim(
        self,
        meeting_id: int,
        occurrence_key: datetime | None,
        actor: Actor,
        *,
        late: bool = False,
    ) -> tuple[int, bool]:
        """The run of this occurrence, created if needed; (run id, created now).

        ``occurrence_key`` ``None`` picks the occurrence under way, or the next one starting
        within the hour.  Raises :class:`Conflict` for an occurrence already over.
        """
        return await self._claims.claim(meeting_id, occurrence_key, actor, late=late)

    # -- the supervisor step --------------------------------------------------------------

    async def step(self, run_id: int) -> StepOutcome | None:
        """Look at one run's conferences and sites once, and act: the supervisor's unit."""
        async with self._lock(run_id):
            view = await read_view(self._sessions, run_id)
            if view is None or view.status not in ACTIVE_RUN:
                return None
            if not view.conferences and not view.whole_fallback:
                try:
                    await self._bring_up.bring_up(view, set())
                except BridgeBusy as err:
                    # Busy is not down: the bridge is not left out, the next step tries again.
                    log.info("run %s: %s is busy creating the conference", run_id, err.bridge)
                    return None
                view = await read_view(self._sessions, run_id)
                if view is None:
                    return None
            outcome = await self._supervisor.supervise(view)
            # After the look, so that dialling never waits for it; a new conference (a
            # bring-up, a fail-over) gets its numbers at the step that follows.
            await self._dial_in.record(run_id)
            return outcome

    async def step_all(self) -> int:
        """One step of every active run; returns how many were looked at."""
        async with self._sessions() as session:
            ids = list(
                (
                    await session.execute(
                        select(MeetingRun.id).where(MeetingRun.status.in_(ACTIVE_RUN))
                    )
                ).scalars()
            )
        await asyncio.gather(*(self._step_logged(run_id) for run_id in ids))
        if self._metrics is not None:
            self._metrics.meetings_live(len(ids))
        return len(ids)

    async def _step_logged(self, run_id: int) -> None:
        try:
            await self.step(run_id)
        except Exception:  # one run's trouble must not stop the others'
            log.exception("run %s: supervisor step failed", run_id)

    # -- fallback links, ending and live control ---------------------------------------

    def fallback_url(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str | None:
        return self._fallback.url(run_site_id, meeting_id, expires_at)

    async def end(self, run_id: int, actor: Actor, *, reason: str = "ended") -> None:
        """End every conference of the run and close it; ending twice is not an error."""
        async with self._lock(run_id):
            if await self._control.end(run_id, actor, reason=reason):
                self._locks.pop(run_id, None)

    async def extend(self, run_id: int, actor: Actor, minutes: int) -> datetime:
        return await self._control.extend(run_id, actor, minutes)

    def capabilities_of(self, bridge: str) -> Capabilities | None:
        """What a configured bridge can do (None: not configured here)."""
        return self._control.capabilities_of(bridge)

    async def conference_control(
        self,
        run_id: int,
        actor: Actor,
        action: ConferenceAction,
        *,
        layout: str | None = None,
        on: bool = True,
        text: str = "",
        seconds: int = 0,
    ) -> None:
        """The meeting's in-call controls (layout, mute everyone, lock, a message)."""
        await self._control.conference_control(
            run_id, actor, action, layout=layout, on=on, text=text, seconds=seconds
        )

    async def site_action(
        self, run_id: int, site_id: int, action: SiteAction, actor: Actor
    ) -> None:
        """An operator's request about one site; the bridge is asked at once."""
        await self._control.site_action(run_id, site_id, action, actor)
        if action == "redial":
            self.wake()
