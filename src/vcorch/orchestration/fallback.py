"""The WebRTC fallback of one site: its browser link, told once to its operators.

A site whose room system cannot be reached joins the same meeting from a browser: through
the hosting bridge where it takes browsers, else through the built-in WebRTC bridge's
conference of the run (created on first need).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.booking import Meeting
from vcorch.mcu_adapter import (
    BridgeError,
    BridgeRegistry,
    ConferenceRef,
    ConferenceSpec,
    DialTarget,
)
from vcorch.orchestration.collaborators import DialMetrics, FallbackLinks
from vcorch.orchestration.models import MeetingRun, RunConference, RunSite
from vcorch.orchestration.operator_mail import queue_mail, site_operators
from vcorch.orchestration.policy import OrchestrationPolicy
from vcorch.rooms import Room, Unit

log = logging.getLogger(__name__)


@runtime_checkable
class GatewayPaths(Protocol):
    """Links that know the WebRTC-to-SIP gateways (``join``'s link maker)."""

    def gateway_serves(self, bridge: str) -> bool: ...


class Fallback:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: BridgeRegistry,
        clock: Callable[[], datetime],
        policy: OrchestrationPolicy,
        links: FallbackLinks | None,
        metrics: DialMetrics | None,
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._clock = clock
        self.policy = policy
        self.links = links
        self._metrics = metrics

    async def builtin_conference(
        self, run_id: int, title: str, host: RunConference | None = None
    ) -> int | None:
        """The built-in WebRTC conference of a run (created on first need), or None; linked
        into ``host`` as one participant when the host bridge can take it."""
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
            row_id = row.id
        if host is not None:
            await self._link(run_id, row_id, host)
        return row_id

    async def _link(self, run_id: int, builtin_row: int, host: RunConference) -> None:
        """Dial the built-in conference into the host one, where the host bridge takes such
        a link; the link leg's id marks the two as one meeting (no separate room)."""
        bridge = self._registry.get(host.bridge)
        if bridge is None or not bridge.capabilities.builtin_link:
            return
        target = DialTarget(
            site_id=f"link-run-{run_id}",
            kind="sip",
            address=f"sip:vcorch-webrtc-run-{run_id}@{self.policy.builtin_bridge}",
            display_name="Cầu trình duyệt dự phòng",
        )
        ref = ConferenceRef(
            bridge=host.bridge, conference_id=host.conference_id, extra=dict(host.extra or {})
        )
        try:
            placed = await bridge.dial_out(ref, target)
        except BridgeError as err:
            log.warning("run %s: %s did not take the browser link: %s", run_id, host.bridge, err)
            return
        async with self._sessions.begin() as session:
            row = await session.get(RunConference, builtin_row)
            if row is not None:
                row.link_participant_id = placed.participant_id
        log.info("run %s: the browser sites' conference is linked into %s", run_id, host.bridge)

    async def fall_back(self, run_id: int, site_id: int, reason: str) -> None:
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
            # A SIP-only MCU with a gateway takes browsers too, into its own conference.
            takes_browsers = takes_browsers or (
                bridge is not None
                and bridge.capabilities.sip_dial_in
                and isinstance(self.links, GatewayPaths)
                and self.links.gateway_serves(hosting.bridge)
            )
        builtin_row = None
        if not takes_browsers:
            builtin_row = await self.builtin_conference(
                run_id, meeting.title if meeting else "", hosting
            )
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
            url = self.url(site.id, meeting.id, run.end_at)
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

    def url(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str | None:
        if self.links is None:
            return None
        return self.links.url_for(run_site_id, meeting_id, expires_at)
