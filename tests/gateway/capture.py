"""Record what a real Janus' SIP plugin answers, as fixtures for the client's unit tests.

Run ``.venv/bin/python -m tests.gateway.capture`` (Janus and baresip installed; kamailio
for the busy case) to rewrite ``tests/fixtures/janus_sip/``: one file per scenario, each
the list of ``{"request": ..., "answer": ...}`` exchanges and long-poll events in order.
Scenarios: a call answered by baresip and hung up by us (``answered.json``); a call
refused 486 Busy Here (``busy.json``, kamailio answering every INVITE so); a call without
an SDP offer (``no-offer.json``); a wrong api_secret and an unknown session
(``core-errors.json``); ``/info`` (``info.json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection

from tests.gateway.conftest import API_SECRET
from tests.gateway.sip_party import sip_party
from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim
from tests.monitoring.sip_servers import _start, _stop, free_port
from tests.webrtc.peers import LOOPBACK, ToneTrack
from vcorch.mcu_adapter.webrtc.addresses import offered_addresses

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "janus_sip"

BUSY_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children=1
auto_aliases=no
tcp_children=1
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
loadmodule "sl.so"
request_route {{
    if (method == "INVITE") {{ sl_send_reply("486", "Busy Here"); exit; }}
    if (method == "ACK") {{ exit; }}
    sl_send_reply("405", "Method Not Allowed");
}}
"""


@contextlib.contextmanager
def busy_party(folder: Path) -> Iterator[int]:
    config = folder / "busy.cfg"

    def prepare(port: int) -> None:
        config.write_text(BUSY_CFG.format(port=port), encoding="utf-8")

    command = ["kamailio", "-f", str(config), "-DD", "-E", "-Y", str(folder), "-m", "16", "-M", "4"]
    process, port = _start(command, free_port, prepare, folder / "kamailio.log")
    try:
        yield port
    finally:
        _stop(process)


class Recorder:
    def __init__(self, http: aiohttp.ClientSession, url: str, secret: str | None) -> None:
        self.http = http
        self.url = url
        self.secret = secret
        self.log: list[dict[str, Any]] = []

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        payload = {**body, "transaction": secrets.token_hex(6)}
        if self.secret:
            payload["apisecret"] = self.secret
        async with self.http.post(f"{self.url}{path}", json=payload) as response:
            answer = await response.json(content_type=None)
        shown = {k: v for k, v in payload.items() if k != "apisecret"}
        if "jsep" in shown:
            shown["jsep"] = {**shown["jsep"], "sdp": "(the offer)"}
        self.log.append({"request": shown, "answer": answer})
        return answer

    async def poll(self, session: int, until: str, within: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        params = {"maxev": "5", **({"apisecret": self.secret} if self.secret else {})}
        while loop.time() < deadline:
            async with self.http.get(f"{self.url}/{session}", params=params) as response:
                answer = await response.json(content_type=None)
            items = answer if isinstance(answer, list) else [answer]
            for item in items:
                if item.get("janus") == "keepalive":
                    continue
                self.log.append({"event": item})
                result = ((item.get("plugindata") or {}).get("data") or {}).get("result") or {}
                data = (item.get("plugindata") or {}).get("data") or {}
                if result.get("event") == until or ("error_code" in data and until == "error"):
                    return
        raise RuntimeError(f"no {until} event")


def _scrub(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = json.dumps(log, ensure_ascii=False)
    return list(json.loads(text))


async def _offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(ToneTrack(440.0))
    with offered_addresses(LOOPBACK):
        await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def _call(rec: Recorder, uri: str, *, offer: bool, until: str) -> None:
    created = await rec.post("", {"janus": "create"})
    session = created["data"]["id"]
    attached = await rec.post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.sip"})
    handle = attached["data"]["id"]
    await rec.post(
        f"/{session}/{handle}",
        {
            "janus": "message",
            "body": {
                "request": "register",
                "type": "guest",
                "username": "sip:vcorch-site-7@vcorch.example.gov.vn",
                "display_name": "Phòng họp Lào Cai",
            },
        },
    )
    await rec.poll(session, "registered")
    pc = None
    body: dict[str, Any] = {"janus": "message", "body": {"request": "call", "uri": uri}}
    if offer:
        pc, sdp = await _offer()
        body["jsep"] = {"type": "offer", "sdp": sdp, "trickle": False}
    await rec.post(f"/{session}/{handle}", body)
    await rec.poll(session, until)
    if until == "accepted":
        await asyncio.sleep(1.0)
        await rec.post(f"/{session}/{handle}", {"janus": "message", "body": {"request": "hangup"}})
        await rec.poll(session, "hangup")
    await rec.post(f"/{session}", {"janus": "destroy"})
    if pc is not None:
        await pc.close()


async def capture(folder: Path) -> None:
    process = JanusProcess(folder / "janus", JanusSettings(sip=True, api_secret=API_SECRET))
    process.start(shim=build_shim())
    try:
        async with aiohttp.ClientSession() as http:
            FIXTURES.mkdir(parents=True, exist_ok=True)
            async with http.get(f"{process.http_url}/info") as response:
                info = await response.json(content_type=None)
            (FIXTURES / "info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
            with sip_party(folder / "party") as party:
                rec = Recorder(http, process.http_url, API_SECRET)
                await _call(rec, party.uri, offer=True, until="accepted")
                _write("answered.json", rec.log)
            with busy_party(folder) as port:
                rec = Recorder(http, process.http_url, API_SECRET)
                await _call(rec, f"sip:conf@127.0.0.1:{port}", offer=True, until="hangup")
                _write("busy.json", rec.log)
            rec = Recorder(http, process.http_url, API_SECRET)
            await _call(rec, "sip:conf@127.0.0.1:9", offer=False, until="error")
            _write("no-offer.json", rec.log)
            wrong = Recorder(http, process.http_url, "not-the-secret")
            await wrong.post("", {"janus": "create"})
            right = Recorder(http, process.http_url, API_SECRET)
            await right.post("/123456789", {"janus": "keepalive"})
            _write("core-errors.json", [*wrong.log, *right.log])
    finally:
        process.stop()


def _write(name: str, log: list[dict[str, Any]]) -> None:
    (FIXTURES / name).write_text(
        json.dumps(_scrub(log), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(capture(Path(tmp)))
    for written in sorted(FIXTURES.iterdir()):
        print(written)
