"""Join links over HTTP: who may make them, where they lead, and how they are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api import Api, FakeClock, make_settings
from tests.webrtc.conftest import PUBLIC_URL, TURN_SECRET
from tests.webrtc.live import live_meeting, set_run_status
from tests.world import World
from vcorch.config import BridgeConfig, Settings
from vcorch.mcu_adapter.janus.naming import participant_id_for
from vcorch.orchestration.models import RunConference, RunSite
from vcorch.web.keys import SESSIONS


def link_path(url: str) -> str:
    assert url.startswith(f"{PUBLIC_URL}/join/"), url
    return url.removeprefix(PUBLIC_URL)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def make_link(api: Api, world: World, user: str, meeting_id: int, site: int) -> Any:
    return await api.as_(world.tokens[user]).post(f"/api/meetings/{meeting_id}/sites/{site}/link")


async def test_a_link_leads_to_the_builtin_bridge_with_turn_credentials(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    live = await live_meeting(app, api, world, clock.now)
    _, link = await make_link(
        api, world, "laocai_op", live.meeting_id, live.meeting_sites["lao-cai"]
    )
    token = token_of(link["url"])
    status, info = await api.as_(None).get(f"/api/join/{token}")
    assert status == 200, info
    assert info["status"] == "live"
    assert info["mode"] == "builtin" and info["whip_url"] == f"/whip/{token}"
    # Hosted on the simulated MCU (no browsers, nothing links the built-in conference to
    # it): this site is in a room of its own, and the page is told so.
    assert info["separate_room"] is True
    # Once a link leg joins the built-in conference into the MCU's, it is one meeting again.
    async with app[SESSIONS].begin() as session:
        session.add(
            RunConference(
                run_id=live.run_id,
                bridge="webrtc",
                conference_id=f"run-{live.run_id}",
                conference_key=f"run-{live.run_id}",
                role="fallback",
                active=True,
                link_participant_id="leg-to-mo-phong",
            )
        )
    status, info = await api.as_(None).get(f"/api/join/{token}")
    assert status == 200 and info["separate_room"] is False, info
    assert info["meeting_title"] == "Hội nghị giao ban chương trình — quý IV"
    assert info["site_name"] == "Phòng họp lao-cai" and info["unit_name"] == "Tỉnh Lào Cai"
    assert info["video"] == {"max_width": 640, "max_height": 360, "max_fps": 15}
    stun, turn = info["ice_servers"]
    assert stun == {"urls": ["stun:127.0.0.1:3478"]}
    assert turn["urls"] == ["turn:127.0.0.1:3478?transport=udp"]
    # coturn's use-auth-secret: "<expiry>:<name>", base64(HMAC-SHA1(secret, username)).
    expiry, name = turn["username"].split(":")
    assert name == f"site-{live.run_sites['lao-cai']}"
    assert abs(int(expiry) - (clock.now.timestamp() + 3600)) < 2
    expected = base64.b64encode(
        hmac.new(TURN_SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected
    assert TURN_SECRET not in str(info)


async def test_refusals_are_clear(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    live = await live_meeting(app, api, world, clock.now)
    _, link = await make_link(
        api, world, "laocai_op", live.meeting_id, live.meeting_sites["lao-cai"]
    )
    token = token_of(link["url"])
    anonymous = api.as_(None)
    version, site, meeting, expires, mac = token.split(".")
    for forged in (
        f"{version}.{live.run_sites['dien-bien']}.{meeting}.{expires}.{mac}",
        f"{version}.{site}.{meeting}.{int(expires) + 3600}.{mac}",
        "janus",
    ):
        status, body = await anonymous.get(f"/api/join/{forged}")
        assert status == 403 and body["type"].endswith("link-invalid"), body
        status, body = await anonymous.call(
            "POST", f"/whip/{forged}", data=b"v=0", headers={"Content-Type": "application/sdp"}
        )
        assert status == 403, body
    await set_run_status(app, live.run_id, "ended")
    # The page is told the meeting ended (not "not live"), with nothing to connect to...
    status, body = await anonymous.get(f"/api/join/{token}")
    assert status == 200 and body["status"] == "ended", body
    assert "mode" not in body and "whip_url" not in body and "ice_servers" not in body
    # ... and joining or listing the sites is refused.
    status, body = await anonymous.call(
        "POST", f"/whip/{token}", data=b"v=0", headers={"Content-Type": "application/sdp"}
    )
    assert status == 409 and body["type"].endswith("meeting-not-live"), body
    assert body["detail"] == "the meeting has ended"
    status, body = await anonymous.get(f"/api/join/{token}/sites")
    assert status == 409 and body["type"].endswith("meeting-not-live"), body
    await set_run_status(app, live.run_id, "failed")
    status, body = await anonymous.get(f"/api/join/{token}")
    assert status == 200 and body["status"] == "failed", body
    await set_run_status(app, live.run_id, "live")
    clock.advance(hours=3)
    status, body = await anonymous.get(f"/api/join/{token}")
    assert status == 410 and body["type"].endswith("link-expired"), body
    # The page itself always loads: it explains the problem it is told.
    response = await app_client.get(f"/join/{token}")
    assert response.status == 200
    page = await response.text()
    assert "/static/join.js" in page and token not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    script = await app_client.get("/static/join.js")
    assert script.status == 200 and "link-expired" in await script.text()


async def test_whip_refuses_what_it_cannot_use(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    live = await live_meeting(app, api, world, clock.now)
    _, link = await make_link(
        api, world, "laocai_op", live.meeting_id, live.meeting_sites["lao-cai"]
    )
    token = token_of(link["url"])
    anonymous = api.as_(None)
    status, body = await anonymous.call("POST", f"/whip/{token}", json={"sdp": "v=0"})
    assert status == 415, body
    status, body = await anonymous.call(
        "POST",
        f"/whip/{token}",
        data=b"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\ngarbage\r\n",
        headers={"Content-Type": "application/sdp"},
    )
    assert status == 400 and body["type"].endswith("invalid-offer"), body
    status, body = await anonymous.call(
        "POST", f"/whip/{token}", data=b"v=0\r\n", headers={"Content-Type": "application/sdp"}
    )
    assert status == 400 and "no audio" in body["detail"], body
    status, body = await anonymous.delete(f"/whip/{token}/sessions/nosuchsession")
    assert status == 404, body


@pytest.fixture
def janus_settings(database_url: str, tmp_path: Path) -> Settings:
    secret = tmp_path / "janus-admin-secret"
    secret.write_text("janus-admin-secret", encoding="utf-8")
    janus = BridgeConfig(
        name="janus-hn",
        type="janus",
        url="http://127.0.0.1:9/janus",
        secret_file=secret,
        options={"signalling_url": "https://janus.example.gov.vn/janus"},
    )
    return make_settings(database_url, public_url=PUBLIC_URL, bridges=[janus])


async def test_a_bridge_that_takes_browsers_gets_the_link_unless_the_meeting_fell_back(
    janus_settings: Settings, clock: FakeClock, aiohttp_client: Any
) -> None:
    from tests.world import build_world
    from vcorch.app import create_app

    client = await aiohttp_client(create_app(janus_settings, clock=clock, background=False))
    api = Api(client)
    world = await build_world(client.server.app, api)
    app = client.server.app
    live = await live_meeting(
        app, api, world, clock.now, host_bridge="janus-hn", host_conference="424242"
    )
    _, link = await make_link(
        api, world, "laocai_op", live.meeting_id, live.meeting_sites["lao-cai"]
    )
    status, info = await api.as_(None).get(f"/api/join/{token_of(link['url'])}")
    assert status == 200, info
    # vcorch's own page joins the Janus room with janus.js: room and participant id come
    # from the API, not from the page's address.
    assert info["mode"] == "janus" and "whip_url" not in info and "url" not in info, info
    assert info["separate_room"] is False
    janus = info["janus"]
    assert janus["server"] == "https://janus.example.gov.vn/janus"
    assert janus["room"] == 424242 and janus["plugin"] == "audiobridge"
    assert janus["display"] == "Phòng họp lao-cai"
    assert janus["participant_id"] == participant_id_for(424242, str(live.run_sites["lao-cai"]))
    # The page may talk to that Janus (CSP) and loads Janus' library from vcorch itself.
    page = await client.get(f"/join/{token_of(link['url'])}")
    policy = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' https://janus.example.gov.vn;" in policy, policy
    assert "script-src 'self';" in policy
    # A WHIP offer on such a link is sent to the bridge's page instead.
    status, body = await api.as_(None).call(
        "POST",
        f"/whip/{token_of(link['url'])}",
        data=b"v=0\r\nm=audio 9 x\r\n",
        headers={"Content-Type": "application/sdp"},
    )
    assert status == 409 and body["type"].endswith("join-elsewhere"), body
    # When the whole meeting fell back, every link leads to the built-in bridge.
    fallen = await live_meeting(
        app,
        api,
        world,
        clock.now + timedelta(hours=3),
        host_bridge="janus-hn",
        host_conference="434343",
        whole_fallback=True,
    )
    _, link = await make_link(
        api, world, "laocai_op", fallen.meeting_id, fallen.meeting_sites["lao-cai"]
    )
    status, info = await api.as_(None).get(f"/api/join/{token_of(link['url'])}")
    assert status == 200 and info["mode"] == "builtin", info
    assert info["separate_room"] is False  # everyone is on the built-in bridge
    # The built-in bridge is listed with the others (its load is visible), last in order.
    status, bridges = await api.as_(world.tokens["admin"]).get("/api/bridges")
    rows = {row["name"]: row for row in bridges["items"]}
    assert rows["webrtc"]["type"] == "webrtc" and rows["webrtc"]["healthy"] is True
    assert rows["webrtc"]["priority"] > rows["janus-hn"]["priority"]


async def test_the_sites_of_the_links_meeting(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    live = await live_meeting(app, api, world, clock.now)
    async with app[SESSIONS].begin() as session:
        site = await session.get(RunSite, live.run_sites["dien-bien"])
        assert site is not None
        site.state, site.channel = "connected", "browser"
        site = await session.get(RunSite, live.run_sites["central"])
        assert site is not None
        site.channel = "room_system"
    _, link = await make_link(
        api, world, "laocai_op", live.meeting_id, live.meeting_sites["lao-cai"]
    )
    token = token_of(link["url"])
    status, body = await api.as_(None).get(f"/api/join/{token}/sites")
    assert status == 200, body
    rows = {item["room_name"]: item for item in body["items"]}
    assert set(rows) == {"Phòng họp central", "Phòng họp lao-cai", "Phòng họp dien-bien"}
    assert rows["Phòng họp lao-cai"]["is_me"] is True
    assert [name for name, row in rows.items() if row["is_me"]] == ["Phòng họp lao-cai"]
    assert rows["Phòng họp central"] == {
        "room_name": "Phòng họp central",
        "unit_name": "Cơ quan Trung ương",
        "state": "connected",
        "channel": "room_system",
        "channel_label": "Thiết bị phòng họp",
        "is_me": False,
        "is_host": True,
    }
    assert rows["Phòng họp dien-bien"]["channel"] == "browser"
    assert rows["Phòng họp lao-cai"]["channel"] is None
    # The link is the credential: a forged one, or one of an expired meeting, gets nothing.
    status, body = await api.as_(None).get(f"/api/join/{token[:-2]}AA/sites")
    assert status == 403, body
    clock.advance(hours=3)
    status, body = await api.as_(None).get(f"/api/join/{token}/sites")
    assert status == 410, body


async def test_janus_js_is_served_from_the_package_or_its_absence_said(
    database_url: str, tmp_path: Path, clock: FakeClock, aiohttp_client: Any
) -> None:
    from vcorch.app import create_app

    library = tmp_path / "janus.js"
    library.write_text("window.Janus = function () {};\n", encoding="utf-8")
    settings = make_settings(database_url, janus_js_path=library)
    client = await aiohttp_client(create_app(settings, clock=clock, background=False))
    response = await client.get("/vendor/janus.js")
    assert response.status == 200
    assert response.content_type == "application/javascript"
    assert await response.text() == "window.Janus = function () {};\n"
    library.unlink()
    response = await client.get("/vendor/janus.js")
    assert response.status == 404
    assert "libjs-janus-gateway" in (await response.json())["detail"]
