"""The built-in bridge's arithmetic: who is mixed, the shared mix and mix-minus, the active
speaker, picture sizes."""

from __future__ import annotations

import numpy as np

from vcorch.mcu_adapter.webrtc.media import fit_within
from vcorch.mcu_adapter.webrtc.mixer import (
    FRAME_SAMPLES,
    MAX_QUEUED_FRAMES,
    TRIM_TO_FRAMES,
    ActiveSpeakers,
    InboundAudio,
    SpeakerDetector,
    mix_tick,
)


def constant(value: int) -> np.ndarray:
    return np.full(FRAME_SAMPLES, value, dtype=np.int16)


def test_speakers_hear_the_others_and_everyone_else_hears_them_all() -> None:
    inputs = {"a": constant(100), "b": constant(20), "c": constant(3), "d": None}
    result = mix_tick(inputs, ["a", "b"])
    assert {k: int(v[0]) for k, v in result.personal.items()} == {"a": 20, "b": 100}
    # c is not mixed (it is not among the speakers) and d sent nothing: both hear the
    # one shared mix, which is what makes one encode enough for all of them.
    assert int(result.shared[0]) == 120
    assert result.for_listener("c") is result.shared and result.for_listener("d") is result.shared
    assert all(v.size == FRAME_SAMPLES for v in [result.shared, *result.personal.values()])
    assert result.levels["a"] == 100.0 and result.levels["d"] == 0.0


def test_a_speaker_that_sent_nothing_this_tick_hears_the_shared_mix() -> None:
    result = mix_tick({"a": constant(100), "b": None}, ["a", "b"])
    assert set(result.personal) == {"a"}
    assert int(result.for_listener("b")[0]) == 100


def test_loud_sums_clip_instead_of_wrapping() -> None:
    inputs = {"a": constant(30_000), "b": constant(30_000), "c": constant(-30_000)}
    result = mix_tick(inputs, ["a", "b"])
    assert int(result.shared[0]) == 32_767
    assert int(result.personal["a"][0]) == 30_000


LOUD, SOFT, QUIET = 2000.0, 400.0, 10.0


def test_at_most_three_speakers_are_mixed_and_the_muted_never() -> None:
    active = ActiveSpeakers(limit=3, threshold=150.0, hangover_ticks=2)
    levels = {"a": LOUD, "b": SOFT, "c": SOFT, "d": LOUD, "e": QUIET}
    assert active.update(levels, frozenset({"d"})) == {"a", "b", "c"}
    # e is below the threshold: never mixed, even when a place is free.
    active.forget("c")
    assert active.update({"a": LOUD, "b": SOFT, "e": QUIET}, frozenset()) == {"a", "b"}


def test_a_pause_keeps_a_speaker_then_a_newcomer_takes_the_quiet_ones_place() -> None:
    active = ActiveSpeakers(limit=2, threshold=150.0, hangover_ticks=2)
    rows = [
        # (levels this tick, who is mixed after it)
        ({"a": LOUD, "b": SOFT, "c": QUIET}, {"a", "b"}),
        ({"a": QUIET, "b": SOFT, "c": QUIET}, {"a", "b"}),  # a pauses: kept
        ({"a": QUIET, "b": SOFT, "c": LOUD}, {"c", "b"}),  # c speaks: takes quiet a's place
        ({"a": QUIET, "b": QUIET, "c": LOUD}, {"c", "b"}),
        ({"a": QUIET, "b": QUIET, "c": LOUD}, {"c", "b"}),
        ({"a": QUIET, "b": QUIET, "c": LOUD}, {"c"}),  # b was quiet longer than the hangover
        ({"c": LOUD}, {"c"}),  # a left
    ]
    for n, (levels, expected) in enumerate(rows):
        assert active.update(levels, frozenset()) == expected, n


def test_a_speaker_who_is_muted_or_leaves_is_no_longer_mixed() -> None:
    active = ActiveSpeakers()
    assert active.update({"a": LOUD, "b": LOUD}, frozenset()) == {"a", "b"}
    assert active.update({"a": LOUD, "b": LOUD}, frozenset({"a"})) == {"b"}
    active.forget("b")
    assert active.mixed == frozenset()


def test_a_late_burst_is_trimmed_to_keep_latency_low() -> None:
    queue = InboundAudio()
    for _ in range(MAX_QUEUED_FRAMES + 1):
        queue.push(constant(1))
    assert len(queue) == TRIM_TO_FRAMES
    assert queue.dropped == MAX_QUEUED_FRAMES + 1 - TRIM_TO_FRAMES


def test_the_speaker_changes_only_after_the_challenger_leads_a_while() -> None:
    detector = SpeakerDetector(hold_ticks=5, smoothing=1.0)
    assert detector.update({"a": 1000.0, "b": 0.0})
    assert detector.current == "a"
    # b talks louder for fewer ticks than the hold: no switch (no flicker).
    for _ in range(4):
        assert not detector.update({"a": 900.0, "b": 2000.0})
    assert not detector.update({"a": 900.0, "b": 0.0})
    assert detector.current == "a"
    changed = [detector.update({"a": 900.0, "b": 2000.0}) for _ in range(5)]
    assert changed == [False, False, False, False, True]
    assert (detector.current, detector.previous) == ("b", "a")
    # Silence keeps the last speaker on screen.
    for _ in range(20):
        detector.update({"a": 0.0, "b": 0.0})
    assert detector.current == "b"
    detector.forget("b")
    assert detector.current == "a" and detector.previous is None


def test_quiet_rooms_have_no_speaker() -> None:
    detector = SpeakerDetector()
    for _ in range(50):
        detector.update({"a": 50.0, "b": 80.0})
    assert detector.current is None


def test_pictures_fit_the_cap_keeping_their_shape() -> None:
    assert fit_within(1280, 720, 640, 360) == (640, 360)
    assert fit_within(640, 480, 640, 360) == (480, 360)
    assert fit_within(320, 240, 640, 360) == (320, 240)  # never enlarged
    assert fit_within(1081, 1921, 640, 360) == (202, 360)  # portrait phone, even sizes
