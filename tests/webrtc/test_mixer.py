"""The built-in bridge's arithmetic: mix-minus, muting, the active speaker, picture sizes."""

from __future__ import annotations

import numpy as np

from vcorch.mcu_adapter.webrtc.media import fit_within
from vcorch.mcu_adapter.webrtc.mixer import (
    FRAME_SAMPLES,
    MAX_QUEUED_FRAMES,
    TRIM_TO_FRAMES,
    InboundAudio,
    SpeakerDetector,
    mix_tick,
)


def constant(value: int) -> np.ndarray:
    return np.full(FRAME_SAMPLES, value, dtype=np.int16)


def left(stereo: np.ndarray) -> np.ndarray:
    return stereo[::2]


def test_each_listener_gets_everyone_but_itself_in_stereo() -> None:
    inputs = {"a": constant(100), "b": constant(20), "c": constant(3), "d": None}
    result = mix_tick(inputs, ["a", "b", "c", "d"], frozenset())
    assert {k: int(left(v)[0]) for k, v in result.outputs.items()} == {
        "a": 23,
        "b": 103,
        "c": 120,
        "d": 123,  # sent nothing this tick: hears everyone
    }
    assert all(v.size == 2 * FRAME_SAMPLES for v in result.outputs.values())
    assert result.levels["a"] == 100.0 and result.levels["d"] == 0.0


def test_a_muted_participant_is_heard_by_nobody_but_still_hears() -> None:
    inputs = {"a": constant(100), "b": constant(20)}
    result = mix_tick(inputs, ["a", "b"], frozenset({"a"}))
    assert int(left(result.outputs["b"])[0]) == 0
    assert int(left(result.outputs["a"])[0]) == 20


def test_loud_sums_clip_instead_of_wrapping() -> None:
    inputs = {"a": constant(30_000), "b": constant(30_000), "c": constant(-30_000)}
    result = mix_tick(inputs, ["c"], frozenset())
    assert int(left(result.outputs["c"])[0]) == 32_767


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


def test_the_fast_audio_level_is_aiortcs_own() -> None:
    from av import AudioFrame

    from vcorch.mcu_adapter.webrtc.media import AIORTC_AUDIO_LEVEL, audio_level_dbov

    assert AIORTC_AUDIO_LEVEL.__module__ == "aiortc.rtp"
    generator = np.random.default_rng(7)
    for layout, scale in (("mono", 30_000), ("stereo", 3_000), ("stereo", 30), ("mono", 0)):
        channels = 2 if layout == "stereo" else 1
        pcm = (generator.standard_normal(FRAME_SAMPLES * channels) * scale).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = 48_000
        assert audio_level_dbov(frame) == AIORTC_AUDIO_LEVEL(frame), (layout, scale)
