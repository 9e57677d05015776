"""The live feed of a meeting: what the live room shows, pushed to each watcher as it changes.

One watcher task per meeting that someone follows, per process, whatever the number of
followers: it reads the meeting's live view (``LiveService.live``, the same answer as
``GET /api/meetings/{id}/live``) when told that something changed, and at the latest every
``poll_seconds``, and hands the new view to every follower.

*Told*: the engine's own events.  Every ``INSERT``/``UPDATE``/``DELETE`` on a run's tables
(``run_sites``, ``meeting_runs``, ``run_conferences``, ``run_incidents``) committed through
this process' engine wakes the watchers, whoever wrote it (the supervisor, a bring-up, a
fallback, an operator's redial, a browser arriving), without a hook in any of them.
*At the latest*: the poll, because in a deployment of several processes the writer is often
another one (the scheduler leader supervises; any process takes the operator's request),
and a commit elsewhere wakes nobody here.  So the feed is immediate for what this process
writes and at most ``poll_seconds`` late for the rest; one read per followed meeting per
poll, however many people follow it.

Each follower sees the view cut to its scope (:func:`scoped`): everything when it sees the
organiser's unit, otherwise only the sites of its own units, with no incidents (they are
about the whole meeting).  A follower keeps at most one pending view, the newest: a slow
reader gets fewer, merged messages, never an unbounded queue, and never an old state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vcorch.access import SYSTEM_ACTOR, Principal, Role
from vcorch.booking import ACCEPTED, Meeting, MeetingSite
from vcorch.errors import DomainError, VcorchError
from vcorch.orchestration.live import CONTROLLERS, LiveService
from vcorch.orchestration.models import RunSite
from vcorch.rooms import Room, Unit

__all__ = [
    "FeedPolicy",
    "LiveFeed",
    "Scope",
    "TooManyStreams",
    "changes",
    "progress",
    "scoped",
]

log = logging.getLogger(__name__)

RUN_TABLES = ("run_sites", "meeting_runs", "run_conferences", "run_incidents")
WRITES = ("INSERT", "UPDATE", "DELETE")
# What a follower is told again when it changes: a site's ...
SITE_FIELDS = (
    "state",
    "since",
    "channel",
    "channel_label",
    "attempts",
    "last_error",
    "muted",
    "bridge",
    "fallback_url",
    "separate_room",
    "room_name",
)
# ... and the run's.
RUN_FIELDS = ("status", "start", "end", "launched_at", "ended_at", "whole_fallback", "occurrence")
# Run statuses after which nothing changes any more: the stream ends.
OVER = ("ended", "missed", "failed")
_DIRTY = "vcorch.live_feed.dirty"


class TooManyStreams(DomainError):
    """The caller follows as many live streams as one account may at once."""

    code = "too_many_streams"


@dataclass(frozen=True)
class FeedPolicy:
    poll_seconds: float = 1.0
    """The longest a change written by another process waits before followers see it."""
    heartbeat_seconds: float = 15.0
    """A comment line this often keeps proxies from closing a quiet stream; the token is
    checked again each time, so an expired or revoked token ends the stream this late."""
    per_user: int = 4
    """Streams one account may hold at once (tabs, screens)."""
    settle_seconds: float = 0.05
    """After being told, wait this long (the commit finishing) and read once for a burst."""
    write_timeout_seconds: float = 10.0
    """A follower that takes longer than this to take one message is dropped."""


@dataclass(frozen=True)
class Scope:
    """What one follower may see and do in one meeting."""

    whole: bool
    """Sees the organiser's unit: every site and the incidents."""
    visible: frozenset[int]
    """The site ids it sees (every site when ``whole``)."""
    controls: bool
    """May start, extend and end the meeting."""
    acts_on: frozenset[int]
    """The site ids it may redial, mute, drop and give a browser link."""


