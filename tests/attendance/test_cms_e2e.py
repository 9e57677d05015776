"""End to end on the Cisco Meeting Server emulator: vcorch dials sites, the emulator posts its
CDRs to vcorch's hook route, a site drops and is called again, vcorch restarts before the
call ends (so the last CDRs name no call), and the attendance report says what happened."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.api import Api, make_settings
from tests.attendance.helpers import (
    book,
    end_run,
    launch,
    set_participants,
    wait_for_events,
    whole_minute,
)
from tests.emulators.cisco_cms import CmsEmulator
from tests.world import build_world
from vcorch.app import create_app
from vcorch.config import BridgeConfig, Settings
from vcorch.db.base import utcnow
from vcorch.mcu_adapter.base import ConferenceSpec, DialTarget
from vcorch.mcu_adapter.cisco_cms import CiscoCmsBridge
from vcorch.mcu_adapter.routes import REGISTRY

BRIDGE = "cms-e2e"
HOOK_SECRET = "cdr-hook-secret-for-attendance"
ROOMS = ("central", "lao-cai", "dien-bien", "lao-cai.bac-ha")


@pytest.fixture
async def emulator() -> AsyncIterator[CmsEmulator]:
    emulated = CmsEmulator(ring_delay=0.05, ring_timeout=0.3)
    await emulated.start()
    try:
        yield emulated
    finally:
        await emulated.stop()


def cms_settings(database_url: str, tmp_path: Path, emulator: CmsEmulator) -> Settings:
    password = tmp_path / "cms-password"
    password.write_text(emulator.password, encoding="utf-8")
    hook = tmp_path / "cms-hook"
    hook.write_text(HOOK_SECRET, encoding="utf-8")
    bridge = BridgeConfig(
        name=BRIDGE,
        type="cisco_cms",
        url=emulator.url,
        username=emulator.username,
        password_file=password,
        ports=50,
        timeout_seconds=2,
        retries=1,
        options={"hook_secret_file": str(hook), "retry_base_delay": 0.02},
    )
    # CDR times are whole seconds: on a meeting of a few seconds that is a large share, so
    # this test asks for half of the meeting to count a site present.
    return make_settings(database_url, bridges=[bridge], attendance_present_share=0.5)


async def receive_cdrs(emulator: CmsEmulator, client: TestClient[Any, Any]) -> None:
    """Point the emulator's CDR receiver at this vcorch, through the API as an operator would."""
    basic = base64.b64encode(f"{emulator.username}:{emulator.password}".encode()).decode()
    url = str(client.make_url(f"/api/hooks/{BRIDGE}")) + f"?token={HOOK_SECRET}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.url}/api/v1/system/cdrReceivers",
            data={"uri": url},
            headers={"Authorization": f"Basic {basic}"},
        ) as response,
    ):
        assert response.status == 200


def cms_bridge(client: TestClient[Any, Any]) -> CiscoCmsBridge:
    bridge = client.server.app[REGISTRY].get(BRIDGE)
    assert isinstance(bridge, CiscoCmsBridge)
    return bridge


def within(value: str | None, low: datetime, high: datetime) -> bool:
    """CDR times are whole seconds: compare to the second."""
    assert value is not None
    moment = datetime.fromisoformat(value)
    return low.replace(microsecond=0) <= moment <= high + timedelta(seconds=1)


