"""SIP OPTIONS probes of one endpoint against real kamailio and baresip on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.monitoring.conftest import SilentEndpoint
from tests.monitoring.sip_servers import SipServer, baresip, baresip_ports, free_ports
from vcorch.monitoring.probes.sip import SipProbe, probe_sip_tcp, probe_sip_udp
from vcorch.monitoring.probes.sip_message import find_branch
from vcorch.monitoring.probes.sip_mux import SipUdpProber
from vcorch.monitoring.probes.sip_uri import parse_sip_uri

TIMEOUT = 3.0


@pytest.fixture
async def shared_prober() -> AsyncIterator[SipUdpProber]:
    async with SipUdpProber(bind_host="127.0.0.1") as prober:
        yield prober


def _probes(kind: str, prober: SipUdpProber) -> SipProbe:
    return SipProbe(prober) if kind == "shared-socket" else SipProbe()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_known_user_answers_200_and_is_healthy(sip_server: SipServer, transport: str) -> None:
    result = await SipProbe().probe(sip_server.uri("bot", transport), TIMEOUT)
    assert (result.ok, result.reachable, result.status_code) == (True, True, 200)
    assert result.detail.startswith("200")
    assert result.latency_ms is not None
    assert 0 < result.latency_ms < TIMEOUT * 1000


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_unknown_user_404_is_reachable_but_not_healthy(
    sip_server: SipServer, transport: str
) -> None:
    result = await SipProbe().probe(sip_server.uri("nobody", transport), TIMEOUT)
    assert (result.ok, result.reachable, result.status_code) == (False, True, 404)
    assert "404" in result.detail


@pytest.mark.parametrize(("user", "status"), [("bot", 200), ("nobody", 404)])
async def test_shared_socket_path_reads_the_same_answers(
    sip_server: SipServer, shared_prober: SipUdpProber, user: str, status: int
) -> None:
    result = await SipProbe(shared_prober).probe(sip_server.uri(user), TIMEOUT)
    assert result.status_code == status
    assert result.ok is (status == 200)
    assert result.reachable
    assert shared_prober.open_transactions == 0


@pytest.mark.parametrize("path", ["connected-socket", "shared-socket"])
async def test_silent_endpoint_times_out_after_timer_e_retransmissions(
    silent_endpoint: SilentEndpoint, path: str
) -> None:
    uri = parse_sip_uri(f"sip:bot@127.0.0.1:{silent_endpoint.port}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    if path == "connected-socket":
        result = await probe_sip_udp(uri, 1.5, t1=0.2)
    else:
        async with SipUdpProber(bind_host="127.0.0.1", t1=0.2) as prober:
            result = await prober.probe(uri, 1.5)
    elapsed = loop.time() - started

    assert not result.reachable
    assert not result.ok
    assert result.detail.startswith("timeout")
    assert 1.45 <= elapsed < 2.5
    # Sent at 0, 0.2, 0.6 and 1.4 s: T1 doubling (RFC 3261 Timer E), the same request.
    assert len(silent_endpoint.arrivals) == 4
    assert result.metrics["retransmissions"] == 3
    gaps = [b - a for a, b in itertools.pairwise(silent_endpoint.arrivals)]
    for gap, nominal in zip(gaps, [0.2, 0.4, 0.8], strict=True):
        assert nominal - 0.02 <= gap <= nominal + 0.2
    branches = {find_branch(payload) for payload in silent_endpoint.payloads}
    assert len(branches) == 1


async def test_retransmission_interval_is_capped_at_t2(silent_endpoint: SilentEndpoint) -> None:
    uri = parse_sip_uri(f"sip:bot@127.0.0.1:{silent_endpoint.port}")
    async with SipUdpProber(bind_host="127.0.0.1", t1=0.1, t2=0.2) as prober:
        result = await prober.probe(uri, 0.95)
    assert result.detail.startswith("timeout")
    gaps = [b - a for a, b in itertools.pairwise(silent_endpoint.arrivals)]
    # 0.1, then 0.2 and never more: 0, 0.1, 0.3, 0.5, 0.7, 0.9.
    assert len(gaps) >= 4
    assert all(gap <= 0.2 + 0.15 for gap in gaps)
    assert gaps[0] < gaps[1]


@pytest.mark.parametrize("path", ["connected-socket", "shared-socket", "tcp"])
async def test_closed_port_is_refused_at_once_not_a_timeout(closed_port: int, path: str) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    if path == "connected-socket":
        result = await probe_sip_udp(parse_sip_uri(f"sip:bot@127.0.0.1:{closed_port}"), TIMEOUT)
    elif path == "shared-socket":
        async with SipUdpProber() as prober:
            result = await prober.probe(parse_sip_uri(f"sip:bot@127.0.0.1:{closed_port}"), TIMEOUT)
    else:
        result = await probe_sip_tcp(
            parse_sip_uri(f"sip:bot@127.0.0.1:{closed_port};transport=tcp"), TIMEOUT
        )
    assert (result.ok, result.reachable, result.detail) == (False, False, "refused")
    assert loop.time() - started < 0.5


async def test_tcp_endpoint_that_never_answers_times_out() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        connections.append(writer)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await SipProbe().probe(f"sip:bot@127.0.0.1:{port};transport=tcp", 0.5)
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
    assert len(connections) == 1
    assert not result.reachable
    assert result.detail.startswith("timeout")


async def test_unresolvable_host_is_down_with_the_name_in_the_detail() -> None:
    result = await SipProbe().probe("sip:bot@no-such-host.invalid", 2.0)
    assert not result.reachable
    assert result.detail.startswith("dns:")
    assert "no-such-host.invalid" in result.detail


async def test_baresip_comes_up_when_its_tls_port_was_taken(tmp_path: Path) -> None:
    # baresip binds SIP/TLS on its port + 1 and gives up when that one is busy.
    port = free_ports(2)
    offered = iter([port])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", port + 1))
        squatter.listen()
        with baresip(tmp_path, ports=lambda: next(offered, None) or baresip_ports()) as server:
            assert server.port != port
            result = await SipProbe().probe(server.uri("bot"), TIMEOUT)
    assert result.status_code == 200
