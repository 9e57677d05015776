"""One supervisor look at a run: take in what the bridges pushed, list a conference when
its reconciliation is due, act on what the pure decisions (:mod:`vcorch.orchestration.
reconcile`) say, and write each site's change as it lands.

Pushed joins and leaves (``bridge_events``) are the main signal; a listing reconciles, at
the cadence :func:`vcorch.orchestration.cadence.listing_interval` computes from the
bridge's request budget.  A site missing from one listing is confirmed (a direct look, or
the next listing) before anything is done about it; a listing that changed while it was
read (:class:`ListingUnreliable`) is not taken as the truth; a busy bridge
(:class:`BridgeBusy`) is waited for, and only a failed health check counts toward moving
the meeting.  Bridge calls happen outside database transactions; each change is written
within ``progress_window`` of landing (:class:`~vcorch.orchestration.progress.Progress`),
skipped when someone else changed the site meanwhile (an operator's redial or hold wins).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.booking import ACCEPTED, MeetingSite
from vcorch.mcu_adapter import (
    Bridge,
    BridgeBusy,
    BridgeError,
    BridgeRegistry,
    ConferenceNotFound,
    ConferenceSpec,
    DialTarget,
    ListingUnreliable,
    Participant,
)
from vcorch.orchestration.bridge_calls import drop_quietly
from vcorch.orchestration.cadence import listing_interval
from vcorch.orchestration.collaborators import DialMetrics, HealthReader, PollSink
from vcorch.orchestration.failover import BridgeFailures, FailOver
from vcorch.orchestration.fallback import Fallback
from vcorch.orchestration.models import RunConference, RunSite
from vcorch.orchestration.policy import OrchestrationPolicy
from vcorch.orchestration.progress import Progress
from vcorch.orchestration.pushed import PushedEvents, read_event, site_of
from vcorch.orchestration.reconcile import (
    DIAL_REFUSALS,
    SiteChange,
    after_look,
    bridge_busy,
    call_placed,
    call_refused,
    dial_gate,
    dial_in_beside_fallback,
    match,
    reconcile,
    refusal,
    wants_call,
)
from vcorch.orchestration.snapshot import ConferenceView, RunView, SiteView

log = logging.getLogger(__name__)


@dataclass
class StepOutcome:
    connected: int = 0
    dialled: int = 0
    fallen_back: int = 0
    failed_over: bool = False
    listed: int = 0
    changes: list[SiteChange] = field(default_factory=list)


@dataclass
class _Step:
    """What one step carries between its parts."""

    view: RunView
    book: Progress
    now: datetime
    outcome: StepOutcome
    drops: list[tuple[ConferenceView, str]] = field(default_factory=list)
    falling: set[int] = field(default_factory=set)

    def sites_of(self, conference: ConferenceView) -> list[SiteView]:
        return [s for s in self.book.views() if s.conference_row_id == conference.id]

    def fallback_conferences(self) -> dict[int, ConferenceView]:
        """The run's conferences on the built-in bridge, by row id."""
        return {c.id: c for c in self.view.conferences if c.role == "fallback"}


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
        health: HealthReader | None = None,
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
        self._health = health
        self._events = PushedEvents(sessions)
        self._next_listing: dict[int, datetime] = {}
        self._looks: dict[int, int] = {}  # confirming looks since the conference's listing
        self._suspects: dict[int, int] = {}  # site id: listings in a row it was missing from
        self._listed_on: dict[int, tuple[str, datetime]] = {}  # conference: (bridge, when)
        # Requests supervision sent per bridge (listings and confirming looks), for metrics
        # and the launch benchmark.
        self.requests: dict[str, int] = {}

    async def supervise(self, view: RunView) -> StepOutcome:
        now = self._clock()
        outcome = StepOutcome()
        withdrawn = await self._withdraw(view, now)
        if withdrawn:
            view = dataclasses.replace(view, sites=[s for s in view.sites if s.id not in withdrawn])
        book = Progress(
            self._sessions,
            view.sites,
            window=self.policy.progress_window,
            fall_back=lambda site_id, reason: self._fallback.fall_back(view.id, site_id, reason),
        )
        step = _Step(view, book, now, outcome)
        try:
            failing: list[ConferenceView] = []
            for conference in view.conferences:
                if conference.bridge == self.policy.builtin_bridge:
                    await self._look_builtin(step, conference)
                    continue
                bridge = self._registry.get(conference.bridge)
                if bridge is None:
                    failing.append(conference)
                    continue
                await self._take_events(step, conference, bridge)
                due = self._listing_due(step, conference)
                if due and await self._look(step, bridge, conference) == "fail_over":
                    failing.append(conference)
            if failing:
                await book.flush()
                await self._fail_over.fail_over(view, failing, now)
                for conference in failing:
                    self._forget(conference.id)
                outcome.failed_over = True
                return outcome
            await self._drop_stale_calls(step)
            await self._dial_all(step)
            await self._drop_stale_calls(step)
        finally:
            await book.flush()
        outcome.fallen_back = book.fallen_back
        outcome.connected = sum(
            1 for s in book.views() if s.state == "connected" and s.id not in step.falling
        )
        return outcome

    # -- events, listings, confirming -----------------------------------------------------

    def _apply(self, step: _Step, conference: ConferenceView, change: SiteChange) -> None:
        if not step.book.apply(change):
            return
        step.outcome.changes.append(change)
        if change.fallback_reason is not None:
            step.falling.add(change.site.id)
        leg = change.values.get("_drop")
        if isinstance(leg, str):
            step.drops.append((conference, leg))

    def _takes_browsers(self, bridge: Bridge | None) -> bool:
        return bridge is not None and bridge.capabilities.webrtc_join

    async def _take_events(self, step: _Step, conference: ConferenceView, bridge: Bridge) -> None:
        """Apply the joins and leaves the bridge pushed since the last look."""
        sites = step.sites_of(conference)
        legs = [s.participant_id for s in sites if s.participant_id]
        events = await self._events.new(conference, legs)
        if not events:
            return
        now = self._clock()
        for event in events:
            site = site_of(event, step.sites_of(conference))
            if site is None:
                if event.kind == "join" and conference.role == "host" and self._fallen_back(step):
                    # Someone unknown called the meeting in: perhaps a fallen-back site's room
                    # system by its dial-in number.  The listing says who (this step).
                    self._next_listing.pop(conference.id, None)
                continue
            reading = read_event(
                event, site, now, self.policy, takes_browsers=self._takes_browsers(bridge)
            )
            if reading is not None and reading.change is not None:
                self._apply(step, conference, reading.change)
            if event.kind == "join":
                self._suspects.pop(site.id, None)

    @staticmethod
    def _fallen_back(step: _Step) -> bool:
        """Whether a site waits on the built-in bridge (fallen back, not in by dial-in)."""
        builtin = step.fallback_conferences()
        return any(
            s.conference_row_id in builtin and s.state == "fallback" and not s.held
            for s in step.book.views()
        )

    def _interval(
        self, bridge: Bridge, conference: ConferenceView, sites: int, launching: bool
    ) -> timedelta:
        now = self._clock()
        horizon = now - 3 * self.policy.reconcile_steady - timedelta(seconds=60)
        self._listed_on[conference.id] = (bridge.name, now)
        for key, (_, when) in list(self._listed_on.items()):
            if when < horizon:
                self._listed_on.pop(key, None)
        on_bridge = sum(1 for name, _ in self._listed_on.values() if name == bridge.name)
        return listing_interval(
            rate=bridge.budget.rate,
            cost=bridge.listing_cost(sites) + self._looks.get(conference.id, 0),
            launching=launching,
            policy=self.policy,
            conferences=on_bridge,
        )

    def _listing_due(self, step: _Step, conference: ConferenceView) -> bool:
        due = self._next_listing.get(conference.id)
        return due is None or step.now >= due

    def _schedule(
        self,
        bridge: Bridge,
        conference: ConferenceView,
        sites: Sequence[SiteView],
        *,
        at_least: timedelta = timedelta(0),
        settling: bool = False,
    ) -> None:
        launching = settling or any(
            s.state in ("pending", "dialling") and not s.held for s in sites
        )
        interval = max(self._interval(bridge, conference, len(sites), launching), at_least)
        self._next_listing[conference.id] = self._clock() + interval
        self._looks[conference.id] = 0

    def _spent(self, bridge: Bridge, requests: int) -> None:
        self.requests[bridge.name] = self.requests.get(bridge.name, 0) + requests

    def _forget(self, conference_id: int) -> None:
        self._next_listing.pop(conference_id, None)
        self._looks.pop(conference_id, None)
        self._listed_on.pop(conference_id, None)
        self._events.forget(conference_id)

    async def _look(self, step: _Step, bridge: Bridge, conference: ConferenceView) -> str:
        """List the conference and reconcile every site with it; what the look leads to."""
        sites = step.sites_of(conference)
        self._spent(bridge, bridge.listing_cost(len(sites)))
        try:
            listed = await bridge.participants(conference.ref())
        except ConferenceNotFound:
            await self._recreate(step.view.id, bridge, conference)
            self._schedule(bridge, conference, sites)
            return "wait"
        except ListingUnreliable as err:
            # Not the truth: nobody is called or dropped for what it lacks.
            log.info(
                "run %s: %s listing shifted while read: %s", step.view.id, bridge.name, err.reason
            )
            self._schedule(bridge, conference, sites)
            return "wait"
        except BridgeBusy as err:
            # Busy is not down: wait (as long as it asked), count nothing toward fail-over.
            log.info("run %s: %s is busy: %s", step.view.id, bridge.name, err.reason)
            wait = timedelta(seconds=err.retry_after or 0)
            self._schedule(bridge, conference, sites, at_least=wait)
            return "wait"
        except BridgeError as err:
            return await self._trouble(step, bridge, conference, err.reason)
        step.outcome.listed += 1
        if self._failures.clear(conference.id):
            log.info("run %s: %s answers again", step.view.id, bridge.name)
        if self._on_poll is not None:
            try:
                await self._on_poll(
                    step.view.id, bridge.name, conference.conference_id, listed, step.now
                )
            except Exception:
                log.exception("run %s: recording the polled participants failed", step.view.id)
        await self._reconcile_listing(step, bridge, conference, listed)
        waiting = False
        if conference.role == "host":
            self._dial_ins_beside_fallback(step, listed)
            waiting = self._fallen_back(step)
        # While a fallen-back site may call in by the dial-in number, the host is listed at
        # the launch cadence (still within the budget), so its call is seen within seconds.
        self._schedule(bridge, conference, step.sites_of(conference), settling=waiting)
        return "reconcile"

    def _dial_ins_beside_fallback(self, step: _Step, hosting: Sequence[Participant]) -> None:
        """Fallen-back sites on the built-in bridge's conference whose room system called
        the hosting conference itself (reconcile.dial_in_beside_fallback)."""
        builtin = step.fallback_conferences()
        for site in step.book.views():
            conference = builtin.get(site.conference_row_id)  # type: ignore[arg-type]
            if conference is None:
                continue
            reading = dial_in_beside_fallback(site, hosting, step.now)
            if reading.change is not None:
                self._apply(step, conference, reading.change)

    async def _trouble(
        self, step: _Step, bridge: Bridge, conference: ConferenceView, reason: str
    ) -> str:
        """A look that failed: a health check says whether it counts toward fail-over."""
        if await self._bridge_down(bridge):
            self._failures.note(conference, reason)
        else:
            log.info(
                "run %s: %s failed a look but passes its health check: %s",
                step.view.id,
                bridge.name,
                reason,
            )
        # Look again at the next step: a bridge that is down is moved off after
        # ``failover_after`` failed health checks (a down bridge costs no budget).
        self._next_listing[conference.id] = step.now
        return after_look(True, False, self._failures.count(conference.id), self.policy)

    async def _bridge_down(self, bridge: Bridge) -> bool:
        """A health check made now (through the coordinator when there is one)."""
        try:
            if self._health is not None:
                health = (await self._health.fresh(timedelta(0))).of(bridge.name)
            else:
                health = await bridge.health()
        except Exception:
            log.exception("checking %s's health failed", bridge.name)
            return False
        return health is not None and not health.reachable

    async def _recreate(self, run_id: int, bridge: Bridge, conference: ConferenceView) -> None:
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
        except BridgeBusy as err:
            log.info("run %s: %s is busy: %s", run_id, bridge.name, err.reason)
            return
        except BridgeError as err:
            if await self._bridge_down(bridge):
                self._failures.note(conference, err.reason)
            return
        async with self._sessions.begin() as session:
            await session.execute(
                update(RunConference)
                .where(RunConference.id == conference.id)
                .values(conference_id=ref.conference_id, extra=dict(ref.extra))
            )

    async def _reconcile_listing(
        self, step: _Step, bridge: Bridge, conference: ConferenceView, listed: list[Participant]
    ) -> None:
        takes_browsers = self._takes_browsers(bridge)
        looks_left = self.policy.confirm_looks
        for site in step.sites_of(conference):
            now = self._clock()
            reading = reconcile(site, listed, now, self.policy, takes_browsers=takes_browsers)
            found = match(site, listed)
            if found is not None:
                self._suspects.pop(site.id, None)
            change = reading.change
            missing = (
                change is not None
                and found is None
                and (site.state == "connected" or site.participant_id is not None)
            )
            if not missing:
                if change is not None:
                    self._apply(step, conference, change)
                continue
            # Missing from this listing: confirmed by a direct look, or by the next listing.
            misses = self._suspects.get(site.id, 0) + 1
            self._suspects[site.id] = misses
            if misses < 2:
                if site.participant_id is None or looks_left <= 0:
                    continue  # the next listing says
                looks_left -= 1
                self._looks[conference.id] = self._looks.get(conference.id, 0) + 1
                self._spent(bridge, 1)
                try:
                    seen = await bridge.participant(conference.ref(), site.participant_id)
                except BridgeError as err:
                    log.info(
                        "run %s: looking at %s on %s: %s",
                        step.view.id,
                        site.room_name,
                        bridge.name,
                        err.reason,
                    )
                    continue
                if seen is not None:
                    self._suspects.pop(site.id, None)
                    again = reconcile(
                        site, [seen], self._clock(), self.policy, takes_browsers=takes_browsers
                    )
                    if again.change is not None:
                        self._apply(step, conference, again.change)
                    continue
            self._suspects.pop(site.id, None)
            assert change is not None
            self._apply(step, conference, change)

    async def _look_builtin(self, step: _Step, conference: ConferenceView) -> None:
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
            log.debug("run %s: built-in conference not listed: %s", step.view.id, err.reason)
            listed = []
        for site in step.sites_of(conference):
            if site.state == "connected" and site.channel == "dial_in":
                continue  # in by its own call to the hosting conference, read there
            reading = reconcile(site, listed, step.now, self.policy, takes_browsers=True)
            if reading.change is not None:
                self._apply(step, conference, reading.change)

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

    async def _drop_stale_calls(self, step: _Step) -> None:
        """Hang up calls that rang too long, before calling those sites again."""
        drops, step.drops = step.drops, []
        for conference, leg in drops:
            bridge = self._registry.get(conference.bridge)
            if bridge is not None:
                await drop_quietly(bridge, conference.ref(), leg)

    # -- calling ------------------------------------------------------------------------------

    async def _dial_all(self, step: _Step) -> None:
        """Call every site that wants a call; each result is written as it lands, and the
        bridges' pushed joins are taken in meanwhile, so the live view shows the sites
        connecting one by one."""
        to_dial: list[tuple[int, ConferenceView]] = []
        for conference in step.view.conferences:
            if conference.bridge == self.policy.builtin_bridge:
                continue
            if self._registry.get(conference.bridge) is None:
                continue
            for site in step.sites_of(conference):
                if site.id not in step.falling and wants_call(site, None, step.now):
                    to_dial.append((site.id, conference))
        if not to_dial:
            return
        gates: dict[str, asyncio.Semaphore] = {}
        for _, conference in to_dial:
            if conference.bridge not in gates:
                bridge = self._registry[conference.bridge]
                limit = int(bridge.config.options.get("dial_concurrency", 0) or 0)
                gates[conference.bridge] = asyncio.Semaphore(dial_gate(limit, self.policy))

        async def dial(site_id: int, conference: ConferenceView) -> None:
            bridge = self._registry[conference.bridge]
            async with gates[conference.bridge]:
                site = step.book.view(site_id)
                if not wants_call(site, None, self._clock()) or site_id in step.falling:
                    return  # a pushed join or an operator got there first
                target = DialTarget(
                    site_id=str(site.id),
                    kind=site.endpoint_kind or "sip",
                    address=site.address or "",
                    display_name=site.room_name,
                )
                try:
                    placed = await bridge.dial_out(conference.ref(), target)
                except BridgeBusy as err:
                    self._count("busy")
                    current = step.book.view(site_id)
                    self._apply(
                        step,
                        conference,
                        bridge_busy(
                            current, err.reason, err.retry_after, self._clock(), self.policy
                        ),
                    )
                    return
                except DIAL_REFUSALS as err:
                    refused = refusal(err)
                    reason = err.reason
                    if refused.bridge_down:
                        # Looked at (with a health check) at the next step.
                        self._next_listing[conference.id] = self._clock()
                else:
                    self._count("placed")
                    step.outcome.dialled += 1
                    current = step.book.view(site_id)
                    if (
                        current.participant_id == placed.participant_id
                        or current.state == "connected"
                    ):
                        return  # its join was taken in already
                    self._apply(
                        step,
                        conference,
                        call_placed(current, placed.participant_id, self._clock(), self.policy),
                    )
                    return
            self._count(refused.result)
            log.info("run %s: calling %s failed: %s", step.view.id, site.room_name, reason)
            current = step.book.view(site_id)
            self._apply(
                step,
                conference,
                call_refused(current, reason, refused.fatal, self._clock(), self.policy),
            )

        async def dial_everyone() -> None:
            # The host room is called ahead of the others: the meeting is chaired from there.
            for site_id, conference in to_dial:
                if step.book.view(site_id).host:
                    await dial(site_id, conference)
            await asyncio.gather(*(dial(i, c) for i, c in to_dial if not step.book.view(i).host))

        dialling = asyncio.create_task(dial_everyone(), name=f"dial-run-{step.view.id}")
        try:
            while not dialling.done():
                await asyncio.wait({dialling}, timeout=self.policy.progress_window)
                await self._take_all_events(step)
        finally:
            if not dialling.done():
                dialling.cancel()
            await asyncio.gather(dialling, return_exceptions=True)
        dialling.result()
        await self._take_all_events(step)

    async def _take_all_events(self, step: _Step) -> None:
        for conference in step.view.conferences:
            if conference.bridge == self.policy.builtin_bridge:
                continue
            bridge = self._registry.get(conference.bridge)
            if bridge is not None:
                await self._take_events(step, conference, bridge)

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.dial_result(result)