def scope_of(who: Principal, organizer_path: str, site_paths: dict[int, str]) -> Scope:
    """The rules of ``live.py`` as data: who sees the organiser's unit sees every site; the
    organiser's secretariat and admins act on every site, operators and admins on their
    units' sites."""
    whole = who.sees(organizer_path)
    visible = frozenset(site_id for site_id, path in site_paths.items() if whole or who.sees(path))
    controls = whole and who.role in CONTROLLERS
    acts_on = frozenset(
        site_id
        for site_id, path in site_paths.items()
        if controls or (who.role in (Role.ADMIN, Role.OPERATOR) and who.sees(path))
    )
    return Scope(whole=whole, visible=visible, controls=controls, acts_on=acts_on)


def progress(sites: list[dict[str, Any]]) -> dict[str, int]:
    """How far the launch is: sites connected of all sites shown, and each state's count."""
    counts: dict[str, int] = {}
    for site in sites:
        counts[site["state"]] = counts.get(site["state"], 0) + 1
    return {"connected": counts.get("connected", 0), "total": len(sites), **counts}


def scoped(view: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """The live view as this follower may see it, with what it may do and the progress."""
    sites = [
        {**site, "actions": site["site_id"] in scope.acts_on}
        for site in view["sites"]
        if site["site_id"] in scope.visible
    ]
    shown_bridges = {site["bridge"] for site in sites}
    return {
        **view,
        "sites": sites,
        "bridges": view["bridges"]
        if scope.whole
        else [b for b in view["bridges"] if b["name"] in shown_bridges],
        "incidents": view["incidents"] if scope.whole else [],
        "controls": scope.controls,
        "progress": progress(sites),
    }


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[tuple[str, Any]]:
    """The messages that take a follower from ``before`` to ``after`` (both scoped).

    A first view, another run (the next occurrence, a start) or a site gone: the whole view
    again (``snapshot``).  Otherwise a ``site`` message per site whose shown fields changed
    or that is new, and one ``run`` message when the run's fields or the progress changed."""
    if (
        before is None
        or before["run_id"] != after["run_id"]
        or before["controls"] != after["controls"]
    ):
        return [("snapshot", after)]
    old = {site["site_id"]: site for site in before["sites"]}
    if set(old) - {site["site_id"] for site in after["sites"]}:
        return [("snapshot", after)]
    out: list[tuple[str, Any]] = []
    for site in after["sites"]:
        was = old.get(site["site_id"])
        if was is None or any(was.get(f) != site.get(f) for f in (*SITE_FIELDS, "actions")):
            out.append(("site", site))
    run_changed = any(before.get(f) != after.get(f) for f in RUN_FIELDS)
    if (
        run_changed
        or before["progress"] != after["progress"]
        or before["incidents"] != after["incidents"]
        or before["bridges"] != after["bridges"]
    ):
        out.append(
            (
                "run",
                {
                    **{f: after.get(f) for f in ("meeting_id", "run_id", *RUN_FIELDS)},
                    "progress": after["progress"],
                    "bridges": after["bridges"],
                    "incidents": after["incidents"],
                },
            )
        )
    return out


def sse(kind: str, data: Any, seq: int) -> str:
    """One server-sent event: ``id``, ``event`` and one ``data`` line of JSON."""
    return f"id: {seq}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@dataclass
class _Follower:
    who: Principal
    meeting_id: int
    pending: dict[str, Any] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    ended: str | None = None

    def offer(self, view: dict[str, Any]) -> None:
        self.pending = view  # the newest replaces an unsent one: bounded by construction
        self.ready.set()

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
        self.ready.set()


@dataclass
class _Meeting:
    """The watcher of one followed meeting."""

    meeting_id: int
    followers: list[_Follower] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    organizer_path: str = "/"
    site_paths: dict[int, str] = field(default_factory=dict)
    view: dict[str, Any] | None = None


class LiveFeed:
    """The watchers of the followed meetings of this process and their followers."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: LiveService,
        policy: FeedPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._live = live
        self.policy = policy or FeedPolicy()
        self._meetings: dict[int, _Meeting] = {}
        self._per_user: dict[tuple[str, int], int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._engine: AsyncEngine | None = None
        self.reads = 0  # views read, all meetings together (tests and metrics)

    # -- being told -----------------------------------------------------------------------

    def changed(self) -> None:
        """Something of a run changed: every watcher reads again (after ``settle``)."""
        if not self._meetings or self._loop is None:
            return
        for watched in list(self._meetings.values()):
            self._loop.call_soon_threadsafe(watched.wake.set)

    def listen_to(self, engine: AsyncEngine) -> None:
        """Be told of every write to a run's tables committed through ``engine``."""
        if self._engine is not None:
            return
        sync = engine.sync_engine
        event.listen(sync, "after_cursor_execute", self._saw_statement)
        event.listen(sync, "commit", self._saw_commit)
        event.listen(sync, "rollback", self._saw_rollback)
        self._engine = engine

    def _saw_statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        head = statement.lstrip()[:6].upper()
        if head in WRITES and any(table in statement for table in RUN_TABLES):
            conn.info[_DIRTY] = True

    def _saw_commit(self, conn: Any) -> None:
        if conn.info.pop(_DIRTY, False):
            self.changed()

    @staticmethod
    def _saw_rollback(conn: Any) -> None:
        conn.info.pop(_DIRTY, None)

    # -- following ------------------------------------------------------------------------

    async def _paths(self, meeting_id: int, run_id: int | None) -> tuple[str, dict[int, str]]:
        """The organiser's unit path and each shown site's unit path, by the view's site id."""
        async with self._sessions() as session:
            meeting = await session.get(Meeting, meeting_id)
            organizer = await session.get(Unit, meeting.organizer_unit_id) if meeting else None
            paths: dict[int, str] = {}
            if run_id is not None:
                rows = await session.execute(
                    select(RunSite.meeting_site_id, RunSite.room_id, Unit.path)
                    .join(Unit, Unit.id == RunSite.unit_id)
                    .where(RunSite.run_id == run_id)
                )
                for site_id, room_id, path in rows:
                    paths[site_id if site_id is not None else -room_id] = path
            else:
                booked = await session.execute(
                    select(MeetingSite.id, Unit.path)
                    .join(Room, Room.id == MeetingSite.room_id)
                    .join(Unit, Unit.id == Room.unit_id)
                    .where(MeetingSite.meeting_id == meeting_id, MeetingSite.approval == ACCEPTED)
                )
                paths = {site_id: path for site_id, path in booked}
                if meeting is not None and meeting.host_room_id is not None:
                    host = await session.execute(
                        select(Unit.path)
                        .join(Room, Room.unit_id == Unit.id)
                        .where(Room.id == meeting.host_room_id)
                    )
                    for (path,) in host:
                        paths.setdefault(-meeting.host_room_id, path)
        return (organizer.path if organizer else "/"), paths

    async def _read(self, watched: _Meeting) -> dict[str, Any]:
        view = await self._live.live(SYSTEM_ACTOR.principal, watched.meeting_id)
        self.reads += 1
        shown = {site["site_id"] for site in view["sites"]}
        if (
            watched.view is None
            or watched.view["run_id"] != view["run_id"]
            or not shown <= set(watched.site_paths)
        ):
            watched.organizer_path, watched.site_paths = await self._paths(
                watched.meeting_id, view["run_id"]
            )
        watched.view = view
        return view

    def _scope(self, watched: _Meeting, who: Principal) -> Scope:
        return scope_of(who, watched.organizer_path, watched.site_paths)

    async def follow(self, who: Principal, meeting_id: int) -> _Follower:
        """Start following; raises ``NotFound`` for a meeting ``who`` may not read and
        :class:`TooManyStreams` beyond ``per_user`` streams (before any answer is sent)."""
        await self._live.live(who, meeting_id)  # the live view's own read rule
        if self._closed:
            raise TooManyStreams("the service is stopping")
        key = (who.kind, who.id)
        if self._per_user.get(key, 0) >= self.policy.per_user:
            raise TooManyStreams(
                f"at most {self.policy.per_user} live streams at once per account; "
                "close another live room first"
            )
        self._per_user[key] = self._per_user.get(key, 0) + 1
        self._loop = asyncio.get_running_loop()
        follower = _Follower(who, meeting_id)
        watched = self._meetings.get(meeting_id)
        if watched is None:
            watched = self._meetings[meeting_id] = _Meeting(meeting_id)
        watched.followers.append(follower)
        if watched.view is not None:
            follower.offer(scoped(watched.view, self._scope(watched, who)))
        if watched.task is None or watched.task.done():
            watched.task = asyncio.create_task(
                self._watch(watched), name=f"live feed of meeting {meeting_id}"
            )
        watched.wake.set()
        return follower

    def unfollow(self, follower: _Follower) -> None:
        key = (follower.who.kind, follower.who.id)
        left = self._per_user.get(key, 1) - 1
        if left > 0:
            self._per_user[key] = left
        else:
            self._per_user.pop(key, None)
        watched = self._meetings.get(follower.meeting_id)
        if watched is None:
            return
        with contextlib.suppress(ValueError):
            watched.followers.remove(follower)
        if not watched.followers:
            self._meetings.pop(follower.meeting_id, None)
            if watched.task is not None:
                watched.task.cancel()

    async def _watch(self, watched: _Meeting) -> None:
        """Read, hand out, wait to be told (or the poll); until nobody follows."""
        failures = 0
        while watched.followers:
            try:
                view = await self._read(watched)
                failures = 0
            except VcorchError:  # the meeting is gone (deleted): tell and stop
                for follower in list(watched.followers):
                    follower.end("gone")
                return
            except Exception:
                failures += 1
                log.warning("live feed of meeting %s: reading failed", watched.meeting_id)
                await asyncio.sleep(min(self.policy.poll_seconds * 2**failures, 30.0))
                continue
            over = view["run_id"] is not None and view["status"] in OVER
            for follower in list(watched.followers):
                follower.offer(scoped(view, self._scope(watched, follower.who)))
                if over:
                    follower.end("over")
            if over:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watched.wake.wait(), self.policy.poll_seconds)
            if watched.wake.is_set():
                watched.wake.clear()
                await asyncio.sleep(self.policy.settle_seconds)
                watched.wake.clear()

    async def stream(
        self,
        follower: _Follower,
        recheck: Callable[[], Awaitable[Principal]],
    ) -> AsyncIterator[str]:
        """The follower's server-sent events: the view first, then its changes, a comment
        line every ``heartbeat_seconds`` (when the token is checked again), an ``end``
        event with the reason when it stops: the run is over, the token no longer valid,
        the service stopping."""
        loop = asyncio.get_running_loop()
        seq = 0
        sent: dict[str, Any] | None = None
        checked = loop.time()
        yield f"retry: {int(self.policy.poll_seconds * 3000)}\n\n"
        while True:
            beat = False
            try:
                await asyncio.wait_for(follower.ready.wait(), self.policy.heartbeat_seconds)
            except TimeoutError:
                beat = True
            if loop.time() - checked >= self.policy.heartbeat_seconds:
                checked = loop.time()
                try:
                    again = await recheck()
                except VcorchError:
                    follower.end("token")
                else:
                    if (again.role, again.unit_path) != (follower.who.role, follower.who.unit_path):
                        follower.end("token")
            if beat and follower.ended is None:
                yield ": ping\n\n"
                continue
            follower.ready.clear()
            view, follower.pending = follower.pending, None
            if view is not None:
                for kind, data in changes(sent, view):
                    seq += 1
                    yield sse(kind, data, seq)
                sent = view
            if follower.ended is not None:
                seq += 1
                yield sse("end", {"reason": follower.ended}, seq)
                return

    async def close(self) -> None:
        """The service is stopping: every stream ends now, nobody new may follow."""
        self._closed = True
        for watched in list(self._meetings.values()):
            for follower in list(watched.followers):
                follower.end("shutdown")
            if watched.task is not None:
                watched.task.cancel()
        self.stop_listening()

    def stop_listening(self) -> None:
        """No longer be told by the engine (the poll alone then brings changes)."""
        if self._engine is not None:
            sync = self._engine.sync_engine
            for name, fn in (
                ("after_cursor_execute", self._saw_statement),
                ("commit", self._saw_commit),
                ("rollback", self._saw_rollback),
            ):
                with contextlib.suppress(Exception):
                    event.remove(sync, name, fn)
            self._engine = None

    def following(self) -> int:
        """Streams open now in this process."""
        return sum(len(w.followers) for w in self._meetings.values())
