"""How many browser sites one WebRTC-to-SIP gateway (Janus' SIP plugin) carries here.

    .venv/bin/python benchmarks/gateway.py [--steps 2,4,8,16,32,48,64] [--seconds 4]

Each browser is a real aiortc peer (sending a 440 Hz tone, decoding what it receives, as
a browser does); vcorch's gateway package places each call (guest ``register``, ``call``
with the peer's offer, wait for ``accepted``: exactly what the join service does on a WHIP
offer, without the HTTP hop) through a real Janus 1.1 with its SIP plugin into a real SIP
party, one baresip that auto-answers every call with a 1 kHz tone over G.711.

Each step brings N calls up at once, lets them settle for two seconds, then measures for
``--seconds``: audio frames every peer received per second (50 = all of them), the worst
peer's share of 50, how long setting the calls up took (median, worst), and Janus' CPU
seconds per wall second (read from /proc: every thread).  A step *holds* when every call
was set up and the worst peer receives at least 95 % of its frames; stepping stops at the
first step that does not hold, or when the run's time budget (150 s) is spent.

Baseline, same run, same peers: Janus' EchoTest plugin forced to G.711 like the SIP leg
(each peer's own audio back, no SIP leg): what the WebRTC side alone costs on this
machine, so that what the SIP leg adds is seen.  Everything runs on this one machine (2
shared cores): the aiortc peers, not Janus, are the first limit (TEST-INFRA: 20
send+receive peers take about a core), so the figure is a floor of what a gateway on its
own machine carries.  Writes benchmarks/results/gateway.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame
from tests.gateway.sip_party import sip_party
from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim
from tests.webrtc.peers import LOOPBACK, ToneTrack

from vcorch.gateway.calls import CallRequest, GatewayCall
from vcorch.gateway.errors import GatewayError
from vcorch.gateway.janus_sip import JanusSipClient, JanusSipSettings
from vcorch.mcu_adapter.webrtc.addresses import offered_addresses

RESULTS = Path(__file__).resolve().parent / "results" / "gateway.json"
BUDGET_SECONDS = 150.0
HOLD_SHARE = 0.95
FRAMES_PER_SECOND = 50


class Browser:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ToneTrack(440.0))
        self.frames = 0
        self.connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._read(track)))

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def offer(self) -> str:
        with offered_addresses(LOOPBACK):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        await asyncio.wait_for(self.connected.wait(), 15)

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                if isinstance(await track.recv(), AudioFrame):
                    self.frames += 1

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class EchoLeg:
    """The baseline: one peer on Janus' EchoTest over the same HTTP API."""

    def __init__(self, http: aiohttp.ClientSession, url: str, secret: str) -> None:
        self.http, self.url, self.secret = http, url, secret
        self.session: int | None = None

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        payload = {**body, "transaction": secrets.token_hex(6), "apisecret": self.secret}
        timeout = aiohttp.ClientTimeout(total=10)
        async with self.http.post(f"{self.url}{path}", json=payload, timeout=timeout) as reply:
            return await reply.json(content_type=None)

    async def start(self, offer: str) -> str:
        self.session = (await self._post("", {"janus": "create"}))["data"]["id"]
        handle = (
            await self._post(
                f"/{self.session}", {"janus": "attach", "plugin": "janus.plugin.echotest"}
            )
        )["data"]["id"]
        await self._post(
            f"/{self.session}/{handle}",
            {
                "janus": "message",
                # The codec the SIP leg negotiates (G.711), so the two differ by the SIP leg.
                "body": {"audio": True, "video": False, "audiocodec": "pcmu"},
                "jsep": {"type": "offer", "sdp": offer},
            },
        )
        params = {"maxev": "1", "apisecret": self.secret}
        for _ in range(20):
            timeout = aiohttp.ClientTimeout(total=40)
            async with self.http.get(
                f"{self.url}/{self.session}", params=params, timeout=timeout
            ) as reply:
                event = await reply.json(content_type=None)
            if isinstance(event, dict) and event.get("jsep"):
                return str(event["jsep"]["sdp"])
        raise RuntimeError("EchoTest gave no answer")

    async def stop(self) -> None:
        if self.session is not None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self._post(f"/{self.session}", {"janus": "destroy"})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def step(
    mode: str,
    n: int,
    seconds: float,
    http: aiohttp.ClientSession,
    janus: JanusProcess,
    secret: str,
    party_uri: str,
) -> dict[str, Any]:
    client = JanusSipClient(
        http, JanusSipSettings("bench", janus.http_url, secret, timeout=10, retries=1)
    )
    browsers = [Browser() for _ in range(n)]
    calls: list[GatewayCall] = []
    echoes: list[EchoLeg] = []
    setup: list[float] = []
    failures: list[str] = []
    now = datetime.now(UTC)

    async def bring_up(index: int, browser: Browser) -> None:
        began = time.monotonic()
        try:
            offer = await browser.offer()
            if mode == "gateway":
                call = GatewayCall(
                    client=client,
                    request=CallRequest(
                        run_site_id=index,
                        from_uri=f"sip:vcorch-site-{index}@bench.invalid",
                        display_name=f"Phòng {index}",
                        target_uri=party_uri,
                        offer_sdp=offer,
                        expires_at=now + timedelta(hours=1),
                    ),
                    answer_timeout=20,
                    clock=lambda: datetime.now(UTC),
                )
                calls.append(call)
                answer = await call.start()
            else:
                echo = EchoLeg(http, janus.http_url, secret)
                echoes.append(echo)
                answer = await echo.start(offer)
            await browser.answer(answer)
            setup.append(time.monotonic() - began)
        except (GatewayError, TimeoutError, RuntimeError, aiohttp.ClientError) as err:
            failures.append(f"{type(err).__name__}: {err}")

    try:
        await asyncio.gather(*(bring_up(i, b) for i, b in enumerate(browsers, start=1)))
        await asyncio.sleep(2.0)
        pid = janus._process.pid if janus._process else 0
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        frames0 = [b.frames for b in browsers]
        await asyncio.sleep(seconds)
        wall = time.monotonic() - wall0
        cpu = cpu_seconds(pid) - cpu0
        rates = [(b.frames - f0) / wall for b, f0 in zip(browsers, frames0, strict=True)]
    finally:
        await asyncio.gather(*(call.hang_up("benchmark step over") for call in calls))
        await asyncio.gather(*(echo.stop() for echo in echoes))
        await asyncio.gather(*(b.close() for b in browsers))
    worst = min(rates) / FRAMES_PER_SECOND if rates else 0.0
    return {
        "mode": mode,
        "browsers": n,
        "set_up": len(setup),
        "failures": failures[:3],
        "setup_seconds_median": round(statistics.median(setup), 3) if setup else None,
        "setup_seconds_max": round(max(setup), 3) if setup else None,
        "frames_per_second_mean": round(statistics.mean(rates), 1) if rates else 0,
        "worst_share": round(worst, 3),
        "janus_cores": round(cpu / wall, 3),
        "holds": not failures and worst >= HOLD_SHARE,
    }


