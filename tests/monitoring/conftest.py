"""Fixtures of the monitoring tests: real SIP endpoints, a silent one, closed ports."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from tests.monitoring.sip_servers import SipServer, baresip, free_port, kamailio


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
