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
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.auth import audit
from vcorch.auth.principal import Actor
from vcorch.booking.models import Meeting, MeetingOccurrence, MeetingOverride, MeetingSite
from vcorch.booking.recurrence import occurrence_key_text
from vcorch.errors import Conflict, InvalidInput, NotFound
from vcorch.mcu_adapter.base import (
    Bridge,
    BridgeError,
    BridgeUnavailable,
    CapacityExceeded,
    ConferenceNotFound,
    ConferenceRef,
    ConferenceSpec,
    DialFailed,
    DialTarget,
    NotSupported,
    Participant,
)
from vcorch.mcu_adapter.registry import BridgeRegistry
from vcorch.orchestration.models import MeetingRun, RunConference, RunIncident, RunSite
from vcorch.orchestration.operator_mail import queue_mail, site_operators, tell_secretariat
from vcorch.orchestration.placement import BridgeOption, EndpointKind, SiteNeed, place
from vcorch.rooms.models import Endpoint, Room, Unit

log = logging.getLogger(__name__)

ACTIVE_RUN = ("launching", "live")
# Sites the supervisor no longer calls by itself.
SETTLED = ("fallback", "failed", "disconnected")
# How far before its start an occurrence may be started by hand.
EARLY_START = timedelta(hours=1)
MAX_EXTENSION = timedelta(hours=4)


