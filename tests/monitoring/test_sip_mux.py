"""Many transactions on the one shared UDP socket, against real kamailio."""

from __future__ import annotations

import asyncio
import socket

from tests.monitoring.conftest import SilentEndpoint
from tests.monitoring.sip_servers import SipServer, free_port
from tests.waiting import eventually
from vcorch.monitoring.probes.sip_mux import SipUdpProber, SipUdpTarget
from vcorch.monitoring.probes.sip_uri import parse_sip_uri


def _target(uri: str) -> SipUdpTarget:
    parsed = parse_sip_uri(uri)
    return SipUdpTarget(parsed, socket.AF_INET, parsed.sockaddr)


async def test_batch_sorts_healthy_unknown_user_silent_and_refused(
    kamailio_server: SipServer, silent_endpoint: SilentEndpoint, closed_port: int
) -> None:
    targets = [
        _target(kamailio_server.uri("bot")),
        _target(kamailio_server.uri("nobody")),
        _target(f"sip:bot@127.0.0.1:{silent_endpoint.port}"),
        _target(f"sip:bot@127.0.0.1:{closed_port}"),
    ]
    async with SipUdpProber(bind_host="127.0.0.1", t1=0.2) as prober:
        results = await prober.probe_many(targets, 0.7)
        assert prober.open_transactions == 0
    healthy, unknown_user, silent, refused = results
    assert (healthy.ok, healthy.status_code) == (True, 200)
    assert (unknown_user.ok, unknown_user.reachable, unknown_user.status_code) == (False, True, 404)
    assert not silent.reachable
    assert silent.detail.startswith("timeout")
    assert len(silent_endpoint.arrivals) >= 2  # retransmitted on the shared socket too
    assert (refused.reachable, refused.detail) == (False, "refused")


async def test_refusals_interleaved_with_answers_go_to_the_right_transactions(
    kamailio_server: SipServer,
) -> None:
    # ICMP errors on the shared socket can surface on the next, unrelated send or read;
    # each must still end the transaction it belongs to and no other.
    closed = [free_port() for _ in range(40)]
    targets = []
    for port in closed:
        targets.append(_target(kamailio_server.uri("bot")))
        targets.append(_target(f"sip:bot@127.0.0.1:{port}"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with SipUdpProber(bind_host="127.0.0.1") as prober:
        results = await prober.probe_many(targets, 3.0, window=16)
        icmp_errors = prober.stats.icmp_errors
    assert loop.time() - started < 1.5  # no refusal was left to time out
    answers, refusals = results[0::2], results[1::2]
    assert [result.status_code for result in answers] == [200] * 40
    assert [result.detail for result in refusals] == ["refused"] * 40
    assert icmp_errors >= 40


async def test_window_bounds_open_transactions(silent_endpoint: SilentEndpoint) -> None:
    targets = [_target(f"sip:bot@127.0.0.1:{silent_endpoint.port}")] * 12
    async with SipUdpProber(bind_host="127.0.0.1", t1=0.5) as prober:
        batch = asyncio.ensure_future(prober.probe_many(targets, 0.3, window=5))
        await eventually(lambda: prober.open_transactions, what="a window open")
        assert prober.open_transactions == 5
        results = await batch
    assert len(results) == 12
    assert all(result.detail.startswith("timeout") for result in results)


async def test_cancelled_batch_leaves_nothing_open(silent_endpoint: SilentEndpoint) -> None:
    targets = [_target(f"sip:bot@127.0.0.1:{silent_endpoint.port}")] * 20
    async with SipUdpProber(bind_host="127.0.0.1") as prober:
        batch = asyncio.ensure_future(prober.probe_many(targets, 5.0))
        await eventually(lambda: prober.open_transactions == 20, what="every probe sent")
        batch.cancel()
        await asyncio.gather(batch, return_exceptions=True)
        assert prober.open_transactions == 0


async def test_closing_the_prober_ends_pending_probes_as_down(
    silent_endpoint: SilentEndpoint,
) -> None:
    prober = SipUdpProber(bind_host="127.0.0.1")
    async with prober:
        pending = asyncio.ensure_future(
            prober.probe(parse_sip_uri(f"sip:bot@127.0.0.1:{silent_endpoint.port}"), 5.0)
        )
        await eventually(lambda: prober.open_transactions == 1, what="the probe sent")
    result = await asyncio.wait_for(pending, 1.0)
    assert (result.reachable, result.detail) == (False, "prober closed")


async def test_stray_and_foreign_datagrams_are_ignored(kamailio_server: SipServer) -> None:
    async with SipUdpProber(bind_host="127.0.0.1") as prober:
        first = await prober.probe(parse_sip_uri(kamailio_server.uri("bot")), 2.0)
        # Someone else's response, and noise, sent to the prober's socket.
        port = prober.local_port()
        assert port is not None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            other.sendto(
                b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x;branch=z9hG4bKnotours\r\n\r\n",
                ("127.0.0.1", port),
            )
            other.sendto(b"\x00garbage", ("127.0.0.1", port))
        await eventually(lambda: prober.stats.stray == 2, what="both datagrams read")
        second = await prober.probe(parse_sip_uri(kamailio_server.uri("bot")), 2.0)
        assert prober.stats.stray == 2
    assert first.ok and second.ok


async def test_closing_during_a_batch_ends_the_rest_without_reopening(
    silent_endpoint: SilentEndpoint,
) -> None:
    targets = [_target(f"sip:bot@127.0.0.1:{silent_endpoint.port}")] * 20
    prober = SipUdpProber(bind_host="127.0.0.1")
    async with prober:
        batch = asyncio.ensure_future(prober.probe_many(targets, 5.0, window=5))
        await eventually(lambda: len(silent_endpoint.payloads) == 5, what="the first window sent")
    results = await asyncio.wait_for(batch, 1.0)
    assert [result.detail for result in results] == ["prober closed"] * 20
    assert len(silent_endpoint.payloads) == 5  # only the first window was ever sent
    assert prober.local_port() is None
