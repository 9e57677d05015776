"""What participants send, read as the mixer and the speaker picture want it."""

from __future__ import annotations

import contextlib
import time

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler, VideoFrame

from vcorch.mcu_adapter.webrtc.media import scale_frame
from vcorch.mcu_adapter.webrtc.mixer import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
)
from vcorch.mcu_adapter.webrtc.options import MediaLimits
from vcorch.mcu_adapter.webrtc.room import Room, Session


async def read_audio(session: Session, track: MediaStreamTrack) -> None:
    # Whatever the codec's rate and layout, frames become 20 ms of 48 kHz mono.
    resampler = AudioResampler(
        format="s16", layout="mono", rate=SAMPLE_RATE, frame_size=FRAME_SAMPLES
    )
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            if not isinstance(frame, AudioFrame):
                continue
            for piece in resampler.resample(frame):
                pcm = piece.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                if pcm.size == FRAME_SAMPLES:
                    session.audio_in.push(pcm)


async def read_video(
    room: Room, session: Session, track: MediaStreamTrack, limits: MediaLimits
) -> None:
    # Every frame must be read (aiortc decodes it anyway, and an unread queue grows);
    # only pictures someone is shown are scaled.  The gap is half a picture interval: the
    # senders' pictures arrive with jitter, and a stricter gap would skip every one that came
    # a little early (the encoder keeps the rate to video_fps).
    interval = 0.5 / limits.video_fps
    source = session.video_in
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            if not isinstance(frame, VideoFrame):
                continue
            now = time.monotonic()
            if now - source.scaled_at < interval or not room.watched(session.participant_id):
                continue
            source.latest = scale_frame(
                frame,
                limits.video_width,
                limits.video_height,
                now - room.started,
            )
            source.seq += 1
            source.scaled_at = now
