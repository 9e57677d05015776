"""More sites than one bridge has ports: the meeting spans two bridges linked by a cascade."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api import Api, FakeClock, make_settings
from tests.orchestration.conftest import book, settle, sim
from tests.world import World
from vcorch.config import Settings
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge


@pytest.fixture
def settings(database_url: str) -> Settings:
    small = [sim("mcu-a", 10, unreachable=[]), sim("mcu-b", 20, unreachable=[])]
    for bridge in small:
        bridge["ports"] = 3
    return make_settings(database_url, bridges=small)


async def test_sites_beyond_one_bridge_are_cascaded(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id = await book(api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2))
    secretariat = api.as_(world.tokens["central_sec"])
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/start")
    assert status == 202, body
    await settle(app, clock)
    status, live = await secretariat.get(f"/api/meetings/{meeting_id}/live")
    assert {s["state"] for s in live["sites"]} == {"connected"}
    roles = {b["name"]: b["role"] for b in live["bridges"] if b["active"]}
    assert roles == {"mcu-a": "host", "mcu-b": "cascade"}
    by_bridge: dict[str, int] = {}
    for site in live["sites"]:
        by_bridge[site["bridge"]] = by_bridge.get(site["bridge"], 0) + 1
    assert by_bridge == {"mcu-a": 2, "mcu-b": 2}
    # The host carries its two sites and the link: all three of its ports.
    host = app[REGISTRY]["mcu-a"]
    assert isinstance(host, SimulatedBridge)
    conference = next(iter(host.mcu._conferences.values()))
    links = [leg for leg in conference.legs.values() if leg.site_id is None]
    assert len(links) == 1 and links[0].address.endswith("@mcu-b.mcu.invalid")
    assert host.mcu.ports_in_use() == 3
