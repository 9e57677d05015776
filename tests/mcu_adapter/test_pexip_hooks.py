"""Pexip event sink bodies through vcorch's own hook route: stored once, damaged ones kept."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.api import Api, make_settings
from tests.world import World
from vcorch.bridge_events.models import BridgeEventRecord
from vcorch.config import BridgeConfig, Settings
from vcorch.web.keys import SESSIONS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pexip"
HOOK_SECRET = "bi-mat-event-sink-pexip-0123456789"
API_PASSWORD = "mat-khau-api-pexip-khong-duoc-lo"
HOOK = "/api/hooks/pexip-trung-uong"


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("VCORCH_TEST_PEXIP_PASSWORD", API_PASSWORD)
    monkeypatch.setenv("VCORCH_TEST_PEXIP_HOOK", HOOK_SECRET)
    pexip = BridgeConfig(
        name="pexip-trung-uong",
        type="pexip",
        url="https://127.0.0.1:9",
        username="vcorch",
        password_env="VCORCH_TEST_PEXIP_PASSWORD",
        ports=300,
        timeout_seconds=0.5,
        retries=0,
        options={
            "system_location": "Hà Nội",
            "hook_secret_env": "VCORCH_TEST_PEXIP_HOOK",
            "hook_username": "pexip",
        },
    )
    return make_settings(database_url, bridges=[pexip])


def sink_auth(secret: str = HOOK_SECRET) -> dict[str, str]:
    token = base64.b64encode(f"pexip:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


async def stored_events(api: Api) -> int:
    async with api.client.server.app[SESSIONS]() as session:
        count = await session.execute(select(func.count()).select_from(BridgeEventRecord))
        return int(count.scalar_one())


async def test_event_sink_posts_are_stored_once_and_need_the_sink_password(
    api: Api, world: World
) -> None:
    bulk = (FIXTURES / "eventsink_bulk.json").read_bytes()
    response = await api.client.post(HOOK, data=bulk, headers=sink_auth())
    assert response.status == 200, await response.text()
    first = await response.json()
    assert (first["received"], first["stored"]) == (2, 2)  # a join and a leave
    # The same message delivered again stores nothing new.
    again = await (await api.client.post(HOOK, data=bulk, headers=sink_auth())).json()
    assert again["stored"] == 0
    assert await stored_events(api) == 2
    refused = await api.client.post(HOOK, data=bulk, headers=sink_auth("sai"))
    assert refused.status == 401
    # Sink lifecycle and conference messages carry no join or leave.
    started = (FIXTURES / "eventsink_started.json").read_bytes()
    quiet = await (await api.client.post(HOOK, data=started, headers=sink_auth())).json()
    assert quiet["received"] == 0


async def test_a_damaged_event_sink_body_is_kept_and_acknowledged(api: Api, world: World) -> None:
    response = await api.client.post(
        HOOK, data=b'{"event": "participant_connected", "data": []}', headers=sink_auth()
    )
    # Answered 200 so the node's in-order queue moves on; kept as a rejected body.
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["rejected_id"] is not None
    assert API_PASSWORD not in str(body) and HOOK_SECRET not in str(body)
    assert await stored_events(api) == 0
