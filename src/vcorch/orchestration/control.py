"""Live control: ending a run, extending it, an operator's redial, hang-up or mute of a site,
and the meeting's in-call controls (layout, mute everyone, lock, an on-screen message).

Requests come from any process; the bridge is asked at once, and the supervisor (the
leader) acts on a changed wish (a redial) at its next look.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Actor, audit
from vcorch.booking import Meeting, MeetingOccurrence
from vcorch.errors import Conflict, FieldProblem, InvalidInput, NotFound
from vcorch.mcu_adapter import (
    MESSAGE_MAX_CHARS,
    MESSAGE_MAX_SECONDS,
    Bridge,
    BridgeBusy,
    BridgeError,
    BridgeRegistry,
    Capabilities,
    ConferenceNotFound,
    NotSupported,
)
from vcorch.orchestration.bridge_calls import drop_quietly, end_quietly
from vcorch.orchestration.models import MeetingRun, RunConference, RunSite
from vcorch.orchestration.policy import ACTIVE_RUN
from vcorch.orchestration.snapshot import ConferenceView, RunView, read_view
from vcorch.rooms import Unit

log = logging.getLogger(__name__)

MAX_EXTENSION = timedelta(hours=4)

SiteAction = Literal["redial", "disconnect", "mute", "unmute"]
ConferenceAction = Literal["layout", "mute_all", "lock", "message"]

# What each in-call control needs the meeting's bridge to declare.
_NEEDS: dict[ConferenceAction, Callable[[Capabilities], bool]] = {
    "layout": lambda c: bool(c.layout_names),
    "mute_all": lambda c: c.mute_all,
    "lock": lambda c: c.lock,
    "message": lambda c: c.message,
}
_NAMES: dict[ConferenceAction, str] = {
    "layout": "change the layout",
    "mute_all": "mute everyone at once",
    "lock": "lock the meeting",
    "message": "show a message on screen",
}


class ControlNotSupported(Conflict):
    """The meeting's bridge cannot do this in-call control (its capabilities say so); the
    bridge was not asked."""

    def __init__(self, bridge: str, action: str) -> None:
        super().__init__(f"{bridge} cannot {action}")
        self.bridge = bridge


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

    # -- in-call control of the whole meeting --------------------------------------------

    def capabilities_of(self, bridge: str) -> Capabilities | None:
        found = self._registry.get(bridge)
        return found.capabilities if found is not None else None

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
        """Apply one in-call control to the meeting: on its hosting conference, whose bridge
        must declare the capability (else :class:`ControlNotSupported`, the bridge not
        asked), and on every cascaded conference whose bridge can (others are left as
        they are, and logged).  ``on``: mute / lock (true) or undo (false)."""
        view = await read_view(self._sessions, run_id)
        if view is None or view.status not in ACTIVE_RUN:
            raise Conflict("the meeting is not live")
        host = _hosting(view)
        host_bridge = self._registry.get(host.bridge) if host is not None else None
        if host is None or host_bridge is None:
            raise Conflict("the meeting is on no bridge now")
        if not _NEEDS[action](host_bridge.capabilities):
            raise ControlNotSupported(host.bridge, _NAMES[action])
        after: dict[str, object] = {"run_id": run_id}
        if action == "layout":
            if layout not in host_bridge.capabilities.layout_names:
                names = ", ".join(host_bridge.capabilities.layout_names)
                raise InvalidInput(
                    f"{host.bridge} shows the layouts {names}",
                    problems=[FieldProblem("layout", f"one of: {names}")],
                )
            after["layout"] = layout
        elif action == "message":
            text = unicodedata.normalize("NFC", text.strip())
            if not text or len(text) > MESSAGE_MAX_CHARS:
                raise InvalidInput(
                    "the message is empty or too long",
                    problems=[FieldProblem("text", f"1 to {MESSAGE_MAX_CHARS} characters")],
                )
            if not 1 <= seconds <= MESSAGE_MAX_SECONDS:
                raise InvalidInput(
                    "the message's duration is out of range",
                    problems=[FieldProblem("seconds", f"1 to {MESSAGE_MAX_SECONDS} seconds")],
                )
            # The text itself is the meeting's business, not the audit's: its length is.
            after.update({"chars": len(text), "seconds": seconds})
        else:
            after["on"] = on
        targets = [host] + [
            c
            for c in view.conferences
            if c.id != host.id and c.role == "cascade" and c.bridge in self._registry
        ]
        applied: list[int] = []
        for conference in targets:
            bridge = self._registry[conference.bridge]
            if conference is not host and not _NEEDS[action](bridge.capabilities):
                log.info("run %s: %s cannot %s", run_id, bridge.name, _NAMES[action])
                continue
            try:
                await _apply(bridge, conference, action, layout, on, text, seconds)
            except NotSupported as err:
                if conference is host:
                    raise ControlNotSupported(err.bridge, _NAMES[action]) from err
                continue
            except ConferenceNotFound as err:
                if conference is host:
                    raise Conflict("the meeting's conference is no longer on the bridge") from err
                continue
            except BridgeBusy:
                raise  # busy is not a refusal: 503, try again
            except BridgeError as err:
                if conference is host:
                    raise Conflict(f"the bridge did not do it: {err.reason}") from err
                log.warning("run %s: %s on %s: %s", run_id, action, bridge.name, err.reason)
                continue
            applied.append(conference.id)
        await self._store_control(view, action, applied, layout, on, actor, after)

    async def _store_control(
        self,
        view: RunView,
        action: ConferenceAction,
        applied: list[int],
        layout: str | None,
        on: bool,
        actor: Actor,
        after: dict[str, object],
    ) -> None:
        async with self._sessions.begin() as session:
            values: dict[str, object] = {}
            if action == "layout":
                values = {"layout": layout}
            elif action == "mute_all":
                values = {"all_muted": on}
            elif action == "lock":
                values = {"locked": on}
            if values and applied:
                await session.execute(
                    update(RunConference).where(RunConference.id.in_(applied)).values(**values)
                )
            if action == "mute_all" and applied:
                await session.execute(
                    update(RunSite)
                    .where(RunSite.run_id == view.id, RunSite.conference_row_id.in_(applied))
                    .values(muted=on)
                )
            audit.record(
                session,
                actor,
                at=self._clock(),
                action=f"meeting.{action.replace('_', '-')}",
                entity="meeting",
                entity_id=view.meeting_id,
                unit_path=view.organizer_path,
                after=after,
            )


def _hosting(view: RunView) -> ConferenceView | None:
    """The conference the meeting is held in: its host, else (whole fallback) the built-in
    bridge's."""
    for role in ("host", "fallback"):
        for conference in view.conferences:
            if conference.role == role:
                return conference
    return None


def _apply(
    bridge: Bridge,
    conference: ConferenceView,
    action: ConferenceAction,
    layout: str | None,
    on: bool,
    text: str,
    seconds: int,
) -> Awaitable[None]:
    ref = conference.ref()
    if action == "layout":
        return bridge.set_layout(ref, layout or "")
    if action == "mute_all":
        return bridge.mute_all(ref, on)
    if action == "lock":
        return bridge.lock(ref, on)
    return bridge.show_message(ref, text, seconds)
