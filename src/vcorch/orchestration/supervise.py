"""One supervisor look at a run: list each conference's participants, act on what the
pure decisions (:mod:`vcorch.orchestration.reconcile`) say, write what changed.

Bridge calls happen outside database transactions; the write skips a site that someone
else changed since the snapshot (an operator's redial or hold wins).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.booking import ACCEPTED, MeetingSite
from vcorch.mcu_adapter import (
    Bridge,
    BridgeError,
    BridgeRegistry,
    ConferenceNotFound,
    ConferenceSpec,
    DialTarget,
    Participant,
)
from vcorch.orchestration.bridge_calls import drop_quietly
from vcorch.orchestration.collaborators import DialMetrics, PollSink
from vcorch.orchestration.failover import BridgeFailures, FailOver
from vcorch.orchestration.fallback import Fallback
from vcorch.orchestration.models import RunConference, RunSite
from vcorch.orchestration.policy import OrchestrationPolicy
from vcorch.orchestration.reconcile import (
    DIAL_REFUSALS,
    SiteChange,
    after_look,
    call_placed,
    call_refused,
    dial_gate,
    dial_in_beside_fallback,
    reconcile,
    refusal,
    wants_call,
)
from vcorch.orchestration.snapshot import ConferenceView, RunView, SiteView, fingerprint

log = logging.getLogger(__name__)


@dataclass
class StepOutcome:
    connected: int = 0
    dialled: int = 0
    fallen_back: int = 0
    failed_over: bool = False
    changes: list[SiteChange] = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: BridgeRegistry,
        clock: Callable[[], datetime],
        policy: OrchestrationPolicy,
        *,
        failures: BridgeFailures,
        fail_over: FailOver,
        fallback: Fallback,
        metrics: DialMetrics | None,
        on_poll: PollSink | None,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._clock = clock
        self.policy = policy
        self._failures = failures
        self._fail_over = fail_over
        self._fallback = fallback
        self._metrics = metrics
        self._on_poll = on_poll

    async def supervise(self, view: RunView) -> StepOutcome:
        now = self._clock()
        outcome = StepOutcome()
        withdrawn = await self._withdraw(view, now)
        if withdrawn:
            view = dataclasses.replace(view, sites=[s for s in view.sites if s.id not in withdrawn])
        to_dial: list[tuple[SiteView, ConferenceView]] = []
        failing: list[ConferenceView] = []
        conferences = {c.id: c for c in view.conferences}
        for conference in view.conferences:
            if conference.bridge == self.policy.builtin_bridge:
                await self._look_builtin(view, conference, now, outcome)
                continue
            bridge = self._registry.get(conference.bridge)
            listed = None
            if bridge is not None:
                listed = await self._list(view.id, bridge, conference, now)
            look = after_look(
                bridge is not None,
                listed is not None,
                self._failures.count(conference.id),
                self.policy,
            )
            if look == "fail_over":
                failing.append(conference)
            if listed is None:
                continue
            for site in view.sites:
                if site.conference_row_id != conference.id:
                    continue
                reading = reconcile(
                    site,
                    listed,
                    now,
                    self.policy,
                    takes_browsers=bridge is not None and bridge.capabilities.webrtc_join,
                )
                if reading.connected:
                    outcome.connected += 1
                if reading.change is not None:
                    outcome.changes.append(reading.change)
                if wants_call(site, reading.change, now):
                    to_dial.append((site, conference))
            if conference.role == "host":
                self._dial_ins_beside_fallback(view, listed, now, outcome)
        if failing:
            await self._fail_over.fail_over(view, failing, now)
            outcome.failed_over = True
            return outcome
        await self._drop_stale_calls(outcome, conferences)
        await self._dial_all(view, to_dial, now, outcome)
        await self._write(view, outcome)
        return outcome

    def _dial_ins_beside_fallback(
        self, view: RunView, hosting: Sequence[Participant], now: datetime, outcome: StepOutcome
    ) -> None:
        """Fallen-back sites on the built-in bridge's conference whose room system called
        the hosting conference itself (reconcile.dial_in_beside_fallback)."""
        builtin = {c.id for c in view.conferences if c.role == "fallback"}
        for site in view.sites:
            if site.conference_row_id not in builtin:
                continue
            reading = dial_in_beside_fallback(site, hosting, now)
            if reading.connected:
                outcome.connected += 1
            if reading.change is not None:
                outcome.changes.append(reading.change)

    async def _look_builtin(
        self, view: RunView, conference: ConferenceView, now: datetime, outcome: StepOutcome
    ) -> None:
        """Which fallen-back sites' browsers are in the built-in bridge's conference.

        The bridge runs in this process: listing it is cheap and cannot fail the way a
        remote bridge does, so it never counts toward a fail-over, and nobody is called."""
        bridge = self._registry.get(conference.bridge)
        if bridge is None:
            return
        try:
            listed = await bridge.participants(conference.ref())
        except BridgeError as err:
            # Not created yet in this process (a restart): the first join link creates it.
            log.debug("run %s: built-in conference not listed: %s", view.id, err.reason)
            listed = []
        for site in view.sites:
            if site.conference_row_id != conference.id:
                continue
            if site.state == "connected" and site.channel == "dial_in":
                continue  # in by its own call to the hosting conference, read there
            reading = reconcile(site, listed, now, self.policy, takes_browsers=True)
            if reading.connected:
                outcome.connected += 1
            if reading.change is not None:
                outcome.changes.append(reading.change)

    async def _withdraw(self, view: RunView, now: datetime) -> set[int]:
        """Hang up the sites whose room's unit took its room out of the meeting (their
        meeting site is no longer accepted) and keep them out: held, not called again."""
        async with self._sessions() as session:
            ids = set(
                (
                    await session.execute(
                        select(RunSite.id)
                        .join(MeetingSite, MeetingSite.id == RunSite.meeting_site_id)
                        .where(
                            RunSite.run_id == view.id,
                            RunSite.held.is_(False),
                            MeetingSite.approval != ACCEPTED,
                        )
                    )
                ).scalars()
            )
        if not ids:
            return set()
        conferences = {c.id: c for c in view.conferences}
        for site in view.sites:
            conference = conferences.get(site.conference_row_id or -1)
            if site.id in ids and site.participant_id and conference is not None:
                bridge = self._registry.get(conference.bridge)
                if bridge is not None:
                    await drop_quietly(bridge, conference.ref(), site.participant_id)
        async with self._sessions.begin() as session:
            await session.execute(
                update(RunSite)
                .where(RunSite.id.in_(ids))
                .values(
                    state="disconnected",
                    held=True,
                    participant_id=None,
                    dial_deadline=None,
                    since=now,
                    last_error="the room's unit took its room out of the meeting",
                )
            )
        log.info("run %s: %d site(s) taken out by their room's unit", view.id, len(ids))
        return ids

    async def _drop_stale_calls(
        self, outcome: StepOutcome, conferences: dict[int, ConferenceView]
    ) -> None:
        """Hang up calls that rang too long, before calling those sites again."""
        for change in outcome.changes:
            leg = change.values.pop("_drop", None)
            conference = conferences.get(change.site.conference_row_id or -1)
            if isinstance(leg, str) and conference is not None:
                bridge = self._registry.get(conference.bridge)
                if bridge is not None:
                    await drop_quietly(bridge, conference.ref(), leg)

    async def _list(
        self, run_id: int, bridge: Bridge, conference: ConferenceView, now: datetime
    ) -> list[Participant] | None:
        try:
            listed = await bridge.participants(conference.ref())
        except ConferenceNotFound:
            # The bridge lost the conference (restarted?): create it again under its key;
            # the next step finds every site gone and calls it again.
            log.warning("run %s: %s lost its conference; re-creating", run_id, bridge.name)
            try:
                ref = await bridge.create_conference(
                    ConferenceSpec(
                        key=conference.conference_key or conference.conference_id,
                        title="",
                        expected_sites=0,
                    )
                )
            except BridgeError as err:
                self._failures.note(conference, err.reason)
                return None
            async with self._sessions.begin() as session:
                await session.execute(
                    update(RunConference)
                    .where(RunConference.id == conference.id)
                    .values(conference_id=ref.conference_id, extra=dict(ref.extra))
                )
            return None
        except BridgeError as err:
            self._failures.note(conference, err.reason)
            return None
        if self._failures.clear(conference.id):
            log.info("run %s: %s answers again", run_id, bridge.name)
        if self._on_poll is not None:
            try:
                await self._on_poll(run_id, bridge.name, conference.conference_id, listed, now)
            except Exception:
                log.exception("run %s: recording the polled participants failed", run_id)
        return listed

    async def _dial_all(
        self,
        view: RunView,
        to_dial: Sequence[tuple[SiteView, ConferenceView]],
        now: datetime,
        outcome: StepOutcome,
    ) -> None:
        if not to_dial:
            return
        gates: dict[str, asyncio.Semaphore] = {}
        for _, conference in to_dial:
            if conference.bridge not in gates:
                bridge = self._registry[conference.bridge]
                limit = int(bridge.config.options.get("dial_concurrency", 0) or 0)
                gates[conference.bridge] = asyncio.Semaphore(dial_gate(limit, self.policy))
        changes = {c.site.id: c for c in outcome.changes}

        async def dial(site: SiteView, conference: ConferenceView) -> None:
            bridge = self._registry[conference.bridge]
            async with gates[conference.bridge]:
                target = DialTarget(
                    site_id=str(site.id),
                    kind=site.endpoint_kind or "sip",
                    address=site.address or "",
                    display_name=site.room_name,
                )
                try:
                    placed = await bridge.dial_out(conference.ref(), target)
                except DIAL_REFUSALS as err:
                    refused = refusal(err)
                    reason = err.reason
                    if refused.bridge_down:
                        self._failures.note(conference, reason)
                else:
                    self._count("placed")
                    outcome.dialled += 1
                    changes[site.id] = call_placed(site, placed.participant_id, now, self.policy)
                    return
            self._count(refused.result)
            log.info("run %s: calling %s failed: %s", view.id, site.room_name, reason)
            changes[site.id] = call_refused(site, reason, refused.fatal, now, self.policy)

        # The host room is called ahead of the others: the meeting is chaired from there.
        first = [(s, c) for s, c in to_dial if s.host]
        for site, conference in first:
            await dial(site, conference)
        await asyncio.gather(*(dial(s, c) for s, c in to_dial if not s.host))
        outcome.changes = list(changes.values())

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.dial_result(result)

    async def _write(self, view: RunView, outcome: StepOutcome) -> None:
        fallbacks: list[tuple[int, str]] = []
        if outcome.changes:
            async with self._sessions.begin() as session:
                rows = {
                    s.id: s
                    for s in (
                        await session.execute(
                            select(RunSite).where(
                                RunSite.id.in_([c.site.id for c in outcome.changes])
                            )
                        )
                    ).scalars()
                }
                for change in outcome.changes:
                    row = rows.get(change.site.id)
                    if row is None:
                        continue
                    if fingerprint(row) != fingerprint(change.site):
                        continue  # changed by an operator meanwhile: theirs wins
                    for key, value in change.values.items():
                        if not key.startswith("_"):
                            setattr(row, key, value)
                    if change.fallback_reason is not None:
                        fallbacks.append((row.id, change.fallback_reason))
        for site_id, reason in fallbacks:
            outcome.fallen_back += 1
            await self._fallback.fall_back(view.id, site_id, reason)
