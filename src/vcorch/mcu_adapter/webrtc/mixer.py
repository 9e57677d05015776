"""The arithmetic of the built-in bridge, free of any network code (and tested alone).

Audio is mixed at 48 kHz mono, 20 ms ticks.  Each tick takes at most one frame from every
participant; only the few active speakers (``ActiveSpeakers``) are summed.  Everyone who is
not mixed hears the same sum, so it is encoded once for all of them; each active speaker
hears the sum minus its own frame (a personal encode, for at most ``limit`` speakers).
The active speaker is the loudest participant over a short window, with hysteresis so the
picture does not flicker between two people talking at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
TICK_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
# A participant's inbound queue beyond this many frames is trimmed: latency is worse than a
# dropped 20 ms (the sender's clock runs a little fast, or a burst arrived after a stall).
MAX_QUEUED_FRAMES = 6
TRIM_TO_FRAMES = 2

Pcm = npt.NDArray[np.int16]


class InboundAudio:
    """Decoded 20 ms mono frames of one participant, waiting for the next tick."""

    def __init__(self) -> None:
        self._frames: deque[Pcm] = deque()
        self.dropped = 0

    def push(self, pcm: Pcm) -> None:
        self._frames.append(pcm)
        if len(self._frames) > MAX_QUEUED_FRAMES:
            while len(self._frames) > TRIM_TO_FRAMES:
                self._frames.popleft()
                self.dropped += 1

    def pop(self) -> Pcm | None:
        return self._frames.popleft() if self._frames else None

    def __len__(self) -> int:
        return len(self._frames)


@dataclass
class TickResult:
    """One tick's output, mono int16 at 48 kHz.

    ``shared`` is what every listener who is not mixed hears (one encode serves them all);
    ``personal`` gives each mixed participant the mix without its own voice.  ``levels`` is
    each input's RMS this tick (0 when it sent nothing).
    """

    shared: Pcm
    personal: dict[str, Pcm]
    levels: dict[str, float]

    def for_listener(self, participant: str) -> Pcm:
        return self.personal.get(participant, self.shared)


def rms(pcm: Pcm) -> float:
    samples = pcm.astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


def levels_of(inputs: Mapping[str, Pcm | None]) -> dict[str, float]:
    return {who: (rms(pcm) if pcm is not None else 0.0) for who, pcm in inputs.items()}


def mix_tick(
    inputs: Mapping[str, Pcm | None],
    mixed: Iterable[str],
    levels: Mapping[str, float] | None = None,
) -> TickResult:
    """Mix one tick of the participants in ``mixed`` (the active speakers, already without
    the muted): their frames are summed once; each of them gets the sum minus its own frame,
    everyone else the sum itself.  Sums clip instead of wrapping."""
    levels = dict(levels) if levels is not None else levels_of(inputs)
    contributions = {
        who: pcm.astype(np.int32) for who in mixed if (pcm := inputs.get(who)) is not None
    }
    total: npt.NDArray[np.int32]
    if contributions:
        total = np.sum(np.stack(list(contributions.values())), axis=0, dtype=np.int32)
    else:
        total = np.zeros(FRAME_SAMPLES, dtype=np.int32)
    personal = {
        who: np.clip(total - own, -32768, 32767).astype(np.int16)
        for who, own in contributions.items()
    }
    shared = np.clip(total, -32768, 32767).astype(np.int16)
    return TickResult(shared=shared, personal=personal, levels=levels)


@dataclass
class ActiveSpeakers:
    """Who is mixed: at most ``limit`` participants whose level is above ``threshold``.

    As MCUs do, only the few who speak are mixed, so all the others hear one and the same
    mix.  A participant stays mixed ``hangover_ticks`` after falling quiet (pauses between
    words must not cut it off); a louder newcomer takes the place of one that has gone
    quiet.  Muted participants are never mixed.
    """

    limit: int = 3
    threshold: float = 150.0  # about -47 dBFS: above a quiet room, below soft speech
    hangover_ticks: int = 25  # 500 ms
    _quiet_for: dict[str, int] = field(default_factory=dict)

    @property
    def mixed(self) -> frozenset[str]:
        return frozenset(self._quiet_for)

    def forget(self, participant: str) -> None:
        self._quiet_for.pop(participant, None)

    def update(self, levels: Mapping[str, float], muted: frozenset[str]) -> frozenset[str]:
        for who in list(self._quiet_for):
            level = levels.get(who)
            if level is None or who in muted:
                del self._quiet_for[who]
            elif level >= self.threshold:
                self._quiet_for[who] = 0
            elif self._quiet_for[who] >= self.hangover_ticks:
                del self._quiet_for[who]
            else:
                self._quiet_for[who] += 1
        speaking = sorted(
            (
                (level, who)
                for who, level in levels.items()
                if level >= self.threshold and who not in muted and who not in self._quiet_for
            ),
            reverse=True,
        )
        for _level, who in speaking:
            if len(self._quiet_for) < self.limit:
                self._quiet_for[who] = 0
                continue
            # Full: the one quiet the longest gives way to someone who speaks now.
            quietest = max(self._quiet_for.items(), key=lambda item: item[1])
            if quietest[1] == 0:
                break
            del self._quiet_for[quietest[0]]
            self._quiet_for[who] = 0
        return self.mixed


@dataclass
class SpeakerDetector:
    """Who speaks now: the loudest smoothed level above ``threshold`` (RMS, int16 scale),
    changing only after the challenger led for ``hold_ticks`` ticks in a row."""

    threshold: float = 300.0  # about -40 dBFS: above room noise, below quiet speech
    smoothing: float = 0.15  # weight of the newest tick in the moving level
    hold_ticks: int = 15  # 300 ms
    current: str | None = None
    previous: str | None = None
    _levels: dict[str, float] = field(default_factory=dict)
    _challenger: str | None = None
    _lead: int = 0

    def forget(self, participant: str) -> None:
        self._levels.pop(participant, None)
        if self.current == participant:
            self.current = self.previous if self.previous != participant else None
            self.previous = None
        if self.previous == participant:
            self.previous = None
        if self._challenger == participant:
            self._challenger, self._lead = None, 0

    def update(self, levels: Mapping[str, float], muted: frozenset[str] = frozenset()) -> bool:
        """Feed one tick's levels; True when the speaker changed."""
        for participant, level in levels.items():
            heard = 0.0 if participant in muted else level
            before = self._levels.get(participant, 0.0)
            self._levels[participant] = before + self.smoothing * (heard - before)
        loudest = max(self._levels.items(), key=lambda item: item[1], default=None)
        if loudest is None or loudest[1] < self.threshold:
            self._challenger, self._lead = None, 0
            return False
        name, level = loudest
        if name == self.current:
            self._challenger, self._lead = None, 0
            return False
        if self.current is None or self._levels.get(self.current, 0.0) < self.threshold:
            return self._switch(name)
        if name != self._challenger:
            self._challenger, self._lead = name, 0
        self._lead += 1
        if self._lead >= self.hold_ticks:
            return self._switch(name)
        return False

    def _switch(self, name: str) -> bool:
        self.previous, self.current = self.current, name
        self._challenger, self._lead = None, 0
        return True

    def level(self, participant: str) -> float:
        return self._levels.get(participant, 0.0)