async def main(steps: list[int], seconds: float) -> dict[str, Any]:
    began = time.monotonic()
    results: list[dict[str, Any]] = []
    secret = secrets.token_hex(12)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        janus = JanusProcess(
            folder / "janus",
            JanusSettings(
                sip=True, api_secret=secret, rtp_low=40000, rtp_ports=max(200, 6 * max(steps))
            ),
        )
        janus.start(shim=build_shim())
        try:
            with sip_party(folder / "party", max_calls=max(steps) + 4, dumps=False) as party:
                async with aiohttp.ClientSession() as http:
                    for mode in ("echotest", "gateway"):
                        for n in steps:
                            if time.monotonic() - began > BUDGET_SECONDS:
                                break
                            row = await step(mode, n, seconds, http, janus, secret, party.uri)
                            print(json.dumps(row, ensure_ascii=False), flush=True)
                            results.append(row)
                            await asyncio.sleep(1.0)
                            if not row["holds"]:
                                break
        finally:
            janus.stop()

    def carried(mode: str) -> int:
        held = [r["browsers"] for r in results if r["mode"] == mode and r["holds"]]
        return max(held, default=0)

    def first_failing(mode: str) -> int | None:
        failed = [r["browsers"] for r in results if r["mode"] == mode and not r["holds"]]
        return min(failed, default=None)

    gateway_rows = [r for r in results if r["mode"] == "gateway" and r["holds"]]
    return {
        "benchmark": "gateway",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "method": __doc__.strip().splitlines()[2] if __doc__ else "",
        "arguments": {"steps": steps, "seconds": seconds},
        "summary": {
            "gateway_browsers_held": carried("gateway"),
            "gateway_first_step_not_held": first_failing("gateway"),
            "echotest_browsers_held": carried("echotest"),
            "echotest_first_step_not_held": first_failing("echotest"),
            "gateway_janus_cores_per_call": (
                round(
                    max(r["janus_cores"] / r["browsers"] for r in gateway_rows),
                    4,
                )
                if gateway_rows
                else None
            ),
            "steps_capped_at": max(steps),
        },
        "steps": results,
        "seconds": round(time.monotonic() - began, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", default="2,4,8,16,32,48,64")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    report = asyncio.run(main([int(s) for s in args.steps.split(",")], args.seconds))
    RESULTS.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report["summary"], indent=1))
