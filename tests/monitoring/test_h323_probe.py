"""H.323 probe: TCP connect to the call-signalling port of a listener on 127.0.0.1."""

from __future__ import annotations

import asyncio

from vcorch.monitoring.probes.h323 import H323Probe


async def test_listening_port_is_healthy_with_connect_latency() -> None:
    accepted = asyncio.Event()

    async def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await H323Probe().probe(f"h323:phong-hop@127.0.0.1:{port}", 2.0)
        await asyncio.wait_for(accepted.wait(), 2.0)
    finally:
        server.close()
        await server.wait_closed()
    assert (result.ok, result.reachable) == (True, True)
    assert result.latency_ms is not None
    assert 0 < result.latency_ms < 2000
    assert str(port) in result.detail


async def test_closed_port_is_refused(closed_port: int) -> None:
    result = await H323Probe().probe(f"h323:127.0.0.1:{closed_port}", 2.0)
    assert (result.ok, result.reachable, result.detail) == (False, False, "refused")


async def test_unanswered_connect_times_out(full_backlog: int) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await H323Probe().probe(f"h323:127.0.0.1:{full_backlog}", 0.5)
    assert (result.ok, result.reachable) == (False, False)
    assert result.detail.startswith("timeout")
    assert 0.45 <= loop.time() - started < 1.5