async def test_cdrs_through_a_drop_a_redial_and_a_restart(
    database_url: str, tmp_path: Path, aiohttp_client: Any, emulator: CmsEmulator
) -> None:
    settings = cms_settings(database_url, tmp_path, emulator)
    client = await aiohttp_client(create_app(settings, clock=utcnow, background=False))
    app = client.server.app
    api = Api(client)
    world = await build_world(app, api)
    await receive_cdrs(emulator, client)
    start = whole_minute(utcnow())
    meeting = await book(api, world, start=start, end=start + timedelta(hours=1), rooms=ROOMS)
    bridge = cms_bridge(client)
    ref = await bridge.create_conference(
        ConferenceSpec(key=f"meeting-{meeting['id']}", title=meeting["title"], expected_sites=4)
    )
    run = await launch(
        app,
        world,
        meeting["id"],
        occurrence_key=start,
        start=utcnow(),
        end=start + timedelta(hours=1),
        status="live",
        bridge=BRIDGE,
        conference_id=ref.conference_id,
        rooms=ROOMS,
    )
    emulator.answering["phonghop@dien-bien.example.vn"] = False

    async def dial(code: str) -> str:
        placed = await bridge.dial_out(
            ref,
            DialTarget(
                site_id=str(run.sites[code]),
                kind="sip",
                address=f"sip:phonghop@{code}.example.vn",
                display_name=f"Phòng họp {code}",
            ),
        )
        await set_participants(app, run, {code: placed.participant_id})
        return placed.participant_id

    before_dial = utcnow()
    legs = {code: await dial(code) for code in ("central", "lao-cai", "dien-bien")}
    connected = await wait_for_events(
        app,
        BRIDGE,
        lambda got: (
            {e.participant_id for e in got if e.kind == "join"}
            >= {legs["central"], legs["lao-cai"]}
            and any(e.participant_id == legs["dien-bien"] for e in got)
        ),
    )
    after_join = utcnow()
    # Điện Biên rang out: a leave with no join.
    [rang_out] = [e for e in connected if e.participant_id == legs["dien-bien"]]
    assert rang_out.kind == "leave"

    # Lào Cai's room hangs up; the operator calls it again (a new call leg).
    first_leg = legs["lao-cai"]
    before_drop = utcnow()
    emulator.remote_hangup(first_leg)
    await wait_for_events(
        app,
        BRIDGE,
        lambda got: any(e.kind == "leave" and e.participant_id == first_leg for e in got),
    )
    second_leg = await dial("lao-cai")
    await wait_for_events(
        app,
        BRIDGE,
        lambda got: any(e.kind == "join" and e.participant_id == second_leg for e in got),
    )
    after_redial = utcnow()

    # vcorch restarts (at the same address, where the CDR receiver points): the new process
    # never saw these calls start.  What the server sent meanwhile it sends again.
    port = client.server.port
    await client.close()
    client = await aiohttp_client(
        create_app(settings, clock=utcnow, background=False), server_kwargs={"port": port}
    )
    app = client.server.app
    api = Api(client)
    for username in ("central_sec",):
        world.tokens[username] = await api.login(username)
    await asyncio.sleep(2)
    before_end = utcnow()
    await cms_bridge(client).end_conference(ref)
    ended = await wait_for_events(
        app,
        BRIDGE,
        lambda got: (
            {e.participant_id for e in got if e.kind == "leave"} >= {legs["central"], second_leg}
        ),
    )
    after_end = utcnow()
    await end_run(app, run, after_end)
    # The last CDRs named no call (callLegEnd does not); attendance still places them.
    final_leaves = [e for e in ended if e.kind == "leave" and e.participant_id == legs["central"]]
    assert [e.conference_id for e in final_leaves] == [""]

    status, report = await api.as_(world.tokens["central_sec"]).get(
        f"/api/meetings/{meeting['id']}/attendance"
    )
    assert status == 200, report
    sites = {s["room_id"]: s for s in report["sites"]}
    central = sites[world.rooms["central"]]
    assert central["status"] == "present"
    assert within(central["first_join"], before_dial, after_join)
    assert within(central["last_leave"], before_end, after_end)
    assert central["intervals"][0]["end_mark"] == "left"

    lao_cai = sites[world.rooms["lao-cai"]]
    # Two call legs, one stay: the redial came back within the reconnect grace.
    assert sorted(p["participant_id"] for p in lao_cai["participants"]) == sorted(
        [first_leg, second_leg]
    )
    assert len(lao_cai["intervals"]) == 1 and lao_cai["reconnects"] <= 1
    assert within(lao_cai["first_join"], before_dial, after_join)
    assert within(lao_cai["last_leave"], before_end, after_end)
    dropped = next(p for p in lao_cai["participants"] if p["participant_id"] == first_leg)
    assert within(dropped["intervals"][0]["end"], before_drop, after_redial)

    dien_bien = sites[world.rooms["dien-bien"]]
    assert dien_bien["status"] == "absent"
    assert "leave_without_join" in dien_bien["marks"]
    assert sites[world.rooms["lao-cai.bac-ha"]]["status"] == "absent"
    assert report["unmatched"] == []
