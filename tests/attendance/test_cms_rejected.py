"""A CDR batch vcorch cannot read is kept as rejected and acknowledged, so the Call Bridge's
queue moves on: CMS resends a batch it was refused for ever, holding back every later one."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from tests.attendance.helpers import wait_for_events
from tests.attendance.test_cms_e2e import (
    BRIDGE,
    HOOK_SECRET,
    cms_bridge,
    cms_settings,
    emulator,
    receive_cdrs,
)
from tests.emulators.cisco_cms import CmsEmulator
from vcorch.app import create_app
from vcorch.bridge_events.models import RejectedHookBody
from vcorch.db.base import utcnow
from vcorch.mcu_adapter.base import ConferenceSpec, DialTarget
from vcorch.web.keys import SESSIONS

__all__ = ["emulator"]  # the fixture, shared with the end-to-end test

DAMAGED = b'<?xml version="1.0"?>\n<records session="s"><record type="callLegStart" recor'


async def rejected_rows(app: Any) -> list[RejectedHookBody]:
    async with app[SESSIONS]() as session:
        return list((await session.scalars(select(RejectedHookBody))).all())


async def test_a_damaged_cdr_batch_is_kept_and_the_next_ones_still_arrive(
    database_url: str, tmp_path: Path, aiohttp_client: Any, emulator: CmsEmulator
) -> None:
    settings = cms_settings(database_url, tmp_path, emulator)
    client = await aiohttp_client(create_app(settings, clock=utcnow, background=False))
    app = client.server.app
    await receive_cdrs(emulator, client)
    emulator.send_raw_cdr_batch(DAMAGED)
    bridge = cms_bridge(client)
    ref = await bridge.create_conference(
        ConferenceSpec(key="rejected", title="Họp", expected_sites=1)
    )
    placed = await bridge.dial_out(
        ref,
        DialTarget(
            site_id="1",
            kind="sip",
            address="sip:phonghop@central.example.vn",
            display_name="Phòng họp",
        ),
    )
    await wait_for_events(
        app,
        BRIDGE,
        lambda got: any(
            e.kind == "join" and e.participant_id == placed.participant_id for e in got
        ),
    )
    assert emulator.cdr_redeliveries == 0
    [kept] = await rejected_rows(app)
    assert (kept.bridge, kept.body, kept.body_size) == (BRIDGE, DAMAGED, len(DAMAGED))
    assert kept.content_type == "text/xml"
    assert kept.reason


async def test_the_hook_says_the_body_was_kept_and_strangers_are_not_stored(
    database_url: str, tmp_path: Path, aiohttp_client: Any, emulator: CmsEmulator
) -> None:
    settings = cms_settings(database_url, tmp_path, emulator)
    client = await aiohttp_client(create_app(settings, clock=utcnow, background=False))
    app = client.server.app
    headers = {"Content-Type": "text/xml"}
    response = await client.post(f"/api/hooks/{BRIDGE}?token=wrong", data=DAMAGED, headers=headers)
    assert response.status == 401
    assert await rejected_rows(app) == []
    response = await client.post(
        f"/api/hooks/{BRIDGE}?token={HOOK_SECRET}", data=DAMAGED, headers=headers
    )
    assert response.status == 200
    answer = await response.json()
    [kept] = await rejected_rows(app)
    assert answer["rejected_id"] == kept.id
    assert answer["received"] == answer["stored"] == 0
    assert answer["rejected_reason"] == kept.reason


async def test_the_emulator_takes_the_receiver_as_uri_and_refuses_url(
    emulator: CmsEmulator,
) -> None:
    basic = base64.b64encode(f"{emulator.username}:{emulator.password}".encode()).decode()
    receivers = f"{emulator.url}/api/v1/system/cdrReceivers"
    async with aiohttp.ClientSession(headers={"Authorization": f"Basic {basic}"}) as http:
        async with http.post(receivers, data={"url": "http://127.0.0.1:9/cdr"}) as refused:
            assert refused.status == 400
            assert b"parameterError" in await refused.read()
        async with http.post(receivers, data={"uri": "http://127.0.0.1:9/cdr"}) as taken:
            assert taken.status == 200
        async with http.get(receivers) as listed:
            assert b"<uri>http://127.0.0.1:9/cdr</uri>" in await listed.read()


async def test_a_large_damaged_body_keeps_its_first_256_kib_and_its_size(
    database_url: str, tmp_path: Path, aiohttp_client: Any, emulator: CmsEmulator
) -> None:
    settings = cms_settings(database_url, tmp_path, emulator)
    client = await aiohttp_client(create_app(settings, clock=utcnow, background=False))
    large = DAMAGED + b"x" * (300 * 1024)
    response = await client.post(
        f"/api/hooks/{BRIDGE}?token={HOOK_SECRET}", data=large, headers={"Content-Type": "text/xml"}
    )
    assert response.status == 200
    [kept] = await rejected_rows(client.server.app)
    assert kept.body == large[: 256 * 1024] and kept.body_size == len(large)
