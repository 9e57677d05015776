"""Live control: ending a run, extending it, an operator's redial, hang-up or mute of a site.

Requests come from any process; the bridge is asked at once, and the supervisor (the
leader) acts on a changed wish (a redial) at its next look.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, audit
from vcorch.booking import Meeting, MeetingOccurrence
from vcorch.errors import Conflict, InvalidInput, NotFound
from vcorch.mcu_adapter import BridgeError, BridgeRegistry, ConferenceNotFound, NotSupported
from vcorch.orchestration.bridge_calls import drop_quietly, end_quietly
from vcorch.orchestration.models import MeetingRun, RunConference, RunSite
from vcorch.orchestration.policy import ACTIVE_RUN
from vcorch.orchestration.snapshot import read_view
from vcorch.rooms import Unit

MAX_EXTENSION = timedelta(hours=4)

SiteAction = Literal["redial", "disconnect", "mute", "unmute"]


class Control:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: BridgeRegistry,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._registry = registry
        self._clock = clock

    async def end(self, run_id: int, actor: Actor, *, reason: str = "ended") -> bool:
        """End every conference of the run and close it; ending twice is not an error.
        True when this call ended it (the caller holds the run's lock)."""
        view = await read_view(self._sessions, run_id)
        if view is None:
            raise NotFound("no such run")
        if view.status not in ACTIVE_RUN:
            return False
        for conference in view.conferences:
            await end_quietly(self._registry, conference.bridge, conference.ref())
        now = self._clock()
        async with self._sessions.begin() as session:
            run = await session.get(MeetingRun, run_id)
            if run is None or run.status not in ACTIVE_RUN:
                return False
            run.status = "ended"
            run.ended_at = now
            run.ended_by = actor.principal.label
            meeting = await session.get(Meeting, run.meeting_id)
            if meeting is not None and meeting.rrule is None and meeting.status == "scheduled":
                # A one-off meeting that ran is over, whatever its booked end said: it holds
                # its rooms no longer and is closed to changes.  A series goes on; each
                # occurrence's own status is its run's (the live view).
                meeting.status = "ended"
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
        return True

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
        action: SiteAction,
        actor: Actor,
    ) -> None:
        """An operator's request about one site; the bridge is asked at once."""
        view = await read_view(self._sessions, run_id)
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
                await drop_quietly(bridge, conference.ref(), site.participant_id)
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