@dataclass(frozen=True)
class OrchestrationPolicy:
    dial_attempts: int = 3
    """Calls to a site (first one included) before it falls back."""
    retry_base: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(seconds=60)
    ring_timeout: timedelta = timedelta(seconds=60)
    """How long a placed call may ring before it counts as failed."""
    failover_after: int = 3
    """Consecutive failed looks at the hosting bridge before the meeting moves."""
    dial_concurrency: int = 8
    """Calls placed at once per bridge, unless its ``options.dial_concurrency`` says less."""
    builtin_bridge: str = "webrtc"
    """The in-process WebRTC bridge that takes fallen-back sites (when it is configured)."""

    def retry_delay(self, attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
        """Wait before the next call after ``attempts`` failed ones: capped doubling, half
        of it random so that many sites failing together are not called back together."""
        cap: timedelta = min(self.retry_max, self.retry_base * (2 ** max(attempts - 1, 0)))
        return cap / 2 + cap * (rand() / 2)


class FallbackLinks(Protocol):
    """Makes the browser link a fallen-back site's operators open (the WebRTC fallback)."""

    def url_for(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str: ...


PollSink = Callable[[int, str, str, Sequence[Participant], datetime], Awaitable[None]]
"""Gets every participant list the supervisor polled: (run id, bridge, conference id,
participants, when) — attendance fills gaps from it."""


class DialMetrics(Protocol):
    def dial_result(self, result: str) -> None: ...

    def meetings_live(self, count: int) -> None: ...


# ---------------------------------------------------------------------------------------
# Snapshots: plain values read in one short transaction
# ---------------------------------------------------------------------------------------


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


def fingerprint(site: SiteView | RunSite) -> tuple[object, ...]:
    """What must not have changed between a step's snapshot and its write."""
    return (site.state, site.participant_id, site.held, site.conference_row_id)


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


@dataclass
class SiteChange:
    """What a step decided for one site; written only if the site did not change meanwhile."""

    site: SiteView
    values: dict[str, object]
    fallback_reason: str | None = None


@dataclass
class StepOutcome:
    connected: int = 0
    dialled: int = 0
    fallen_back: int = 0
    failed_over: bool = False
    changes: list[SiteChange] = field(default_factory=list)


def _address_key(address: str) -> str:
    """An address as bridges may list it back: a Cisco Meeting Server names the remote
    party ``room@host`` for the ``sip:room@host`` vcorch dialled (and may add URI
    parameters); a process that restarted knows a call placed before only by it."""
    value = address.strip().lower()
    for scheme in ("sip:", "sips:", "h323:"):
        if value.startswith(scheme):
            value = value[len(scheme) :]
            break
    return value.split(";", 1)[0]


def _kind(value: str | None) -> EndpointKind | None:
    kinds: dict[str | None, EndpointKind] = {"sip": "sip", "h323": "h323", "webrtc": "webrtc"}
    return kinds.get(value)


class Orchestrator:
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
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._clock = clock
        self.policy = policy or OrchestrationPolicy()
        self.links = links
        self._metrics = metrics
        self._on_poll = on_poll
        self._failures: dict[int, int] = {}  # conference row id -> failed looks in a row
        self._locks: dict[int, asyncio.Lock] = {}
        self._wake = asyncio.Event()

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
        now = self._clock()
        for _ in range(2):
            try:
                async with self._sessions.begin() as session:
                    return await self._claim(session, meeting_id, occurrence_key, actor, now, late)
            except IntegrityError:
                # Another process claimed it at the same moment: the second round finds it.
                continue
        raise Conflict("the occurrence is being launched by another process")

    async def _claim(
        self,
        session: AsyncSession,
        meeting_id: int,
        occurrence_key: datetime | None,
        actor: Actor,
        now: datetime,
        late: bool,
    ) -> tuple[int, bool]:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            raise NotFound("no such meeting")
        occurrence = await self._occurrence(session, meeting, occurrence_key, now)
        existing = await session.scalar(
            select(MeetingRun).where(
                MeetingRun.meeting_id == meeting.id,
                MeetingRun.occurrence_key == occurrence.occurrence_key,
            )
        )
        if existing is not None:
            if existing.status in ACTIVE_RUN:
                return existing.id, False
            raise Conflict(f"this occurrence is already {existing.status}")
        if meeting.status not in ("scheduled",):
            raise Conflict(f"a meeting that is {meeting.status} cannot be started")
        if occurrence.end_at <= now:
            raise Conflict("this occurrence is already over")
        run = MeetingRun(
            meeting_id=meeting.id,
            occurrence_key=occurrence.occurrence_key,
            start_at=occurrence.start_at,
            end_at=occurrence.end_at,
            status="launching",
            launched_at=now,
            launched_by=actor.principal.label,
            created_at=now,
        )
        session.add(run)
        await session.flush()
        sites = await self._sites_of(session, meeting, occurrence)
        unit_of = dict(
            (
                await session.execute(
                    select(Room.id, Room.unit_id).where(Room.id.in_([s[0] for s in sites]))
                )
            ).all()
        )
        session.add_all(
            RunSite(
                run_id=run.id,
                meeting_site_id=meeting_site_id,
                room_id=room_id,
                endpoint_id=endpoint_id,
                unit_id=unit_of[room_id],
                state="pending",
                since=now,
                attempts=0,
            )
            for room_id, endpoint_id, meeting_site_id in sites
            if room_id in unit_of
        )
        organizer = await session.get(Unit, meeting.organizer_unit_id)
        audit.record(
            session,
            actor,
            at=now,
            action="meeting.launch_late" if late else "meeting.launch",
            entity="meeting",
            entity_id=meeting.id,
            unit_path=organizer.path if organizer else "/",
            after={"run_id": run.id, "occurrence": occurrence_key_text(run.occurrence_key)},
        )
        return run.id, True

    async def _occurrence(
        self,
        session: AsyncSession,
        meeting: Meeting,
        key: datetime | None,
        now: datetime,
    ) -> MeetingOccurrence:
        query = select(MeetingOccurrence).where(
            MeetingOccurrence.meeting_id == meeting.id,
            MeetingOccurrence.cancelled.is_(False),
        )
        if key is not None:
            found = await session.scalar(query.where(MeetingOccurrence.occurrence_key == key))
            if found is None:
                raise NotFound("no such occurrence of this meeting")
            return found
        found = await session.scalar(
            query.where(
                MeetingOccurrence.end_at > now,
                MeetingOccurrence.start_at <= now + EARLY_START,
            ).order_by(MeetingOccurrence.start_at)
        )
        if found is None:
            raise Conflict(
                "no occurrence of this meeting is under way or starts within the hour",
            )
        return found

    @staticmethod
    async def _sites_of(
        session: AsyncSession, meeting: Meeting, occurrence: MeetingOccurrence
    ) -> list[tuple[int, int | None, int | None]]:
        """(room, endpoint, meeting site) of every site of this occurrence."""
        sites = list(
            (
                await session.execute(
                    select(MeetingSite).where(MeetingSite.meeting_id == meeting.id)
                )
            ).scalars()
        )
        by_room = {site.room_id: site.id for site in sites}
        if occurrence.own_sites:
            override = await session.scalar(
                select(MeetingOverride).where(
                    MeetingOverride.meeting_id == meeting.id,
                    MeetingOverride.occurrence_key == occurrence.occurrence_key,
                )
            )
            if override is not None and override.sites is not None:
                return [
                    (int(s["room_id"]), s.get("endpoint_id"), by_room.get(int(s["room_id"])))
                    for s in override.sites
                ]
        return [(site.room_id, site.endpoint_id, site.id) for site in sites]

    # -- snapshots ----------------------------------------------------------------------

    async def _view(self, run_id: int) -> RunView | None:
        async with self._sessions() as session:
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

    # -- bringing a run up ----------------------------------------------------------------

    async def _bridge_options(self, exclude: Iterable[str]) -> list[BridgeOption]:
        excluded = set(exclude)
        async with self._sessions() as session:
            paths = dict((await session.execute(select(Unit.code, Unit.path))).all())
        options = []
        for bridge in self._registry:
            if bridge.name == self.policy.builtin_bridge or bridge.name in excluded:
                continue
            health = self._registry.health_of(bridge.name)
            healthy = health.reachable if health is not None else True
            total = health.ports_total if health and health.ports_total else bridge.config.ports
            in_use = health.ports_in_use if health and health.ports_in_use is not None else 0
            options.append(
                BridgeOption(
                    name=bridge.name,
                    capabilities=bridge.capabilities,
                    healthy=healthy,
                    free_ports=max(total - in_use, 0),
                    priority=bridge.config.priority,
                    unit_paths=tuple(paths[c] for c in bridge.config.units if c in paths),
                )
            )
        return options

    async def _bring_up(self, view: RunView, exclude: set[str]) -> None:
        """Place the run's sites and create its conferences (a new generation)."""
        now = self._clock()
        generation = view.generation + 1
        # A site already on its browser link stays there: calling its room too would
        # put it in the meeting twice.
        pending = [s for s in view.sites if not s.held and s.state != "fallback"]
        for _ in range(len(self._registry) + 1):
            options = await self._bridge_options(exclude)
            plan = place(
                [SiteNeed(s.id, s.endpoint_kind) for s in pending],
                options,
                organizer_path=view.organizer_path,
                preferred=view.preferred_bridge,
            )
            created: list[tuple[str, bool, ConferenceRef, tuple[int, ...]]] = []
            try:
                for conference in plan.conferences:
                    bridge = self._registry[conference.bridge]
                    ref = await bridge.create_conference(
                        ConferenceSpec(
                            key=self._key(view.id, generation, conference.bridge),
                            title=view.title,
                            expected_sites=len(conference.site_ids),
                        )
                    )
                    created.append((conference.bridge, conference.host, ref, conference.site_ids))
            except (BridgeUnavailable, CapacityExceeded) as err:
                log.warning("run %s: %s cannot host: %s", view.id, err.bridge, err.reason)
                exclude.add(err.bridge)
                for bridge_name, _, ref, _ in created:
                    await self._quietly_end(bridge_name, ref)
                continue
            links = await self._link_cascades(created)
            await self._store_generation(view, created, plan.unplaced, now, links)
            return
        await self._store_generation(view, [], tuple(s.id for s in pending), now)

    @staticmethod
    def _key(run_id: int, generation: int, bridge: str) -> str:
        return f"vcorch-run-{run_id}-g{generation}-{bridge}"

    async def _link_cascades(
        self, created: Sequence[tuple[str, bool, ConferenceRef, tuple[int, ...]]]
    ) -> dict[str, str]:
        """Link every cascaded conference to the host one; the links' call legs by bridge."""
        hosts = [ref for _, host, ref, _ in created if host]
        if not hosts:
            return {}
        host_ref = hosts[0]
        host_bridge = self._registry[host_ref.bridge]
        links: dict[str, str] = {}
        for _, host, ref, _ in created:
            if host:
                continue
            try:
                leg = await host_bridge.cascade(host_ref, ref, ref.extra.get("dial_in", ""))
            except BridgeError as err:
                log.warning("cascade %s -> %s failed: %s", host_ref.bridge, ref.bridge, err.reason)
                continue
            links[ref.bridge] = leg.participant_id
        return links

    async def _store_generation(
        self,
        view: RunView,
        created: Sequence[tuple[str, bool, ConferenceRef, tuple[int, ...]]],
        unplaced: Sequence[int],
        now: datetime,
        links: dict[str, str] | None = None,
    ) -> None:
        reasons: dict[int, str] = dict.fromkeys(unplaced, "no bridge can call this site now")
        async with self._sessions.begin() as session:
            run = await session.get(MeetingRun, view.id)
            if run is None or run.status not in ACTIVE_RUN:
                return
            site_rows = {
                s.id: s
                for s in (
                    await session.execute(select(RunSite).where(RunSite.run_id == run.id))
                ).scalars()
            }
            for bridge_name, host, ref, site_ids in created:
                row = RunConference(
                    run_id=run.id,
                    bridge=bridge_name,
                    conference_id=ref.conference_id,
                    conference_key=self._key(view.id, view.generation + 1, bridge_name),
                    extra=dict(ref.extra),
                    role="host" if host else "cascade",
                    active=True,
                    link_participant_id=(links or {}).get(bridge_name),
                    created_at=now,
                )
                session.add(row)
                await session.flush()
                for site_id in site_ids:
                    site = site_rows[site_id]
                    site.conference_row_id = row.id
                    site.participant_id = None
                    site.state = "pending"
                    site.since = now
                    site.attempts = 0
                    site.dial_deadline = None
            if not created:
                run.whole_fallback = True
                run.last_error = "no bridge can host this meeting now"
                session.add(
                    RunIncident(
                        run_id=run.id,
                        kind="whole_fallback",
                        at=now,
                        detail="no bridge could host the meeting; every site uses WebRTC",
                    )
                )
            run.status = "live"
        for site_id, reason in reasons.items():
            await self._fall_back(view.id, site_id, reason)

    # -- the supervisor step --------------------------------------------------------------

    async def step(self, run_id: int) -> StepOutcome | None:
        """Look at one run's conferences and sites once, and act: the supervisor's unit."""
        async with self._lock(run_id):
            view = await self._view(run_id)
            if view is None or view.status not in ACTIVE_RUN:
                return None
            if not view.conferences and not view.whole_fallback:
                await self._bring_up(view, set())
                view = await self._view(run_id)
                if view is None:
                    return None
            return await self._supervise(view)

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

    async def _supervise(self, view: RunView) -> StepOutcome:
        now = self._clock()
        outcome = StepOutcome()
        to_dial: list[tuple[SiteView, ConferenceView]] = []
        failing: list[ConferenceView] = []
        conferences = {c.id: c for c in view.conferences}
        for conference in view.conferences:
            if conference.bridge == self.policy.builtin_bridge:
                continue
            bridge = self._registry.get(conference.bridge)
            if bridge is None:
                failing.append(conference)
                continue
            listed = await self._list(view.id, bridge, conference, now)
            if listed is None:
                if self._failures.get(conference.id, 0) >= self.policy.failover_after:
                    failing.append(conference)
                continue
            mine = [s for s in view.sites if s.conference_row_id == conference.id]
            for site in mine:
                change = self._reconcile(site, listed, now, outcome)
                if change is not None:
                    outcome.changes.append(change)
                if self._wants_call(site, change, now):
                    to_dial.append((site, conference))
        if failing:
            await self._fail_over(view, failing, now)
            outcome.failed_over = True
            return outcome
        await self._drop_stale_calls(outcome, conferences)
        await self._dial_all(view, to_dial, now, outcome)
        await self._write(view, outcome, now)
        return outcome

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
                    await self._quietly_drop(bridge, conference, leg)

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
                self._note_failure(conference, err.reason)
                return None
            async with self._sessions.begin() as session:
                await session.execute(
                    update(RunConference)
                    .where(RunConference.id == conference.id)
                    .values(conference_id=ref.conference_id, extra=dict(ref.extra))
                )
            return None
        except BridgeError as err:
            self._note_failure(conference, err.reason)
            return None
        if self._failures.pop(conference.id, 0):
            log.info("run %s: %s answers again", run_id, bridge.name)
        if self._on_poll is not None:
            try:
                await self._on_poll(run_id, bridge.name, conference.conference_id, listed, now)
            except Exception:
                log.exception("run %s: recording the polled participants failed", run_id)
        return listed

    def _note_failure(self, conference: ConferenceView, reason: str) -> None:
        count = self._failures.get(conference.id, 0) + 1
        self._failures[conference.id] = count
        if count == 1:
            log.warning("bridge %s stopped answering: %s", conference.bridge, reason)

    @staticmethod
    def _match(site: SiteView, listed: Sequence[Participant]) -> Participant | None:
        tag = str(site.id)
        for participant in listed:
            if participant.site_id == tag:
                return participant
        if site.participant_id:
            for participant in listed:
                if participant.participant_id == site.participant_id:
                    return participant
        if site.address:
            wanted = _address_key(site.address)
            for participant in listed:
                if (
                    participant.address is not None
                    and participant.site_id is None
                    and _address_key(participant.address) == wanted
                ):
                    return participant
        return None

    def _reconcile(
        self,
        site: SiteView,
        listed: Sequence[Participant],
        now: datetime,
        outcome: StepOutcome,
    ) -> SiteChange | None:
        """What the bridge's list says about one site (no calls are made here)."""
        if site.held or site.state in SETTLED:
            return None
        found = self._match(site, listed)
        if found is not None and found.connected:
            outcome.connected += 1
            if site.state == "connected" and site.participant_id == found.participant_id:
                return None
            return SiteChange(
                site,
                {
                    "state": "connected",
                    "since": now,
                    "participant_id": found.participant_id,
                    "last_error": None,
                    "dial_deadline": None,
                },
            )
        if found is not None:  # ringing
            if site.state == "pending" or site.participant_id != found.participant_id:
                return SiteChange(
                    site,
                    {
                        "state": "dialling",
                        "since": now,
                        "participant_id": found.participant_id,
                        "dial_deadline": now + self.policy.ring_timeout,
                    },
                )
            if site.dial_deadline is not None and now >= site.dial_deadline:
                return self._attempt_failed(site, now, "no answer", drop=found.participant_id)
            return None
        # Not on the bridge at all.
        if site.state == "connected":
            return SiteChange(
                site,
                {
                    "state": "dialling",
                    "since": now,
                    "participant_id": None,
                    "attempts": 0,
                    "dial_deadline": now,
                    "last_error": "the call dropped",
                },
            )
        if site.state == "dialling" and site.participant_id is not None:
            return self._attempt_failed(site, now, "the call was not answered")
        return None

    def _attempt_failed(
        self, site: SiteView, now: datetime, reason: str, *, drop: str | None = None
    ) -> SiteChange:
        if site.attempts >= self.policy.dial_attempts:
            return SiteChange(site, {"participant_id": None, "_drop": drop}, fallback_reason=reason)
        return SiteChange(
            site,
            {
                "state": "dialling",
                "since": site.since if site.state == "dialling" else now,
                "participant_id": None,
                "dial_deadline": now + self.policy.retry_delay(site.attempts),
                "last_error": reason,
                "_drop": drop,
            },
        )

    @staticmethod
    def _wants_call(site: SiteView, change: SiteChange | None, now: datetime) -> bool:
        if change is not None:
            if change.fallback_reason is not None:
                return False
            state = change.values.get("state", site.state)
            participant = change.values.get("participant_id", site.participant_id)
            deadline = change.values.get("dial_deadline", site.dial_deadline)
        else:
            if site.held or site.state in SETTLED:
                return False
            state, participant, deadline = site.state, site.participant_id, site.dial_deadline
        if state == "pending":
            return True
        return (
            state == "dialling"
            and participant is None
            and (deadline is None or (isinstance(deadline, datetime) and deadline <= now))
        )

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
                gates[conference.bridge] = asyncio.Semaphore(
                    min(limit, self.policy.dial_concurrency)
                    if limit > 0
                    else self.policy.dial_concurrency
                )
        changes = {c.site.id: c for c in outcome.changes}

        async def dial(site: SiteView, conference: ConferenceView) -> None:
            bridge = self._registry[conference.bridge]
            attempts = site.attempts + 1
            async with gates[conference.bridge]:
                target = DialTarget(
                    site_id=str(site.id),
                    kind=site.endpoint_kind or "sip",
                    address=site.address or "",
                    display_name=site.room_name,
                )
                try:
                    placed = await bridge.dial_out(conference.ref(), target)
                except NotSupported as err:
                    result, reason, fatal = "not_supported", err.reason, True
                except CapacityExceeded as err:
                    result, reason, fatal = "capacity", err.reason, True
                except DialFailed as err:
                    result, reason, fatal = "failed", err.reason, False
                except BridgeUnavailable as err:
                    self._note_failure(conference, err.reason)
                    result, reason, fatal = "bridge_unavailable", err.reason, False
                else:
                    self._count("placed")
                    outcome.dialled += 1
                    changes[site.id] = SiteChange(
                        site,
                        {
                            "state": "dialling",
                            "since": now if site.state != "dialling" else site.since,
                            "participant_id": placed.participant_id,
                            "attempts": attempts,
                            "dial_deadline": now + self.policy.ring_timeout,
                        },
                    )
                    return
            self._count(result)
            log.info("run %s: calling %s failed: %s", view.id, site.room_name, reason)
            if fatal or attempts >= self.policy.dial_attempts:
                changes[site.id] = SiteChange(site, {"attempts": attempts}, fallback_reason=reason)
                return
            changes[site.id] = SiteChange(
                site,
                {
                    "state": "dialling",
                    "since": now if site.state != "dialling" else site.since,
                    "participant_id": None,
                    "attempts": attempts,
                    "dial_deadline": now + self.policy.retry_delay(attempts),
                    "last_error": reason,
                },
            )

        await asyncio.gather(*(dial(site, conference) for site, conference in to_dial))
        outcome.changes = list(changes.values())

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.dial_result(result)

    async def _quietly_drop(self, bridge: Bridge, conference: ConferenceView, leg: str) -> None:
        try:
            await bridge.disconnect(conference.ref(), leg)
        except BridgeError as err:
            log.debug("dropping %s on %s: %s", leg, bridge.name, err.reason)

    async def _quietly_end(self, bridge_name: str, ref: ConferenceRef) -> None:
        bridge = self._registry.get(bridge_name)
        if bridge is None:
            return
        try:
            await bridge.end_conference(ref)
        except BridgeError as err:
            log.info("ending %s on %s: %s", ref.conference_id, bridge_name, err.reason)

    async def _write(self, view: RunView, outcome: StepOutcome, now: datetime) -> None:
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
            await self._fall_back(view.id, site_id, reason)

    # -- fallback -------------------------------------------------------------------------

    async def _builtin_conference(self, run_id: int, title: str) -> int | None:
        """The built-in WebRTC conference of a run (created on first need), or None."""
        bridge = self._registry.get(self.policy.builtin_bridge)
        if bridge is None:
            return None
        async with self._sessions() as session:
            known = await session.scalar(
                select(RunConference.id).where(
                    RunConference.run_id == run_id,
                    RunConference.bridge == bridge.name,
                    RunConference.active.is_(True),
                )
            )
        if known is not None:
            return known
        try:
            ref = await bridge.create_conference(
                ConferenceSpec(key=f"run-{run_id}", title=title, expected_sites=0)
            )
        except BridgeError as err:
            log.error("run %s: the built-in WebRTC bridge refused: %s", run_id, err.reason)
            return None
        async with self._sessions.begin() as session:
            row = RunConference(
                run_id=run_id,
                bridge=bridge.name,
                conference_id=ref.conference_id,
                conference_key=f"run-{run_id}",
                extra=dict(ref.extra),
                role="fallback",
                active=True,
                created_at=self._clock(),
            )
            session.add(row)
            await session.flush()
            return row.id

    async def _fall_back(self, run_id: int, site_id: int, reason: str) -> None:
        """Give a site its browser link and tell its operators; once per site and run."""
        now = self._clock()
        async with self._sessions() as session:
            site = await session.get(RunSite, site_id)
            run = await session.get(MeetingRun, run_id)
            if site is None or run is None:
                return
            meeting = await session.get(Meeting, run.meeting_id)
            hosting = (
                await session.get(RunConference, site.conference_row_id)
                if site.conference_row_id
                else None
            )
        takes_browsers = False
        if hosting is not None:
            bridge = self._registry.get(hosting.bridge)
            takes_browsers = bridge is not None and bridge.capabilities.webrtc_join
        builtin_row = None
        if not takes_browsers:
            builtin_row = await self._builtin_conference(run_id, meeting.title if meeting else "")
        async with self._sessions.begin() as session:
            site = await session.get(RunSite, site_id)
            run = await session.get(MeetingRun, run_id)
            if site is None or run is None or meeting is None:
                return
            site.state = "fallback"
            site.since = now
            site.last_error = reason[:500]
            site.dial_deadline = None
            if builtin_row is not None:
                site.conference_row_id = builtin_row
            if self._metrics is not None:
                self._metrics.dial_result("fallback")
            if site.operators_told:
                return
            room = await session.get(Room, site.room_id)
            unit = await session.get(Unit, site.unit_id)
            url = self.fallback_url(site.id, meeting.id, run.end_at)
            recipients = await site_operators(session, unit.path if unit else "/")
            room_name = room.name if room else f"#{site.room_id}"
            body = (
                f"Phòng {room_name} không kết nối được vào {meeting.title} ({reason}).\n"
                "Vui lòng tham gia bằng trình duyệt qua đường dẫn sau"
                " (dùng được đến khi cuộc họp kết thúc):\n"
                f"{url or '(chưa cấu hình cầu WebRTC)'}\n"
            )
            site.operators_told = (
                await queue_mail(
                    session,
                    dedupe_key=f"fallback:{run.id}:{site.id}",
                    meeting_id=meeting.id,
                    recipients=recipients,
                    subject=f"Dự phòng WebRTC: {room_name} — {meeting.title}",
                    body=body,
                    now=now,
                )
                or not recipients
            )
            log.warning("run %s: %s falls back to WebRTC: %s", run.id, room_name, reason)

    def fallback_url(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str | None:
        if self.links is None:
            return None
        return self.links.url_for(run_site_id, meeting_id, expires_at)

    # -- fail-over ------------------------------------------------------------------------

    async def _fail_over(
        self, view: RunView, failing: Sequence[ConferenceView], now: datetime
    ) -> None:
        """Move the whole run off the failing bridge(s): new conferences, every site redialled."""
        bad = {c.bridge for c in failing}
        for conference in failing:
            self._failures.pop(conference.id, None)
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
                )
                .values(state="pending", participant_id=None, since=now, attempts=0)
            )
        # The healthy cascaded conferences are ended too: the new placement starts clean.
        for conference in view.conferences:
            if conference.bridge not in bad and conference.role != "fallback":
                await self._quietly_end(conference.bridge, conference.ref())
        fresh = await self._view(view.id)
        if fresh is None:
            return
        await self._bring_up(fresh, set(bad))
        after = await self._view(view.id)
        hosts = [c.bridge for c in after.conferences if c.role == "host"] if after else []
        target = hosts[0] if hosts else None
        async with self._sessions.begin() as session:
            session.add(
                RunIncident(
                    run_id=view.id,
                    kind="failover",
                    at=now,
                    detail=f"bridge {', '.join(sorted(bad))} stopped answering",
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

    # -- ending and live control ---------------------------------------------------------------

    async def end(self, run_id: int, actor: Actor, *, reason: str = "ended") -> None:
        """End every conference of the run and close it; ending twice is not an error."""
        async with self._lock(run_id):
            view = await self._view(run_id)
            if view is None:
                raise NotFound("no such run")
            if view.status not in ACTIVE_RUN:
                return
            for conference in view.conferences:
                await self._quietly_end(conference.bridge, conference.ref())
            now = self._clock()
            async with self._sessions.begin() as session:
                run = await session.get(MeetingRun, run_id)
                if run is None or run.status not in ACTIVE_RUN:
                    return
                run.status = "ended"
                run.ended_at = now
                run.ended_by = actor.principal.label
                await session.execute(
                    update(RunConference)
                    .where(RunConference.run_id == run_id, RunConference.active.is_(True))
                    .values(active=False, ended_at=now)
                )
                await session.execute(
                    update(RunSite)
                    .where(RunSite.run_id == run_id, RunSite.state != "disconnected")
                    .values(state="disconnected", since=now, dial_deadline=None)
                )
                audit.record(
                    session,
                    actor,
                    at=now,
                    action="meeting.end",
                    entity="meeting",
                    entity_id=view.meeting_id,
                    unit_path=view.organizer_path,
                    after={"run_id": run_id, "reason": reason},
                )
            self._locks.pop(run_id, None)

    async def extend(self, run_id: int, actor: Actor, minutes: int) -> datetime:
        if minutes <= 0:
            raise InvalidInput("extend by a positive number of minutes")
        async with self._sessions.begin() as session:
            run = await session.get(MeetingRun, run_id)
            if run is None:
                raise NotFound("no such run")
            if run.status not in ACTIVE_RUN:
                raise Conflict(f"the meeting is {run.status}, not live")
            occurrence = await session.scalar(
                select(MeetingOccurrence.end_at).where(
                    MeetingOccurrence.meeting_id == run.meeting_id,
                    MeetingOccurrence.occurrence_key == run.occurrence_key,
                )
            )
            booked_end = occurrence or run.end_at
            new_end = run.end_at + timedelta(minutes=minutes)
            if new_end - booked_end > MAX_EXTENSION:
                raise Conflict("a meeting can be extended by at most four hours in all")
            before = run.end_at
            run.end_at = new_end
            meeting = await session.get(Meeting, run.meeting_id)
            organizer = await session.get(Unit, meeting.organizer_unit_id) if meeting else None
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="meeting.extend",
                entity="meeting",
                entity_id=run.meeting_id,
                unit_path=organizer.path if organizer else "/",
                before={"end": before.isoformat()},
                after={"end": new_end.isoformat()},
            )
            return new_end

    async def site_action(
        self,
        run_id: int,
        site_id: int,
        action: Literal["redial", "disconnect", "mute", "unmute"],
        actor: Actor,
    ) -> None:
        """An operator's request about one site; the bridge is asked at once."""
        view = await self._view(run_id)
        if view is None or view.status not in ACTIVE_RUN:
            raise Conflict("the meeting is not live")
        site = next((s for s in view.sites if s.id == site_id), None)
        if site is None:
            raise NotFound("no such site in this meeting")
        conference = next((c for c in view.conferences if c.id == site.conference_row_id), None)
        bridge = self._registry.get(conference.bridge) if conference else None
        values: dict[str, object] = {}
        if action == "redial":
            if conference is not None and bridge is not None and site.participant_id:
                await self._quietly_drop(bridge, conference, site.participant_id)
            host = next((c for c in view.conferences if c.role == "host"), None)
            values = {
                "state": "pending",
                "participant_id": None,
                "attempts": 0,
                "held": False,
                "since": self._clock(),
                "dial_deadline": None,
                "last_error": None,
            }
            if host is not None and (conference is None or conference.role == "fallback"):
                values["conference_row_id"] = host.id
        else:
            if conference is None or bridge is None or not site.participant_id:
                raise Conflict("the site is not on a bridge now")
            try:
                if action == "disconnect":
                    await bridge.disconnect(conference.ref(), site.participant_id)
                    values = {"state": "disconnected", "held": True, "since": self._clock()}
                else:
                    await bridge.mute(conference.ref(), site.participant_id, action == "mute")
                    values = {"muted": action == "mute"}
            except NotSupported as err:
                raise Conflict(f"{err.bridge} cannot {action} a site") from err
            except ConferenceNotFound as err:
                raise Conflict("the site's call is no longer on the bridge") from err
            except BridgeError as err:
                raise Conflict(f"the bridge did not do it: {err.reason}") from err
        async with self._sessions.begin() as session:
            row = await session.get(RunSite, site_id)
            if row is None:
                raise NotFound("no such site in this meeting")
            for key, value in values.items():
                setattr(row, key, value)
            audit.record(
                session,
                actor,
                at=self._clock(),
                action=f"site.{action}",
                entity="meeting",
                entity_id=view.meeting_id,
                unit_path=site.unit_path,
                after={"run_id": run_id, "site": site_id},
            )
        if action == "redial":
            self.wake()
