"""Each kind of endpoint reaches the right probe through the service: H.323 listeners, a
room gateway's management page, a room's Janus gateway (real media), SIP over TCP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.api import FakeClock
from tests.janus_harness.peer import loopback_ice
from tests.monitoring.conftest import Monitored


@pytest.fixture
async def h323_port() -> AsyncIterator[int]:
    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


@pytest.fixture
async def management_pages() -> AsyncIterator[str]:
    """A device's web interface: /ok answers 200, /broken 500."""

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="Polycom RealPresence")

    async def broken(_request: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/broken", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def _endpoint(monitored: Monitored, **fields: Any) -> int:
    body = {"room_id": monitored.world.rooms["central"], "name": fields.pop("name"), **fields}
    status, created = await monitored.admin.post("/api/endpoints", body)
    assert status == 201, created
    endpoint_id: int = created["id"]
    return endpoint_id


async def test_h323_http_and_sip_over_tcp_endpoints(
    monitored: Monitored,
    clock: FakeClock,
    h323_port: int,
    closed_port: int,
    management_pages: str,
) -> None:
    h323 = await _endpoint(
        monitored, name="Polycom HDX", kind="h323", address=f"127.0.0.1:{h323_port}"
    )
    h323_closed = await _endpoint(
        monitored, name="HDX cũ", kind="h323", address=f"h323:0215@127.0.0.1:{closed_port}"
    )
    page_ok = await _endpoint(
        monitored,
        name="Máy trạm WebRTC",
        kind="webrtc",
        address="may-tram-1",
        management_url=f"{management_pages}/ok",
    )
    page_broken = await _endpoint(
        monitored,
        name="Máy trạm hỏng",
        kind="webrtc",
        address="may-tram-2",
        management_url=f"{management_pages}/broken",
    )
    sip_tcp = await _endpoint(
        monitored,
        name="SIP qua TCP",
        kind="sip",
        address=monitored.sip.uri("bot"),
        probe_transport="tcp",
    )
    results = await monitored.service.probe_now(
        [h323, h323_closed, page_ok, page_broken, sip_tcp], clock.now
    )
    assert results[h323].ok and results[h323].detail == f"TCP {h323_port} accepts connections"
    assert (results[h323_closed].ok, results[h323_closed].detail) == (False, "refused")
    assert results[page_ok].ok and results[page_ok].status_code == 200
    assert (results[page_broken].ok, results[page_broken].reachable) == (False, True)
    assert results[page_broken].status_code == 500
    assert results[sip_tcp].ok and results[sip_tcp].status_code == 200
    status, page = await monitored.admin.get("/api/health/endpoints?kind=webrtc")
    assert status == 200
    kinds = {item["endpoint_id"]: (item["state"], item["probe_kind"]) for item in page["items"]}
    assert kinds == {page_ok: ("up", "http"), page_broken: ("down", "http")}


async def test_a_rooms_janus_gateway_gets_the_media_probe(
    monitored: Monitored, clock: FakeClock, janus_url: str
) -> None:
    gateway = await _endpoint(
        monitored, name="Cổng WebRTC phòng họp", kind="webrtc", address=janus_url
    )
    with loopback_ice():
        results = await monitored.service.probe_now([gateway], clock.now)
    result = results[gateway]
    assert result.ok, result.detail
    status, page = await monitored.admin.get("/api/health/endpoints?kind=webrtc")
    assert status == 200
    (item,) = page["items"]
    assert (item["state"], item["probe_kind"]) == ("up", "webrtc")
    # The media figures are kept with the state for operators to read.
    assert item["measurements"]["packets_received"] > 0
    assert item["latency_ms"] == result.latency_ms
