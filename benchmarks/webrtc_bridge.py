"""How many participants the built-in WebRTC bridge carries within real time on one core,
audio-only and with the active speaker's video, beside Janus AudioBridge in the same run.

    .venv/bin/python benchmarks/webrtc_bridge.py [--pin] [--audio 5,10,...] [--video 2,4,...]
        [--janus 5,10,...] [--seconds 5] [--quick]

The bridge runs in a child process; its CPU time is read from /proc (every thread: aiortc
decodes in threads, the bridge encodes video in an executor).  The participants are real
aiortc peers in this process, joined over HTTP (the bridge's ``join``, as WHIP does).  To
keep the clients cheap they send pre-encoded Opus (a tone, so every one of them "speaks")
and, with video, pre-encoded VP8 (640x360, 15 frames a second); they decode what they
receive, as a browser does.  ``--pin`` puts the bridge (or Janus) on one CPU and the
clients on the other, whose use is reported as ``client_cores`` (use it on a machine nobody
else loads: on a shared one, pinning measures the neighbours).

Each step joins N participants, lets them settle, then measures for ``--seconds``.  A step
is *within real time* when every participant receives at least 95 % of its audio frames
(47.5 of 50 a second), with video every participant receives at least 90 % of the target
picture rate (13.5 of 15 a second), and fewer than 2 % of the bridge's 20 ms mixing ticks
start more than 40 ms late (``LATE_TICK_SECONDS`` in room.py: two frames, where a
listener's jitter buffer starts to run dry).  Steps go up until two in a row miss;
``carried_within_real_time`` is the largest N that was within real time.  Nothing is
estimated or extrapolated.

Reference, same run and same clients: Janus' AudioBridge (real Janus, its own C mixer with
an Opus encode per participant), audio only, judged by the same audio rule.

Prints and writes JSON to benchmarks/results/webrtc_bridge.json.  Goals (one pinned core,
quiet machine): at least 30 audio-only participants and at least 12 with the active
speaker's video (360p, 15 fps).
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
import tempfile
import time
from collections.abc import Awaitable, Callable
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
VIDEO_FPS = 15
VIDEO_RATE_LIMIT = 0.90 * VIDEO_FPS
GOALS = {"audio_only": 30, "audio_video": 12}

# -- the server side (child process) -----------------------------------------------------


async def serve() -> None:
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

    async def join(request: web.Request) -> web.Response:
        offer = await request.text()
        seat = request.match_info["seat"]
        joined = await bridge.join(
            "bench", seat=seat, site_id=seat, display_name=seat, offer_sdp=offer
        )
        return web.Response(text=joined.answer_sdp)

    async def stats(_: web.Request) -> web.Response:
        room = bridge.room_stats("bench")
        return web.json_response(
            {
                "ticks": room.ticks,
                "late_ticks": room.late_ticks,
                "audio_encodes": room.audio_encodes,
                "video_encodes": room.video_encodes,
            }
        )

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
    n: int, video: bool, seconds: float, packets: dict[str, Any], pin: bool
) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    clients: list[Client] = []
    try:
        assert child.stdout is not None
        port = int(await child.stdout.readline())
        if pin:
            pin_threads(child.pid, SERVER_CPU[0])
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
                pin_threads(child.pid, SERVER_CPU[0])
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
            "late_ticks": round(late_share, 4),
            "audio_rate_min": round(min(audio_rates), 1),
            "video_rate_min": round(min(video_rates), 1) if video else None,
            # Encodes per second (all streams): one shared stream plus one per active
            # speaker for audio, one per picture shown for video — not one per listener.
            "audio_encodes_per_second": round(
                (after_stats["audio_encodes"] - before_stats["audio_encodes"]) / wall, 1
            ),
            "video_encodes_per_second": round(
                (after_stats["video_encodes"] - before_stats["video_encodes"]) / wall, 1
            ),
            "client_cores": round((client_after - client_before) / wall, 3),
            "load_average": round(os.getloadavg()[0], 2),
        }
        result["real_time"] = (
            late_share < LATE_LIMIT
            and min(audio_rates) >= RATE_LIMIT
            and (not video or min(video_rates) >= VIDEO_RATE_LIMIT)
        )
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


Step = Callable[[int], Awaitable[dict[str, Any]]]


async def series(label: str, counts: list[int], run: Step) -> list[dict[str, Any]]:
    rows = []
    for n in counts:
        row = await run(n)
        print(f"{label:12} {json.dumps(row)}", flush=True)
        rows.append(row)
        # Two misses in a row: past the limit (one alone may be a neighbour's burst).
        if len(rows) >= 2 and not any(r["real_time"] for r in rows[-2:]):
            break
    return rows


def carried(rows: list[dict[str, Any]]) -> int:
    """The largest N measured within real time."""
    return max((row["participants"] for row in rows if row["real_time"]), default=0)


# -- the reference: Janus AudioBridge ---------------------------------------------------------


async def janus_create_room(http: aiohttp.ClientSession, url: str, room: int) -> None:
    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with http.post(f"{url}{path}", json={**body, "transaction": "bench"}) as reply:
            answer: dict[str, Any] = await reply.json(content_type=None)
        if answer.get("janus") == "error":
            raise RuntimeError(str(answer))
        return answer

    session = (await post("", {"janus": "create"}))["data"]["id"]
    handle = (await post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.audiobridge"}))[
        "data"
    ]["id"]
    created = await post(
        f"/{session}/{handle}",
        {
            "janus": "message",
            "body": {"request": "create", "room": room, "sampling_rate": 48000},
        },
    )
    data = created.get("plugindata", {}).get("data", {})
    if data.get("audiobridge") != "created":
        raise RuntimeError(f"AudioBridge did not create the room: {created}")
    await post(f"/{session}", {"janus": "destroy"})


async def janus_step(
    n: int, seconds: float, packets: dict[str, Any], pin: bool, folder: Path
) -> dict[str, Any]:
    from tests.janus_harness.peer import AudioBridgePeer
    from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim

    janus = JanusProcess(folder / f"janus-{n}", JanusSettings(rtp_ports=max(200, 8 * n)))
    (folder / f"janus-{n}").mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(janus.start, shim=build_shim())
    counts = [0] * n
    readers: list[asyncio.Task[None]] = []

    def listener(index: int) -> Callable[[MediaStreamTrack], None]:
        def listen(track: MediaStreamTrack) -> None:
            async def read() -> None:
                with contextlib.suppress(MediaStreamError):
                    while True:
                        await track.recv()
                        counts[index] += 1

            readers.append(asyncio.create_task(read()))

        return listen

    peers: list[Any] = []
    try:
        pid = janus._process.pid if janus._process is not None else 0
        if pin:
            pin_threads(pid, SERVER_CPU[0])
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            await janus_create_room(http, janus.http_url, 4321)
            peers = [
                AudioBridgePeer(
                    http,
                    janus.http_url,
                    room=4321,
                    participant_id=1000 + i,
                    display=f"p{i}",
                    tone=PacketTrack("audio", packets["audio"], 50, 48_000),
                    listen=listener(i),
                )
                for i in range(n)
            ]
            for peer in peers:
                await peer.join()
            if pin:
                pin_threads(pid, SERVER_CPU[0])
            await asyncio.sleep(SETTLE_SECONDS)
            before = list(counts)
            cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
            client_before = time.process_time()
            await asyncio.sleep(seconds)
            cpu_after, wall_after = cpu_seconds(pid), time.monotonic()
            client_after = time.process_time()
            wall = wall_after - wall_before
            rates = [(c - b) / wall for c, b in zip(counts, before, strict=True)]
            for peer in peers:
                await peer.close()
            peers = []
    finally:
        for peer in peers:
            with contextlib.suppress(Exception):
                await peer.close()
        for task in readers:
            task.cancel()
        await asyncio.to_thread(janus.stop)
    result = {
        "participants": n,
        "janus_cores": round((cpu_after - cpu_before) / wall, 3),
        "audio_rate_min": round(min(rates), 1),
        "client_cores": round((client_after - client_before) / wall, 3),
        "load_average": round(os.getloadavg()[0], 2),
    }
    result["real_time"] = min(rates) >= RATE_LIMIT
    return result


SERVER_CPU: list[int] = [0]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    SERVER_CPU[0] = cpus[-1]
    if args.pin:
        if len(cpus) < 2:
            raise SystemExit("--pin needs two CPUs: one for the bridge, one for the clients")
        os.sched_setaffinity(0, {cpus[0]})
    packets = {"audio": opus_packets(), "video": vp8_packets()}

    def counts(text: str) -> list[int]:
        return [int(x) for x in text.split(",")]

    report: dict[str, Any] = {}
    report["bridge_audio"] = await series(
        "bridge audio",
        counts(args.audio),
        lambda n: step(n, False, args.seconds, packets, args.pin),
    )
    report["bridge_video"] = await series(
        "bridge a+v",
        counts(args.video),
        lambda n: step(n, True, args.seconds, packets, args.pin),
    )
    with tempfile.TemporaryDirectory(prefix="vcorch-bench-janus-") as folder:
        report["janus_audio"] = await series(
            "janus audio",
            counts(args.janus),
            lambda n: janus_step(n, args.seconds, packets, args.pin, Path(folder)),
        )
    return report


def summary(report: dict[str, Any]) -> dict[str, Any]:
    audio, video = carried(report["bridge_audio"]), carried(report["bridge_video"])
    return {
        "audio_only": {
            "carried_within_real_time": audio,
            "goal": GOALS["audio_only"],
            "met": audio >= GOALS["audio_only"],
            "janus_audiobridge_carried_within_real_time": carried(report["janus_audio"]),
        },
        "audio_video": {
            "carried_within_real_time": video,
            "goal": GOALS["audio_video"],
            "met": video >= GOALS["audio_video"],
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--audio", default="5,10,15,20,25,30,35,40,50,60")
    parser.add_argument("--video", default="2,4,6,8,10,12,14,16,20")
    parser.add_argument("--janus", default="5,10,20,30,40,50,60")
    parser.add_argument("--pin", action="store_true", help="bridge on one CPU, clients on another")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="two short steps each (a smoke run)")
    arguments = parser.parse_args()
    if arguments.serve:
        asyncio.run(serve())
        raise SystemExit(0)
    if arguments.quick:
        arguments.audio, arguments.video, arguments.janus = "2,3", "2,3", "2,3"
        arguments.seconds = 2.0
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
        "command": "python benchmarks/webrtc_bridge.py " + " ".join(sys.argv[1:]),
        "method": (
            f"bridge (and Janus) in its own process{' pinned to one CPU' if arguments.pin else ''};"
            " within real time = every participant receives >= 95% of its audio frames, with"
            " video >= 90% of 15 pictures a second, and < 2% of mixing ticks start > 40 ms late;"
            " steps go up until two in a row miss; the largest N within real time is reported"
        ),
        "codecs": "Opus 48 kHz mono 20 ms 48 kbit/s (one shared stream + one per active speaker,"
        " at most 3); VP8 640x360 15 fps 600 kbit/s (one stream per picture shown)",
        "arguments": {
            "audio": arguments.audio,
            "video": arguments.video,
            "janus": arguments.janus,
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
