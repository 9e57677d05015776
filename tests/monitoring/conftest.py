"""Fixtures of the monitoring tests: real SIP endpoints, a silent one, closed ports."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from tests.api import Api
from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim, require_janus
from tests.monitoring.sip_servers import SipServer, baresip, free_port, kamailio
from tests.monitoring.webhook_receiver import webhook_receiver  # noqa: F401 - a fixture
from tests.world import World
from vcorch.monitoring.routes import MONITORING
from vcorch.monitoring.service import MonitoringService


@pytest.fixture(scope="module")
def kamailio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipServer]:
    with kamailio(tmp_path_factory.mktemp("kamailio")) as server:
        yield server


@pytest.fixture(scope="module", params=["kamailio", "baresip"])
def sip_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SipServer]:
    """Each real SIP endpoint in turn."""
    start = kamailio if request.param == "kamailio" else baresip
    with start(tmp_path_factory.mktemp(request.param)) as server:
        yield server


@dataclass
class SilentEndpoint:
    """A UDP port that reads every datagram and never answers."""

    port: int
    arrivals: list[float] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)


class _Recorder(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SilentEndpoint) -> None:
        self._endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._endpoint.arrivals.append(asyncio.get_running_loop().time())
        self._endpoint.payloads.append(data)


@pytest.fixture(scope="module")
def janus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Janus (EchoTest plugin) on 127.0.0.1: its HTTP API URL."""
    require_janus()
    process = JanusProcess(tmp_path_factory.mktemp("janus-echo"), JanusSettings())
    process.start(shim=build_shim())
    try:
        yield process.http_url
    finally:
        process.stop()


@pytest.fixture
async def silent_endpoint() -> AsyncIterator[SilentEndpoint]:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    endpoint = SilentEndpoint(int(sock.getsockname()[1]))
    transport, _protocol = await loop.create_datagram_endpoint(
        lambda: _Recorder(endpoint), sock=sock
    )
    yield endpoint
    transport.close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (UDP or TCP): the kernel refuses."""
    return free_port()


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose listen queue is full and never accepted: new SYNs go unanswered."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(4):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


# -- endpoints of the test world, pointed at real SIP endpoints on this machine -------------


@dataclass
class Monitored:
    """The API test world with its endpoints reachable (or not) on 127.0.0.1.

    central and lao-cai answer 200 (kamailio, user bot), bac-ha answers 404 (kamailio,
    user nobody: reachable, not healthy), dien-bien is a closed port (refused at once).
    """

    world: World
    app: web.Application
    api: Api
    sip: SipServer
    closed_port: int

    @property
    def service(self) -> MonitoringService:
        return self.app[MONITORING]

    @property
    def admin(self) -> Api:
        return self.api.as_(self.world.tokens["admin"])

    def healthy_address(self) -> str:
        return self.sip.uri("bot")

    def refusing_address(self) -> str:
        return f"sip:bot@127.0.0.1:{self.closed_port}"

    async def point(self, code: str, address: str) -> None:
        """Move the endpoint of ``code``'s room to ``address`` (as an operator would)."""
        status, body = await self.admin.patch(
            f"/api/endpoints/{self.world.endpoints[code]}", {"address": address}
        )
        assert status == 200, body
        await self.service.refresh_targets(force=True)


@pytest.fixture
async def monitored(
    app_client: Any, api: Api, world: World, kamailio_server: SipServer, closed_port: int
) -> Monitored:
    found = Monitored(world, app_client.server.app, api, kamailio_server, closed_port)
    for code, address in (
        ("central", kamailio_server.uri("bot")),
        ("lao-cai", kamailio_server.uri("bot")),
        ("lao-cai.bac-ha", kamailio_server.uri("nobody")),
        ("dien-bien", found.refusing_address()),
    ):
        await found.point(code, address)
    return found
