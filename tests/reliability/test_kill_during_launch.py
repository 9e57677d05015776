"""A real ``vcorch serve`` killed with SIGKILL while it dials a meeting's sites on a Cisco
Meeting Server (the emulator, a separate server in this test process), then started again:
every site is called exactly once, the meeting ends up live, and every join the server
reported while vcorch was dead is stored (the server re-sends CDRs until acknowledged)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select

from tests.api import TEST_ACTOR, Api, FakeClock
from tests.emulators.cisco_cms import CmsEmulator
from tests.reliability.serving import Served, free_port, serve
from tests.world import World
from vcorch.bridge_events.models import BridgeEventRecord
from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.rooms import schemas
from vcorch.rooms.routes import ROOMS

SITES = 8
KILL_AT_LEG = 3  # the process dies while the server creates this call leg
HOOK_SECRET = "cms-cdr-hook-secret-for-the-kill-test"


class KilledMidDial(CmsEmulator):
    """Holds the answer to the ``KILL_AT_LEG``-th call leg until the test has killed vcorch:
    the server made the call, vcorch never learnt its id."""

    def __init__(self) -> None:
        super().__init__(ring_delay=0.05, ring_timeout=0.5)
        self.dialled: list[str] = []
        self.at_kill_point = asyncio.Event()
        self.release = asyncio.Event()

    async def _create_call_leg(self, request: web.Request) -> web.Response:
        response = await super()._create_call_leg(request)
        if response.status == 200:
            form = await request.post()
            self.dialled.append(str(form["remoteParty"]))
            if len(self.dialled) == KILL_AT_LEG:
                self.at_kill_point.set()
                await self.release.wait()
        return response


def bridge_config(tmp_path: Path, emulator: CmsEmulator) -> Path:
    password = tmp_path / "cms-password"
    password.write_text(emulator.password + "\n", encoding="utf-8")
    hook = tmp_path / "cms-hook"
    hook.write_text(HOOK_SECRET, encoding="utf-8")
    config = tmp_path / "vcorch.toml"
    config.write_text(
        f"""
[[bridges]]
name = "cms"
type = "cisco_cms"
url = "{emulator.url}"
username = "{emulator.username}"
password_file = "{password}"
ports = 100
priority = 10
timeout_seconds = 2
retries = 1

[bridges.options]
hook_secret_file = "{hook}"
retry_base_delay = 0.05
""",
        encoding="utf-8",
    )
    return config


async def live_of(served: Served, token: str, meeting_id: int) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        http.get(
            f"{served.url}/api/meetings/{meeting_id}/live",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
    assert body["status"] in ("launching", "live"), body
    return body


async def test_sigkill_while_dialling_then_restart(
    database_url: str,
    api: Api,
    world: World,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    rooms = api.client.server.app[ROOMS]
    site_rooms = []
    for n in range(SITES):
        room = await rooms.create_room(
            TEST_ACTOR,
            schemas.RoomCreate(unit_id=world.units["lao-cai"], name=f"Phòng {n}", seats=10),
        )
        await rooms.create_endpoint(
            TEST_ACTOR,
            schemas.EndpointCreate(
                room_id=room.id,
                name=f"Thiết bị {n}",
                kind="sip",
                address=f"sip:room{n}@lao-cai.example.vn",
            ),
        )
        site_rooms.append(room.id)
    # Beyond the scheduler's own launch time (5 min before): the launch is the /start below,
    # so the kill falls inside it.
    start = clock.now.replace(microsecond=0) + timedelta(minutes=20)
    token = world.tokens["laocai_sec"]
    status, body = await api.as_(token).post(
        "/api/meetings",
        {
            "title": "Giao ban trực tuyến",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": world.units["lao-cai"],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "sites": [{"room_id": r} for r in site_rooms],
        },
    )
    assert status == 201, body
    meeting_id = body["id"]

    emulator = KilledMidDial()
    await emulator.start()
    port = free_port()
    # The operator pointed the server's CDR receiver at vcorch's hook once, as documented.
    emulator.cdr_receivers["vcorch"] = f"http://127.0.0.1:{port}/api/hooks/cms?token={HOOK_SECRET}"
    config = bridge_config(tmp_path, emulator)
    env = {"VCORCH_DIAL_CONCURRENCY": "2", "VCORCH_MAIL_POLL_SECONDS": "30"}
    log = tmp_path / "serve.log"
    processes: list[Served] = []
    try:
        first = serve(database_url, log, port=port, config=config, env=env)
        processes.append(first)
        await first.ready()
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{first.url}/api/meetings/{meeting_id}/start",
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            assert response.status == 202, await response.text()

        await asyncio.wait_for(emulator.at_kill_point.wait(), 20)
        first.kill()
        emulator.release.set()

        second = serve(database_url, log, port=port, config=config, env=env)
        processes.append(second)
        await second.ready()
        deadline = time.monotonic() + 40
        live: dict[str, Any] = {}
        while time.monotonic() < deadline:
            live = await live_of(second, token, meeting_id)
            if live["status"] == "live" and {s["state"] for s in live["sites"]} == {"connected"}:
                break
            await asyncio.sleep(0.3)
        assert live["status"] == "live", live
        states = {site["room_id"]: site["state"] for site in live["sites"]}
        assert states == dict.fromkeys(site_rooms, "connected"), states

        # Exactly one call per site, one coSpace, one call, over both processes' lives.
        per_site = Counter(emulator.dialled)
        assert len(per_site) == SITES and set(per_site.values()) == {1}, per_site
        assert len(emulator.cospaces) == 1 and len(emulator.calls) == 1
        assert emulator.active_legs() == SITES

        # Joins reported while no vcorch was listening were re-sent and stored, once.
        await emulator.drain_cdrs(within=15)
        assert emulator.cdr_redeliveries > 0
        expected = {
            f"cms:{emulator.session_id}:{index}"
            for kind, index in emulator.cdr_records
            if kind in ("callLegUpdate", "callLegEnd")
        }
        assert len(expected) == SITES
        engine = make_engine(database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                stored = list(
                    (
                        await session.execute(
                            select(BridgeEventRecord.event_id, BridgeEventRecord.kind).where(
                                BridgeEventRecord.bridge == "cms"
                            )
                        )
                    ).all()
                )
        finally:
            await engine.dispose()
        assert {event_id for event_id, _ in stored} == expected
        assert {kind for _, kind in stored} == {"join"}
        attendance = await attendance_of(second, token, meeting_id)
        assert {s["room_id"] for s in attendance if s["first_join"]} == set(site_rooms)
    finally:
        emulator.release.set()
        for process in processes:
            process.stop()
        await emulator.stop()


async def attendance_of(served: Served, token: str, meeting_id: int) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        http.get(
            f"{served.url}/api/meetings/{meeting_id}/attendance",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        assert response.status == 200, await response.text()
        body = await response.json()
    sites: list[dict[str, Any]] = body["sites"]
    return sites
