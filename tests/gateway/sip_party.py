"""A real SIP party for the gateway's tests: baresip answering every call and playing a tone.

baresip 1.0 (Debian ``baresip-core``): ``aufile`` plays a WAV file as the call's sound (it
must be at the codec's rate, 8 kHz for G.711; it stops at its end, so the file is long),
``sndfile`` writes what the call hears to ``dump-<call>-dec.wav`` under ``snd_path``.  Its
one account auto-answers; baresip matches an incoming request by its user, so the party's
URI is ``sip:<user>@127.0.0.1:<port>`` with ``user`` the account's.
"""

from __future__ import annotations

import contextlib
import math
import struct
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.monitoring.sip_servers import _start, _stop, baresip_ports
from tests.services import require_binary

PARTY_TONE_HZ = 1000
SAMPLE_RATE = 8000

CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{port}
net_interface 127.0.0.1
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
{sndfile}module_app account.so
audio_source aufile,{tone}
audio_player aufile,/dev/null
{snd_path}rtp_ports {rtp_low}-{rtp_high}
call_max_calls {max_calls}
"""


def write_tone(path: Path, hz: float, seconds: float, rate: int = SAMPLE_RATE) -> None:
    """A mono 16-bit WAV of a sine at ``hz``, -12 dBFS."""
    amplitude = 32767 * 0.25
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * hz * n / rate)))
        for n in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def dominant_hz(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """The strongest frequency of a signal and its share of the signal's energy."""
    signal = samples.astype(np.float64)
    signal = signal - signal.mean()
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    peak = int(np.argmax(spectrum[1:]) + 1)
    near = spectrum[max(0, peak - 3) : peak + 4].sum()
    total = spectrum.sum() or 1.0
    return float(freqs[peak]), float(near / total)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as source:
        rate = source.getframerate()
        raw = source.readframes(source.getnframes())
        channels = source.getnchannels()
    samples = np.frombuffer(raw, dtype="<i2")
    if channels > 1:
        samples = samples[::channels]
    return samples, rate


@dataclass(frozen=True)
class SipParty:
    port: int
    folder: Path
    user: str = "bot"

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@127.0.0.1:{self.port}"

    def heard(self) -> list[Path]:
        """The WAV files of what each call heard (decoded), newest last."""
        return sorted(self.folder.glob("dumps/dump-*-dec.wav"), key=lambda p: p.stat().st_mtime)

    def log(self) -> str:
        return (self.folder / "baresip.log").read_text(errors="replace")


@contextlib.contextmanager
def sip_party(
    folder: Path,
    *,
    rtp_low: int = 31000,
    seconds: float = 120.0,
    max_calls: int = 4,
    dumps: bool = True,
) -> Iterator[SipParty]:
    """A started baresip on a free port; stopped (its process group) at the end.

    ``dumps``: write what each call hears (the ``sndfile`` module); ``max_calls``: how
    many calls it answers at once."""
    binary = require_binary("baresip")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dumps").mkdir(exist_ok=True)
    tone = folder / "tone.wav"
    write_tone(tone, PARTY_TONE_HZ, seconds)
    (folder / "accounts").write_text(
        "<sip:bot@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU,PCMA\n",
        encoding="utf-8",
    )

    def prepare(port: int) -> None:
        (folder / "config").write_text(
            CONFIG.format(
                port=port,
                tone=tone,
                sndfile="module sndfile.so\n" if dumps else "",
                snd_path=f"snd_path {folder / 'dumps'}\n" if dumps else "",
                rtp_low=rtp_low,
                rtp_high=rtp_low + max(99, 2 * max_calls + 10),
                max_calls=max_calls,
            ),
            encoding="utf-8",
        )

    process, port = _start(
        [binary, "-f", str(folder)], baresip_ports, prepare, folder / "baresip.log"
    )
    try:
        yield SipParty(port, folder)
    finally:
        _stop(process)
