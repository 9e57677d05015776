"""What one core carries on the built-in WebRTC bridge: CPU per participant, and how many
audio-only and audio+video participants stay within real time.

    .venv/bin/python benchmarks/webrtc_bridge.py [--audio 2,3,4,6,8,10,12] [--video 2,3,4,5,6,8]
        [--seconds 5] [--pin] [--quick]

The bridge runs in a child process; its CPU time is read from /proc (every thread: aiortc
decodes in threads and encodes in an executor).  The participants are real aiortc peers in
this process, joined over HTTP (the bridge's ``join``, as WHIP does).  To keep the clients
cheap they send pre-encoded Opus (a tone) and, with video, pre-encoded VP8 (640x360, 15
frames a second); they decode what they receive, as a browser does.  ``--pin`` puts the
bridge on one CPU and the clients on the other (use it on a machine nobody else loads: on a
shared one, pinning measures the neighbours).

Each step joins N participants, lets them settle, then measures for ``--seconds``:

- ``bridge_cores``: the bridge's CPU seconds per wall second (1.0 = one whole core);
- ``late_ticks``: share of 20 ms mixing ticks that started more than 40 ms late (two
  frames: where a listener's jitter buffer starts to run dry);
- ``audio_rate_min``: audio frames the worst-served participant received per second (50 =
  all of them);
- ``cores_per_participant_full_rate``: CPU per participant, scaled up by the share of audio
  frames not delivered (a bridge starved by neighbours uses less CPU than it needs).

A step is *within real time* when late ticks stay under 2 % and every participant receives
at least 95 % of its audio frames.  What one core carries (``one_core_estimate``) is one core
divided by the median full-rate cost per participant; the largest N seen within real time in
the run, and a cost line fitted over the real-time steps, are reported beside it.

Baseline, same run: a bare aiortc echo (each connection sends its own received audio/video
back: one decode and one encode per participant, no mixing) with the same clients.  Prints
and writes JSON to benchmarks/results/webrtc_bridge.json.  Goal: the default caps
(VCORCH_WEBRTC_MAX_PARTICIPANTS / _MAX_PER_CONFERENCE) follow the audio+video figure, with
headroom.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import av
import numpy as np
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import BridgeContext, ConferenceSpec
from vcorch.mcu_adapter.webrtc import WebRtcBridge
from vcorch.mcu_adapter.webrtc.adapter import offered_addresses

LOOPBACK = ("127.0.0.1",)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_SECONDS = 2.5
LATE_LIMIT = 0.02
RATE_LIMIT = 0.95 * 50

# -- the server side (child process) -----------------------------------------------------


async def serve(mode: str) -> None:
    bridge = WebRtcBridge(
        BridgeConfig(
            name="bench",
            type="webrtc",
            ports=1000,
            options={"host_addresses": list(LOOPBACK), "max_per_conference": 1000},
        ),
        BridgeContext(http=None, clock=lambda: datetime.now(UTC)),
    )
    await bridge.create_conference(ConferenceSpec(key="bench", title="bench", expected_sites=2))
    echoes: list[RTCPeerConnection] = []

    async def join(request: web.Request) -> web.Response:
        offer = await request.text()
        seat = request.match_info["seat"]
        if mode == "bridge":
            joined = await bridge.join(
                "bench", seat=seat, site_id=seat, display_name=seat, offer_sdp=offer
            )
            return web.Response(text=joined.answer_sdp)
        # The baseline: aiortc's own echo, the least a relaying aiortc server does.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        echoes.append(pc)

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            pc.addTrack(track)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        with offered_addresses(LOOPBACK):
            await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(text=pc.localDescription.sdp)

    async def stats(_: web.Request) -> web.Response:
        if mode != "bridge":
            return web.json_response({"ticks": 0, "late_ticks": 0})
        room = bridge.room_stats("bench")
        return web.json_response({"ticks": room.ticks, "late_ticks": room.late_ticks})

    app = web.Application()
    app.router.add_post("/join/{seat}", join)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(port, flush=True)
    # Until the parent closes our standard input.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await bridge.close()
    for pc in echoes:
        await pc.close()
    await runner.cleanup()


# -- the clients (this process) ------------------------------------------------------------


def opus_packets(seconds: float = 1.0) -> list[av.Packet]:
    """A tone, encoded once; clients loop over these packets (no encoding per client)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = 48_000
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = 64_000
    codec.time_base = fractions.Fraction(1, 48_000)
    packets: list[av.Packet] = []
    for index in range(int(seconds * 50)):
        n = np.arange(index * 960, (index + 1) * 960)
        wave = (0.2 * 32767 * np.sin(2 * math.pi * 440 * n / 48_000)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(wave, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48_000
        frame.pts = index * 960
        packets.extend(codec.encode(frame))
    return packets


def vp8_packets(count: int = 30) -> list[av.Packet]:
    """A moving picture, encoded once at 640x360: a keyframe, then inter frames."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = 640, 360
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = 500_000
    codec.time_base = fractions.Fraction(1, 90_000)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    codec.gop_size = 10_000
    packets: list[av.Packet] = []
    for index in range(count):
        picture = np.zeros((360, 640, 3), dtype=np.uint8)
        picture[:, :, 0] = 60
        picture[:, index * 20 % 640 : index * 20 % 640 + 40, 1] = 220
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index * 6000
        packets.extend(codec.encode(frame))
    return packets


class PacketTrack(MediaStreamTrack):
    """Sends pre-encoded packets in real time, in a loop (aiortc packs them as they are)."""

    def __init__(self, kind: str, packets: list[av.Packet], per_second: int, clock: int) -> None:
        super().__init__()
        self.kind = kind
        self._packets = packets
        self._interval = 1 / per_second
        self._step = clock // per_second
        self._time_base = fractions.Fraction(1, clock)
        self._count = 0
        self._began: float | None = None

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._began is None:
            self._began = time.monotonic()
        else:
            await asyncio.sleep(
                max(0.0, self._began + self._count * self._interval - time.monotonic())
            )
        source = self._packets[self._count % len(self._packets)]
        packet = av.Packet(bytes(source))
        packet.pts = self._count * self._step
        packet.time_base = self._time_base
        self._count += 1
        return packet


class Client:
    def __init__(self, seat: str, audio: list[av.Packet], video: list[av.Packet] | None) -> None:
        self.seat = seat
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(PacketTrack("audio", audio, 50, 48_000))
        if video is not None:
            self.pc.addTrack(PacketTrack("video", video, 15, 90_000))
        self.audio_frames = 0
        self.video_frames = 0
        self.connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._read(track)))

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "audio":
                    self.audio_frames += 1
                else:
                    self.video_frames += 1

    async def join(self, http: aiohttp.ClientSession, base: str) -> None:
        with offered_addresses(LOOPBACK):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        async with http.post(
            f"{base}/join/{self.seat}", data=self.pc.localDescription.sdp
        ) as reply:
            reply.raise_for_status()
            answer = await reply.text()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await asyncio.wait_for(self.connected.wait(), 20)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()


def pin_threads(pid: int, cpu: int) -> None:
    """Every thread of ``pid`` onto ``cpu`` (affinity is per thread on Linux)."""
    for name in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(name), {cpu})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def step(
    mode: str, n: int, video: bool, seconds: float, packets: dict[str, Any], pin: bool
) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[-1]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        mode,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    clients: list[Client] = []
    try:
        assert child.stdout is not None
        port = int(await child.stdout.readline())
        if pin:
            pin_threads(child.pid, server_cpu)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            clients = [
                Client(f"p{i}", packets["audio"], packets["video"] if video else None)
                for i in range(n)
            ]
            for client in clients:
                await client.join(http, base)
            if pin:
                # Threads the bridge started since (decoders, encoders) go on its core too.
                pin_threads(child.pid, server_cpu)
            await asyncio.sleep(SETTLE_SECONDS)
            async with http.get(f"{base}/stats") as reply:
                before_stats = await reply.json()
            audio_before = [c.audio_frames for c in clients]
            video_before = [c.video_frames for c in clients]
            cpu_before, wall_before = cpu_seconds(child.pid), time.monotonic()
            client_before = time.process_time()
            await asyncio.sleep(seconds)
            cpu_after, wall_after = cpu_seconds(child.pid), time.monotonic()
            client_after = time.process_time()
            async with http.get(f"{base}/stats") as reply:
                after_stats = await reply.json()
        wall = wall_after - wall_before
        audio_rates = [
            (c.audio_frames - b) / wall for c, b in zip(clients, audio_before, strict=True)
        ]
        video_rates = [
            (c.video_frames - b) / wall for c, b in zip(clients, video_before, strict=True)
        ]
        ticks = after_stats["ticks"] - before_stats["ticks"]
        late = after_stats["late_ticks"] - before_stats["late_ticks"]
        cores = (cpu_after - cpu_before) / wall
        late_share = late / ticks if ticks else 0.0
        result = {
            "participants": n,
            "bridge_cores": round(cores, 3),
            "cores_per_participant": round(cores / n, 4),
            # On a busy machine a starved bridge uses less CPU than it needs; its cost per
            # participant at the full frame rate corrects for the frames it did not deliver.
            "cores_per_participant_full_rate": round(
                cores / (n * min(1.0, float(np.mean(audio_rates)) / 50)), 4
            ),
            "late_ticks": round(late_share, 4),
            "audio_rate_min": round(min(audio_rates), 1),
            "video_rate_min": round(min(video_rates), 1) if video else None,
            "client_cores": round((client_after - client_before) / wall, 3),
            "load_average": round(os.getloadavg()[0], 2),
        }
        result["real_time"] = late_share < LATE_LIMIT and min(audio_rates) >= RATE_LIMIT
        return result
    finally:
        for client in clients:
            await client.close()
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 15)
        except TimeoutError:
            child.kill()
            await child.wait()


async def series(
    mode: str, counts: list[int], video: bool, args: argparse.Namespace, packets: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for n in counts:
        row = await step(mode, n, video, args.seconds, packets, args.pin)
        print(f"{mode:6} {'a+v' if video else 'audio':5} {json.dumps(row)}", flush=True)
        rows.append(row)
        # Two misses in a row: past the limit (one alone may be a neighbour's burst).
        if mode == "bridge" and len(rows) >= 2 and not any(r["real_time"] for r in rows[-2:]):
            break
    return rows


def carried(rows: list[dict[str, Any]]) -> int:
    """The largest N measured within real time on the one core."""
    return max((row["participants"] for row in rows if row["real_time"]), default=0)


def estimate(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """A least-squares line cores = fixed + per_participant x N over the real-time points,
    and where it crosses one core (clients may run out before the bridge does)."""
    points = [(row["participants"], row["bridge_cores"]) for row in rows if row["real_time"]]
    if len(points) < 2:
        return None
    xs = np.array([p[0] for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    slope, intercept = np.polyfit(xs, ys, 1)
    return {
        "fixed_cores": round(float(intercept), 4),
        "cores_per_participant": round(float(slope), 4),
        "one_core_at": round(float((1.0 - intercept) / slope), 1) if slope > 0 else math.inf,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    if args.pin:
        if len(os.sched_getaffinity(0)) < 2:
            raise SystemExit("--pin needs two CPUs: one for the bridge, one for the clients")
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    packets = {"audio": opus_packets(), "video": vp8_packets()}
    audio_counts = [int(x) for x in args.audio.split(",")]
    video_counts = [int(x) for x in args.video.split(",")]
    baseline_counts = sorted({audio_counts[0], audio_counts[min(2, len(audio_counts) - 1)]})
    report: dict[str, Any] = {}
    report["baseline_echo_audio"] = await series("echo", baseline_counts, False, args, packets)
    report["bridge_audio"] = await series("bridge", audio_counts, False, args, packets)
    report["baseline_echo_video"] = await series("echo", [video_counts[0]], True, args, packets)
    report["bridge_video"] = await series("bridge", video_counts, True, args, packets)
    return report


def summary(report: dict[str, Any]) -> dict[str, Any]:
    def cost(rows: list[dict[str, Any]]) -> float | None:
        values = [row["cores_per_participant_full_rate"] for row in rows]
        return round(float(np.median(values)), 4) if values else None

    figures: dict[str, Any] = {}
    for label, bridge, echo in (
        ("audio_only", "bridge_audio", "baseline_echo_audio"),
        ("audio_video", "bridge_video", "baseline_echo_video"),
    ):
        per_participant = cost(report[bridge])
        figures[label] = {
            # What one core carries by the cost measured: the figure the caps follow.
            "one_core_estimate": math.floor(1 / per_participant) if per_participant else 0,
            "cores_per_participant": per_participant,
            "baseline_echo_cores_per_participant": cost(report[echo]),
            # Seen within real time in this run (a lower bound when neighbours load the CPU).
            "carried_within_real_time": carried(report[bridge]),
            "fit": estimate(report[bridge]),
        }
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=["bridge", "echo"], help=argparse.SUPPRESS)
    parser.add_argument("--audio", default="2,3,4,6,8,10,12")
    parser.add_argument("--video", default="2,3,4,5,6,8")
    parser.add_argument("--pin", action="store_true", help="bridge on one CPU, clients on another")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="two short steps each (a smoke run)")
    arguments = parser.parse_args()
    if arguments.serve:
        asyncio.run(serve(arguments.serve))
        raise SystemExit(0)
    if arguments.quick:
        arguments.audio, arguments.video, arguments.seconds = "2,3", "2,3", 2.0
    began = time.monotonic()
    measured = asyncio.run(main(arguments))
    result = {
        "benchmark": "webrtc_bridge",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg()[0],
        },
        "method": (
            f"bridge in its own process{' pinned to one CPU' if arguments.pin else ''}; real "
            "time = late ticks (> 40 ms) < 2% and every participant receiving >= 95% of its "
            "audio frames; one-core capacity from the cost line over the real-time steps"
        ),
        "arguments": {
            "audio": arguments.audio,
            "video": arguments.video,
            "seconds": arguments.seconds,
            "pin": arguments.pin,
        },
        "summary": summary(measured),
        "steps": measured,
        "seconds": round(time.monotonic() - began, 1),
    }
    print(json.dumps(result["summary"], indent=2))
    out = Path(__file__).resolve().parent / "results" / "webrtc_bridge.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
