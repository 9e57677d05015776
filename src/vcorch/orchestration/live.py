"""Live control of a meeting as people use it: who may do what, and what the live view shows.

Rules (docs/security.md): the organiser's admins and secretariat start, end and extend a
meeting; they and the operators of a site's unit act on that site; everyone who sees the
organiser's unit, or one of the sites' units, reads the live view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, Principal, Role, audit
from vcorch.booking import ACCEPTED, Meeting, MeetingSite, occurrence_key_text
from vcorch.errors import Conflict, NotFound, PermissionDenied
from vcorch.orchestration.channels import BROWSER_CHANNELS, CHANNEL_LABELS
from vcorch.orchestration.control import ConferenceAction
from vcorch.orchestration.models import MeetingRun, RunConference, RunIncident, RunSite
from vcorch.orchestration.orchestrator import ACTIVE_RUN, Orchestrator
from vcorch.rooms import Room, Unit

SiteAction = Literal["redial", "disconnect", "mute", "unmute"]
CONTROLLERS = (Role.ADMIN, Role.SECRETARIAT)
# In-call controls of the whole meeting: the organiser's admins and secretariat, and the
# operators of the organiser's unit (who run its host room and its MCU).
CONFERENCE_CONTROLLERS = (Role.ADMIN, Role.SECRETARIAT, Role.OPERATOR)


def separate_conferences(conferences: Sequence[RunConference], whole_fallback: bool) -> set[int]:
    """The built-in bridge's conferences that are a room apart from the meeting.

    A fallen-back site whose browser is in the built-in bridge's conference hears the
    meeting only when a link joins that conference to the host conference (its
    ``link_participant_id``).  When the whole meeting fell back there is no other room."""
    if whole_fallback:
        return set()
    hosts = {c.bridge for c in conferences if c.active and c.role == "host"}
    return {
        c.id
        for c in conferences
        if c.active
        and c.role == "fallback"
        and c.link_participant_id is None
        and any(bridge != c.bridge for bridge in hosts)
    }


def _dial_in_of(conference: RunConference) -> dict[str, Any] | None:
    if not conference.dial_in_number:
        return None
    return {
        "bridge": conference.bridge,
        "number": conference.dial_in_number,
        "pin": conference.dial_in_pin,
        "uri": conference.dial_in_uri,
    }


def _dial_in_block(conferences: Sequence[RunConference]) -> dict[str, Any] | None:
    """How a room system calls the meeting itself: the active hosting conference's numbers
    (its host, else a cascaded one's)."""
    for role in ("host", "cascade"):
        for conference in conferences:
            if conference.active and conference.role == role:
                found = _dial_in_of(conference)
                if found is not None:
                    return found
    return None


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class LiveService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        orchestrator: Orchestrator,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._orchestrator = orchestrator
        self._clock = clock

    async def _meeting(self, session: AsyncSession, meeting_id: int) -> tuple[Meeting, str]:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            raise NotFound("no such meeting")
        organizer = await session.get(Unit, meeting.organizer_unit_id)
        return meeting, organizer.path if organizer else "/"

    async def _site_paths(self, session: AsyncSession, meeting_id: int) -> list[str]:
        return list(
            (
                await session.execute(
                    select(Unit.path)
                    .join(Room, Room.unit_id == Unit.id)
                    .join(MeetingSite, MeetingSite.room_id == Room.id)
                    .where(MeetingSite.meeting_id == meeting_id, MeetingSite.approval == ACCEPTED)
                )
            ).scalars()
        )

    async def _readable(self, session: AsyncSession, who: Principal, meeting_id: int) -> Meeting:
        meeting, organizer_path = await self._meeting(session, meeting_id)
        if who.sees(organizer_path):
            return meeting
        if any(who.sees(path) for path in await self._site_paths(session, meeting_id)):
            return meeting
        raise NotFound("no such meeting")

    async def _controllable(
        self,
        session: AsyncSession,
        who: Principal,
        meeting_id: int,
        roles: tuple[Role, ...] = CONTROLLERS,
    ) -> None:
        _, organizer_path = await self._meeting(session, meeting_id)
        if not who.sees(organizer_path):
            if any(who.sees(p) for p in await self._site_paths(session, meeting_id)):
                raise PermissionDenied("only the organiser's secretariat controls this meeting")
            raise NotFound("no such meeting")
        if who.role not in roles:
            raise PermissionDenied("only the organiser's secretariat controls this meeting")

    @staticmethod
    async def _current_run(
        session: AsyncSession, meeting_id: int, *, active_only: bool
    ) -> MeetingRun | None:
        query = select(MeetingRun).where(MeetingRun.meeting_id == meeting_id)
        active: MeetingRun | None = await session.scalar(
            query.where(MeetingRun.status.in_(ACTIVE_RUN)).order_by(MeetingRun.start_at.desc())
        )
        if active is not None or active_only:
            return active
        latest: MeetingRun | None = await session.scalar(query.order_by(MeetingRun.start_at.desc()))
        return latest

    # -- commands ---------------------------------------------------------------------------

    async def start(
        self, actor: Actor, meeting_id: int, occurrence_key: datetime | None
    ) -> dict[str, Any]:
        async with self._sessions() as session:
            await self._controllable(session, actor.principal, meeting_id)
        run_id, _ = await self._orchestrator.claim(meeting_id, occurrence_key, actor)
        self._orchestrator.wake()
        return await self.live(actor.principal, meeting_id, run_id=run_id)

    async def _active_run_id(
        self, actor: Actor, meeting_id: int, roles: tuple[Role, ...] = CONTROLLERS
    ) -> int:
        async with self._sessions() as session:
            await self._controllable(session, actor.principal, meeting_id, roles)
            run = await self._current_run(session, meeting_id, active_only=True)
        if run is None:
            raise Conflict("the meeting is not live")
        return run.id

    async def end(self, actor: Actor, meeting_id: int) -> dict[str, Any]:
        run_id = await self._active_run_id(actor, meeting_id)
        await self._orchestrator.end(run_id, actor, reason="ended by hand")
        return await self.live(actor.principal, meeting_id, run_id=run_id)

    async def extend(self, actor: Actor, meeting_id: int, minutes: int) -> dict[str, Any]:
        run_id = await self._active_run_id(actor, meeting_id)
        await self._orchestrator.extend(run_id, actor, minutes)
        return await self.live(actor.principal, meeting_id, run_id=run_id)

    async def conference_control(
        self,
        actor: Actor,
        meeting_id: int,
        action: ConferenceAction,
        *,
        layout: str | None = None,
        on: bool = True,
        text: str = "",
        seconds: int = 0,
    ) -> dict[str, Any]:
        """Layout, mute everyone, lock, a message: on the live meeting's conference."""
        run_id = await self._active_run_id(actor, meeting_id, CONFERENCE_CONTROLLERS)
        await self._orchestrator.conference_control(
            run_id, actor, action, layout=layout, on=on, text=text, seconds=seconds
        )
        return await self.live(actor.principal, meeting_id, run_id=run_id)

    async def site_action(
        self, actor: Actor, meeting_id: int, site_id: int, action: SiteAction
    ) -> dict[str, Any]:
        run, site, _ = await self._site_in_reach(actor.principal, meeting_id, site_id)
        await self._orchestrator.site_action(run.id, site.id, action, actor)
        return await self.live(actor.principal, meeting_id, run_id=run.id)

    async def _site_in_reach(
        self, who: Principal, meeting_id: int, site_id: int
    ) -> tuple[MeetingRun, RunSite, str]:
        """The live run, the site and its unit path, if ``who`` may act on that site."""
        async with self._sessions() as session:
            await self._readable(session, who, meeting_id)
            run = await self._current_run(session, meeting_id, active_only=True)
            if run is None:
                raise Conflict("the meeting is not live")
            site = await self._run_site(session, run.id, site_id)
            unit = await session.get(Unit, site.unit_id)
            _, organizer_path = await self._meeting(session, meeting_id)
        site_path = unit.path if unit else "/"
        allowed = (who.role in CONTROLLERS and who.sees(organizer_path)) or (
            who.role in (Role.ADMIN, Role.OPERATOR) and who.sees(site_path)
        )
        if not allowed:
            raise PermissionDenied("operators act on their own units' sites only")
        return run, site, site_path

    @staticmethod
    async def _run_site(session: AsyncSession, run_id: int, site_id: int) -> RunSite:
        """A site by the id the meeting shows (``-room_id`` for one-occurrence rooms)."""
        query = select(RunSite).where(RunSite.run_id == run_id)
        if site_id < 0:
            query = query.where(RunSite.room_id == -site_id)
        else:
            query = query.where(RunSite.meeting_site_id == site_id)
        site: RunSite | None = await session.scalar(query)
        if site is None:
            raise NotFound("no such site in this meeting")
        return site

    async def fallback_link(
        self, actor: Actor, meeting_id: int, site_id: int
    ) -> tuple[str, datetime]:
        """A browser link for a site, made by hand by its operator or the secretariat."""
        run, site, site_path = await self._site_in_reach(actor.principal, meeting_id, site_id)
        url = self._orchestrator.fallback_url(site.id, meeting_id, run.end_at)
        if url is None:
            raise Conflict("no WebRTC fallback is configured")
        async with self._sessions.begin() as session:
            # The link itself is a credential: the audit says who made one, not what it is.
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="join_link.issue",
                entity="run_site",
                entity_id=site.id,
                unit_path=site_path,
                after={"meeting_id": meeting_id, "expires_at": run.end_at.isoformat()},
            )
        return url, run.end_at

    # -- the view -------------------------------------------------------------------------------

    async def live(
        self, who: Principal, meeting_id: int, *, run_id: int | None = None
    ) -> dict[str, Any]:
        """The live view as ``who`` may see it: who does not see the organiser's unit sees
        only the sites of its own units (not another unit's browser link) and no incidents."""
        async with self._sessions() as session:
            meeting = await self._readable(session, who, meeting_id)
            _, organizer_path = await self._meeting(session, meeting_id)
            whole = who.sees(organizer_path)
            if run_id is not None:
                run = await session.get(MeetingRun, run_id)
            else:
                run = await self._current_run(session, meeting_id, active_only=False)
            if run is None:
                return await self._not_started(session, meeting, None if whole else who)
            conferences = list(
                (
                    await session.execute(
                        select(RunConference)
                        .where(RunConference.run_id == run.id)
                        .order_by(RunConference.id)
                    )
                ).scalars()
            )
            incidents = list(
                (
                    await session.execute(
                        select(RunIncident)
                        .where(RunIncident.run_id == run.id)
                        .order_by(RunIncident.at, RunIncident.id)
                    )
                ).scalars()
            )
            rows = [
                (site, room_name)
                for site, room_name, path in (
                    await session.execute(
                        select(RunSite, Room.name, Unit.path)
                        .join(Room, Room.id == RunSite.room_id)
                        .join(Unit, Unit.id == RunSite.unit_id)
                        .where(RunSite.run_id == run.id)
                        .order_by(RunSite.id)
                    )
                ).all()
                if whole or who.sees(path)
            ]
            if not whole:
                incidents = []
        bridge_of = {c.id: c.bridge for c in conferences}
        # A fallen-back site that called in is on the hosting conference by that call.
        hosting = next((c.bridge for c in conferences if c.active and c.role == "host"), None)
        fallback_rows = {c.id for c in conferences if c.role == "fallback"}
        separate = separate_conferences(conferences, run.whole_fallback)
        running = run.status in ACTIVE_RUN
        sites = []
        for site, room_name in rows:
            entry: dict[str, Any] = {
                "site_id": site.meeting_site_id
                if site.meeting_site_id is not None
                else -site.room_id,
                "room_id": site.room_id,
                "room_name": room_name,
                "endpoint_id": site.endpoint_id,
                "state": site.state,
                "since": _iso(site.since),
                "bridge": hosting
                if site.state == "connected"
                and site.channel == "dial_in"
                and site.conference_row_id in fallback_rows
                and hosting is not None
                else bridge_of.get(site.conference_row_id or -1),
                "attempts": site.attempts,
                "last_error": site.last_error,
                "muted": site.muted,
                "channel": site.channel,
                "channel_label": CHANNEL_LABELS.get(site.channel) if site.channel else None,
                "host": site.room_id == meeting.host_room_id,
                "separate_room": site.conference_row_id in separate,
            }
            browser = site.state == "fallback" or (
                site.state == "connected" and site.channel in BROWSER_CHANNELS
            )
            if running and browser:
                # Shown for as long as the run lives: people who left their browser may
                # need the link again.
                url = self._orchestrator.fallback_url(site.id, meeting.id, run.end_at)
                if url is not None:
                    entry["fallback_url"] = url
            sites.append(entry)
        return {
            "dial_in": _dial_in_block(conferences),
            "meeting_id": meeting.id,
            "run_id": run.id,
            "status": run.status,
            "occurrence": occurrence_key_text(run.occurrence_key),
            "start": _iso(run.start_at),
            "end": _iso(run.end_at),
            "launched_at": _iso(run.launched_at),
            "ended_at": _iso(run.ended_at),
            "whole_fallback": run.whole_fallback,
            "bridges": [
                {
                    "name": c.bridge,
                    "conference_id": c.conference_id,
                    "role": c.role,
                    "active": c.active,
                    "since": _iso(c.created_at),
                    "until": _iso(c.ended_at),
                    "dial_in": _dial_in_of(c),
                    "controls": self._controls_of(c),
                }
                for c in conferences
            ],
            "sites": sites,
            "incidents": [
                {
                    "kind": i.kind,
                    "at": _iso(i.at),
                    "detail": i.detail,
                    "from_bridge": i.from_bridge,
                    "to_bridge": i.to_bridge,
                }
                for i in incidents
            ],
        }

    def _controls_of(self, conference: RunConference) -> dict[str, Any]:
        capabilities = self._orchestrator.capabilities_of(conference.bridge)
        return {
            "layouts": list(capabilities.layout_names) if capabilities else [],
            "mute_all": bool(capabilities and capabilities.mute_all),
            "lock": bool(capabilities and capabilities.lock),
            "message": bool(capabilities and capabilities.message),
            "layout": conference.layout,
            "locked": bool(conference.locked),
            "all_muted": bool(conference.all_muted),
        }

    async def _not_started(
        self, session: AsyncSession, meeting: Meeting, only: Principal | None
    ) -> dict[str, Any]:
        """The booked sites, pending; ``only``: those of that principal's units."""
        rows = (
            await session.execute(
                select(MeetingSite, Room.name, Unit.path)
                .join(Room, Room.id == MeetingSite.room_id)
                .join(Unit, Unit.id == Room.unit_id)
                .where(MeetingSite.meeting_id == meeting.id, MeetingSite.approval == ACCEPTED)
                .order_by(MeetingSite.id)
            )
        ).all()
        status = "cancelled" if meeting.status == "cancelled" else "scheduled"
        listed = [
            (site.id, site.room_id, name, site.endpoint_id)
            for site, name, path in rows
            if only is None or only.sees(path)
        ]
        booked = {site.room_id for site, _, _ in rows}
        if meeting.host_room_id is not None and meeting.host_room_id not in booked:
            host = await session.get(Room, meeting.host_room_id)
            host_unit = await session.get(Unit, host.unit_id) if host is not None else None
            if host is not None and (
                only is None or (host_unit is not None and only.sees(host_unit.path))
            ):
                # Not booked as a site, yet dialled first at bring-up (as -room_id).
                listed.insert(0, (-host.id, host.id, host.name, None))
        return {
            "meeting_id": meeting.id,
            "run_id": None,
            "status": status,
            "occurrence": None,
            "start": None,
            "end": None,
            "launched_at": None,
            "ended_at": None,
            "whole_fallback": False,
            "dial_in": None,
            "bridges": [],
            "sites": [
                {
                    "site_id": site_id,
                    "room_id": room_id,
                    "room_name": name,
                    "endpoint_id": endpoint_id,
                    "state": "pending",
                    "since": None,
                    "bridge": None,
                    "attempts": 0,
                    "last_error": None,
                    "muted": False,
                    "channel": None,
                    "channel_label": None,
                    "host": room_id == meeting.host_room_id,
                    "separate_room": False,
                }
                for site_id, room_id, name, endpoint_id in listed
            ],
            "incidents": [],
        }
