"""The far side of the simulated bridge: an MCU that lives in the vcorch process.

It behaves like a networked MCU seen through its API: every call takes ``latency``, may
fail or hang at configured rates, and an operator (or a test) can take it down or make it
hang.  Calls it places ring for a while, then connect or ring out, and it reports joins
and leaves through ``on_event`` as a real bridge pushes CDRs.  Timers are asyncio tasks,
never threads, so thousands of calls cost little.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

log = logging.getLogger(__name__)

SimErrorCode = Literal[
    "down", "failure", "not_found", "capacity", "unknown_address", "refused", "bad_value"
]
# The layouts the simulated MCU shows (the vendor-neutral names: it has no vocabulary of
# its own to map them to).
SIM_LAYOUTS: tuple[str, ...] = ("speaker", "grid", "presentation", "automatic")


class SimMcuError(Exception):
    """What the simulated MCU answers instead of a result (its own vocabulary)."""

    def __init__(self, code: SimErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: SimErrorCode = code


@dataclass(frozen=True)
class SimSettings:
    latency: float = 0.02  # seconds per API call
    latency_jitter: float = 0.0  # extra 0..jitter seconds, uniform
    failure_rate: float = 0.0  # share of API calls answered with an error
    timeout_rate: float = 0.0  # share of API calls that never answer
    ports: int = 100
    answer_delay: float = 0.3  # ringing time of an endpoint that answers
    ring_timeout: float = 5.0  # ringing time of one that does not
    version: str = "sim-1.0"
    seed: int | None = None


DialKind = Literal["sip", "h323", "webrtc"]


@dataclass
class SimLeg:
    leg_id: str
    address: str
    kind: DialKind
    display_name: str
    site_id: str | None
    state: Literal["ringing", "connected"] = "ringing"
    muted: bool = False
    joined_at: datetime | None = None
    incoming: bool = False  # it called in (dial_in_call), nobody dialled it


@dataclass
class SimConference:
    conference_id: str
    key: str
    title: str
    legs: dict[str, SimLeg] = field(default_factory=dict)
    # Dial-in: the numeric conference id a room system types, and its PIN.
    number: str = ""
    pin: str = ""
    # In-call control state.
    layout: str = "automatic"
    locked: bool = False
    all_muted: bool = False
    message: str | None = None
    message_seconds: int = 0


@dataclass(frozen=True)
class SimEvent:
    kind: Literal["join", "leave"]
    conference_id: str
    leg: SimLeg
    at: datetime
    reason: str | None


Answers = Callable[[SimLeg], Awaitable[bool]]
OnEvent = Callable[[SimEvent], Awaitable[None]]


class SimulatedMcu:
    """State and behaviour of one simulated MCU. Not thread-safe; one event loop."""

    def __init__(
        self,
        settings: SimSettings,
        *,
        clock: Callable[[], datetime],
        answers: Answers,
        on_event: OnEvent | None = None,
    ) -> None:
        self.settings = settings
        self.down = False  # every call fails as if the host were unreachable
        self.hang = False  # every call waits for ever (the caller's timeout fires)
        self._clock = clock
        self._answers = answers
        self._on_event = on_event
        self._rng = random.Random(settings.seed)  # noqa: S311 -- drives simulation, not security
        self._conferences: dict[str, SimConference] = {}
        self._by_key: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._timers: set[asyncio.Task[None]] = set()
        self.api_calls = 0

    # -- the "network" -------------------------------------------------------------------

    async def _api(self) -> None:
        self.api_calls += 1
        delay = self.settings.latency
        if self.settings.latency_jitter:
            delay += self._rng.random() * self.settings.latency_jitter
        if delay > 0:
            await asyncio.sleep(delay)
        if self.down:
            raise SimMcuError("down", "host unreachable")
        if self.hang or (
            self.settings.timeout_rate and self._rng.random() < self.settings.timeout_rate
        ):
            await asyncio.Event().wait()  # never set: only the caller's timeout ends this
        if self.settings.failure_rate and self._rng.random() < self.settings.failure_rate:
            raise SimMcuError("failure", "internal error (simulated)")

    # -- API -------------------------------------------------------------------------------

    async def status(self) -> tuple[str, int, int]:
        """(version, ports total, ports in use)."""
        await self._api()
        return self.settings.version, self.settings.ports, self.ports_in_use()

    def ports_in_use(self) -> int:
        return sum(len(conference.legs) for conference in self._conferences.values())

    async def create(self, key: str, title: str) -> str:
        await self._api()
        existing = self._by_key.get(key)
        if existing is not None:
            return existing
        serial = next(self._ids)
        conference_id = f"sim-{serial}"
        self._conferences[conference_id] = SimConference(
            conference_id,
            key,
            title,
            number=str(7_000_000 + serial),
            pin=f"{secrets.randbelow(1_000_000):06d}",
        )
        self._by_key[key] = conference_id
        return conference_id

    async def end(self, conference_id: str) -> None:
        await self._api()
        conference = self._conferences.pop(conference_id, None)
        if conference is None:
            return
        self._by_key.pop(conference.key, None)
        for leg in list(conference.legs.values()):
            conference.legs.pop(leg.leg_id, None)
            await self._emit("leave", conference_id, leg, "conference ended")

    async def dial(
        self,
        conference_id: str,
        address: str,
        kind: DialKind,
        display_name: str,
        site_id: str | None,
    ) -> str:
        await self._api()
        conference = self._conference(conference_id)
        if self.ports_in_use() >= self.settings.ports:
            raise SimMcuError("capacity", f"all {self.settings.ports} ports in use")
        if not address.strip():
            raise SimMcuError("unknown_address", "empty address")
        leg = SimLeg(f"{conference_id}-p{next(self._ids)}", address, kind, display_name, site_id)
        conference.legs[leg.leg_id] = leg
        timer = asyncio.get_running_loop().create_task(self._ring(conference, leg))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)
        return leg.leg_id

    async def link(self, conference_id: str, address: str, display_name: str) -> str:
        """Call another MCU's conference (a cascade): the link is up at once."""
        await self._api()
        conference = self._conference(conference_id)
        if self.ports_in_use() >= self.settings.ports:
            raise SimMcuError("capacity", f"all {self.settings.ports} ports in use")
        if not address.strip():
            raise SimMcuError("unknown_address", "empty address")
        leg = SimLeg(
            f"{conference_id}-l{next(self._ids)}",
            address,
            "sip",
            display_name,
            None,
            state="connected",
            joined_at=self._clock(),
        )
        conference.legs[leg.leg_id] = leg
        return leg.leg_id

    async def legs(self, conference_id: str) -> list[SimLeg]:
        await self._api()
        return list(self._conference(conference_id).legs.values())

    async def drop(self, conference_id: str, leg_id: str) -> None:
        await self._api()
        leg = self._leg(conference_id, leg_id)
        del self._conferences[conference_id].legs[leg_id]
        await self._emit("leave", conference_id, leg, "disconnected by operator")

    async def hangup(self, leg_id: str) -> None:
        """The endpoint itself hangs up (not an API call: nothing the orchestrator asked)."""
        for conference in self._conferences.values():
            leg = conference.legs.pop(leg_id, None)
            if leg is not None:
                await self._emit("leave", conference.conference_id, leg, "remote hangup")
                return

    async def set_mute(self, conference_id: str, leg_id: str, muted: bool) -> None:
        await self._api()
        self._leg(conference_id, leg_id).muted = muted

    async def conference(self, conference_id: str) -> SimConference:
        """One conference as the MCU holds it (dial-in numbers, control state)."""
        await self._api()
        return self._conference(conference_id)

    def peek(self, conference_id: str) -> SimConference:
        return self._conference(conference_id)

    async def set_layout(self, conference_id: str, layout: str) -> None:
        await self._api()
        if layout not in SIM_LAYOUTS:
            raise SimMcuError("bad_value", f"no layout {layout!r}")
        self._conference(conference_id).layout = layout

    async def mute_all(self, conference_id: str, muted: bool) -> None:
        await self._api()
        conference = self._conference(conference_id)
        conference.all_muted = muted
        for leg in conference.legs.values():
            leg.muted = muted

    async def set_locked(self, conference_id: str, locked: bool) -> None:
        await self._api()
        self._conference(conference_id).locked = locked

    async def show_message(self, conference_id: str, text: str, seconds: int) -> None:
        await self._api()
        conference = self._conference(conference_id)
        conference.message = text
        conference.message_seconds = seconds

    async def dial_in_call(
        self, number: str, pin: str | None, address: str, display_name: str = ""
    ) -> str:
        """A room system calls the conference by its number and PIN (not an API call: the
        endpoint does it).  It is in at once, untagged (nobody dialled it), reported as a
        join; a wrong number, a wrong PIN or a locked conference refuses it."""
        conference = next((c for c in self._conferences.values() if c.number == number), None)
        if conference is None:
            raise SimMcuError("not_found", f"no conference numbered {number}")
        if conference.pin and pin != conference.pin:
            raise SimMcuError("refused", "wrong PIN")
        if conference.locked:
            raise SimMcuError("refused", "the conference is locked")
        if self.ports_in_use() >= self.settings.ports:
            raise SimMcuError("capacity", f"all {self.settings.ports} ports in use")
        leg = SimLeg(
            f"{conference.conference_id}-i{next(self._ids)}",
            address,
            "sip",
            display_name or address,
            None,
            state="connected",
            muted=conference.all_muted,
            joined_at=self._clock(),
            incoming=True,
        )
        conference.legs[leg.leg_id] = leg
        await self._emit("join", conference.conference_id, leg, None)
        return leg.leg_id

    # -- behaviour ------------------------------------------------------------------------

    async def _ring(self, conference: SimConference, leg: SimLeg) -> None:
        try:
            answers = await self._answers(leg)
        except Exception:  # an endpoint registry that fails means nobody picks up
            log.warning("simulated MCU: cannot tell whether %s answers", leg.address, exc_info=True)
            answers = False
        await asyncio.sleep(self.settings.answer_delay if answers else self.settings.ring_timeout)
        if conference.legs.get(leg.leg_id) is not leg:
            return  # dropped or ended while ringing
        if answers:
            leg.state = "connected"
            leg.joined_at = self._clock()
            await self._emit("join", conference.conference_id, leg, None)
        else:
            del conference.legs[leg.leg_id]
            await self._emit("leave", conference.conference_id, leg, "no answer")

    async def _emit(
        self, kind: Literal["join", "leave"], conference_id: str, leg: SimLeg, reason: str | None
    ) -> None:
        if self._on_event is not None:
            await self._on_event(SimEvent(kind, conference_id, leg, self._clock(), reason))

    def _conference(self, conference_id: str) -> SimConference:
        conference = self._conferences.get(conference_id)
        if conference is None:
            raise SimMcuError("not_found", f"no conference {conference_id}")
        return conference

    def _leg(self, conference_id: str, leg_id: str) -> SimLeg:
        leg = self._conference(conference_id).legs.get(leg_id)
        if leg is None:
            raise SimMcuError("not_found", f"no participant {leg_id}")
        return leg

    async def close(self) -> None:
        timers = list(self._timers)
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
