"""The arithmetic of the built-in bridge, free of any network code (and tested alone).

Audio is mixed at 48 kHz, 20 ms ticks.  Each tick takes at most one frame from every
participant, sums them once, and gives each listener the sum minus its own frame: one
pass over the inputs plus one subtraction per listener, instead of a sum per listener.
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
    """One tick's output: an interleaved stereo frame per listener, and each input's level."""

    outputs: dict[str, Pcm]
    levels: dict[str, float]  # RMS of the participant's frame this tick (0 when silent)


def rms(pcm: Pcm) -> float:
    samples = pcm.astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


def mix_tick(
    inputs: Mapping[str, Pcm | None], listeners: Iterable[str], muted: frozenset[str]
) -> TickResult:
    """Mix one tick.  ``inputs`` maps a participant to its frame (``None``: nothing came);
    a muted participant is heard by nobody.  Outputs are stereo, interleaved, int16."""
    contributions: dict[str, npt.NDArray[np.int32]] = {}
    levels: dict[str, float] = {}
    for participant, pcm in inputs.items():
        if pcm is None:
            levels[participant] = 0.0
            continue
        levels[participant] = rms(pcm)
        if participant not in muted:
            contributions[participant] = pcm.astype(np.int32)
    total: npt.NDArray[np.int32]
    if contributions:
        total = np.sum(np.stack(list(contributions.values())), axis=0, dtype=np.int32)
    else:
        total = np.zeros(FRAME_SAMPLES, dtype=np.int32)
    outputs: dict[str, Pcm] = {}
    for listener in listeners:
        own = contributions.get(listener)
        mono = total - own if own is not None else total
        clipped = np.clip(mono, -32768, 32767).astype(np.int16)
        outputs[listener] = np.repeat(clipped, 2)
    return TickResult(outputs=outputs, levels=levels)


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
