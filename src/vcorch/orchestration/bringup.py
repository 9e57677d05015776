"""Bringing a run up: place its sites, create its conferences (a new generation), link the
cascaded ones to the host, store what was created.

Conferences are created under a key derived from the run and its generation, and bridges
return the existing conference for a key they know: a bring-up cut short by a crash and
repeated creates nothing twice.  A bridge that cannot host is left out and the placement
tried again without it; with none left every site falls back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.mcu_adapter import (
    BridgeError,
    BridgeRegistry,
    BridgeUnavailable,
    CapacityExceeded,
    ConferenceRef,
    ConferenceSpec,
)
from vcorch.orchestration.bridge_calls import end_quietly
from vcorch.orchestration.channels import BROWSER_CHANNELS
from vcorch.orchestration.collaborators import HealthReader
from vcorch.orchestration.fallback import Fallback
from vcorch.orchestration.models import MeetingRun, RunConference, RunIncident, RunSite
from vcorch.orchestration.placement import BridgeOption, SiteNeed, place, rehome
from vcorch.orchestration.policy import ACTIVE_RUN, OrchestrationPolicy
from vcorch.orchestration.snapshot import ConferenceView, RunView
from vcorch.rooms import Unit

log = logging.getLogger(__name__)

Created = tuple[str, bool, ConferenceRef, tuple[int, ...]]
"""One created conference: (bridge, hosts the meeting, its ref, the sites placed on it)."""


def conference_key(run_id: int, generation: int, bridge: str) -> str:
    return f"vcorch-run-{run_id}-g{generation}-{bridge}"


class BringUp:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: BridgeRegistry,
        clock: Callable[[], datetime],
        policy: OrchestrationPolicy,
        fallback: Fallback,
        health: HealthReader | None,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._clock = clock
        self.policy = policy
        self._fallback = fallback
        self._health = health

    async def _bridge_options(self, exclude: Iterable[str]) -> list[BridgeOption]:
        excluded = set(exclude)
        async with self._sessions() as session:
            paths = dict((await session.execute(select(Unit.code, Unit.path))).all())
        options = []
        for bridge in self._registry:
            if bridge.name == self.policy.builtin_bridge or bridge.name in excluded:
                continue
            health = self._health.health_of(bridge.name) if self._health is not None else None
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

    async def bring_up(self, view: RunView, exclude: set[str]) -> None:
        """Place the run's sites and create its conferences (a new generation)."""
        now = self._clock()
        generation = view.generation + 1
        # A site already on its browser link stays there: calling its room too would
        # put it in the meeting twice.
        pending = [
            s
            for s in view.sites
            if not s.held
            and s.state != "fallback"
            and not (s.state == "connected" and s.channel in BROWSER_CHANNELS)
        ]
        for _ in range(len(self._registry) + 1):
            options = await self._bridge_options(exclude)
            plan = place(
                [SiteNeed(s.id, s.endpoint_kind) for s in pending],
                options,
                organizer_path=view.organizer_path,
                preferred=view.preferred_bridge,
            )
            created: list[Created] = []
            try:
                for conference in plan.conferences:
                    bridge = self._registry[conference.bridge]
                    ref = await bridge.create_conference(
                        ConferenceSpec(
                            key=conference_key(view.id, generation, conference.bridge),
                            title=view.title,
                            expected_sites=len(conference.site_ids),
                        )
                    )
                    created.append((conference.bridge, conference.host, ref, conference.site_ids))
            except (BridgeUnavailable, CapacityExceeded) as err:
                log.warning("run %s: %s cannot host: %s", view.id, err.bridge, err.reason)
                exclude.add(err.bridge)
                for bridge_name, _, ref, _ in created:
                    await end_quietly(self._registry, bridge_name, ref)
                continue
            links = await self._link_cascades(created)
            await self._store_generation(view, created, plan.unplaced, now, links)
            return
        await self._store_generation(view, [], tuple(s.id for s in pending), now)

    async def _link_cascades(self, created: Sequence[Created]) -> dict[str, str]:
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
        created: Sequence[Created],
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
                    conference_key=conference_key(view.id, view.generation + 1, bridge_name),
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
            await self._fallback.fall_back(view.id, site_id, reason)

    async def rehome(
        self, view: RunView, host: ConferenceView, site_ids: Sequence[int], exclude: set[str]
    ) -> dict[str, tuple[int, ...]]:
        """Place these sites (of a failed cascaded bridge) on the meeting's standing
        conferences, or on new ones linked to ``host``; nobody else moves.  Returns where
        they went (bridge: sites); the ones with no place fall back."""
        now = self._clock()
        wanted = set(site_ids)
        needs = [SiteNeed(s.id, s.endpoint_kind) for s in view.sites if s.id in wanted]
        options = {o.name: o for o in await self._bridge_options(exclude)}
        standing = [c for c in view.conferences if c.bridge in options and c.role != "fallback"]
        standing.sort(key=lambda c: c.id != host.id)
        used = {c.bridge for c in standing}
        plan = rehome(
            needs,
            [options[c.bridge] for c in standing],
            [o for name, o in options.items() if name not in used],
        )
        placed: dict[int, int] = {}  # site: conference row
        by_bridge = {c.bridge: c for c in standing}
        for bridge_name, ids in plan.joins.items():
            for site_id in ids:
                placed[site_id] = by_bridge[bridge_name].id
        created: list[tuple[str, ConferenceRef, str | None, tuple[int, ...]]] = []
        unplaced = list(plan.unplaced)
        host_bridge = self._registry[host.bridge]
        for bridge_name, ids in plan.new.items():
            bridge = self._registry[bridge_name]
            key = f"{conference_key(view.id, view.generation, bridge_name)}-m{host.id}"
            try:
                ref = await bridge.create_conference(
                    ConferenceSpec(key=key, title=view.title, expected_sites=len(ids))
                )
            except BridgeError as err:
                log.warning(
                    "run %s: %s cannot take the sites: %s", view.id, bridge_name, err.reason
                )
                unplaced.extend(ids)
                continue
            link: str | None = None
            try:
                leg = await host_bridge.cascade(host.ref(), ref, ref.extra.get("dial_in", ""))
                link = leg.participant_id
            except BridgeError as err:
                log.warning("cascade %s -> %s failed: %s", host.bridge, bridge_name, err.reason)
            created.append((key, ref, link, ids))
        async with self._sessions.begin() as session:
            rows = {
                s.id: s
                for s in (
                    await session.execute(select(RunSite).where(RunSite.id.in_(sorted(wanted))))
                ).scalars()
            }
            for key, ref, link, ids in created:
                row = RunConference(
                    run_id=view.id,
                    bridge=ref.bridge,
                    conference_id=ref.conference_id,
                    conference_key=key,
                    extra=dict(ref.extra),
                    role="cascade",
                    active=True,
                    link_participant_id=link,
                    created_at=now,
                )
                session.add(row)
                await session.flush()
                for site_id in ids:
                    placed[site_id] = row.id
            for site_id, row_id in placed.items():
                site = rows.get(site_id)
                if site is None:
                    continue
                site.conference_row_id = row_id
                site.participant_id = None
                site.state = "pending"
                site.since = now
                site.attempts = 0
                site.dial_deadline = None
        for site_id in unplaced:
            await self._fallback.fall_back(view.id, site_id, "no bridge can call this site now")
        moved: dict[str, tuple[int, ...]] = dict(plan.joins)
        for _, ref, _, ids in created:
            moved[ref.bridge] = ids
        return moved
