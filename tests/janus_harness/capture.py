"""Record what a real Janus' sample event handler posts, as test fixtures.

Run ``.venv/bin/python -m tests.janus_harness.capture`` (Janus installed) to rewrite
``tests/fixtures/janus/``: two aiortc peers join an AudioBridge room, one leaves, the
other is kicked, the room is destroyed.  ``evh-posts.json`` holds every POST body in
arrival order (each the JSON array Janus sent), ``evh-headers.json`` the headers of one,
``admin-*.json`` the answers of ``listparticipants`` and ``info`` seen on the way.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from tests.janus_harness.peer import AudioBridgePeer
from tests.janus_harness.receiver import EventReceiver
from tests.janus_harness.wiring import start_janus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "janus"
ROOM = 4242


async def _admin(http: aiohttp.ClientSession, url: str, secret: str, body: dict[str, Any]) -> Any:
    payload = {"transaction": "capture", "admin_secret": secret, **body}
    async with http.post(url, json=payload) as response:
        return await response.json(content_type=None)


async def capture(folder: Path) -> None:
    receiver = EventReceiver()
    receiver.start()
    process = start_janus(folder, receiver)
    answers: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as http:

            async def plugin(body: dict[str, Any]) -> Any:
                return await _admin(
                    http,
                    process.admin_url,
                    process.settings.admin_secret,
                    {
                        "janus": "message_plugin",
                        "plugin": "janus.plugin.audiobridge",
                        "request": body,
                    },
                )

            await plugin({"request": "create", "room": ROOM, "description": "Họp giao ban"})
            peers = [
                AudioBridgePeer(
                    http, process.http_url, room=ROOM, participant_id=101, display="Lào Cai"
                ),
                AudioBridgePeer(
                    http, process.http_url, room=ROOM, participant_id=102, display="Hà Giang"
                ),
            ]
            for peer in peers:
                await peer.join()
            await asyncio.sleep(1.0)
            answers["listparticipants"] = await plugin(
                {"request": "listparticipants", "room": ROOM}
            )
            answers["admin_info"] = await _admin(
                http, process.admin_url, process.settings.admin_secret, {"janus": "info"}
            )
            await peers[0].leave()
            await plugin({"request": "kick", "room": ROOM, "id": 102})
            await asyncio.sleep(0.5)
            for peer in peers:
                await peer.close()
            await plugin({"request": "destroy", "room": ROOM})
            await receiver.wait_for(
                lambda got: any(b'"destroyed"' in r.body and b"audiobridge" in r.body for r in got)
            )
    finally:
        process.stop()
        receiver.stop()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    posts = [json.loads(request.body) for request in receiver.requests()]
    # One element per POST, in arrival order, each the JSON array Janus sent.
    (FIXTURES / "evh-posts.json").write_text(
        json.dumps(posts, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    headers = dict(receiver.requests()[0].headers)
    headers.pop("Host", None)
    (FIXTURES / "evh-headers.json").write_text(
        json.dumps(headers, indent=1) + "\n", encoding="utf-8"
    )
    for name, answer in answers.items():
        (FIXTURES / f"admin-{name}.json").write_text(
            json.dumps(answer, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(capture(Path(tmp)))
