"""SIP OPTIONS probes of one endpoint, over UDP or TCP.

A final response of any kind means the endpoint is reachable; only ``200`` means healthy
(a ``404`` says the device answers but does not know the user in the URI).  Over UDP the
request is retransmitted on RFC 3261 Timer E; over TCP it is sent once (a reliable
transport does not retransmit, section 17.1.2.2) and the first final response is read.

The single-endpoint UDP path uses its own *connected* socket, on which every OS reports
ICMP "port unreachable" as ECONNREFUSED, so a closed port is "refused" at once rather
than a timeout.  Sweeps use :class:`~vcorch.monitoring.probes.sip_mux.SipUdpProber`
instead (one socket for thousands of transactions); :class:`SipProbe` uses it too when
given one.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket

from vcorch.monitoring.probes.resolve import ResolutionError, resolve
from vcorch.monitoring.probes.result import ProbeResult, down, healthy, unhealthy
from vcorch.monitoring.probes.sip_message import (
    BRANCH_COOKIE,
    ResponseHead,
    build_options,
    content_length,
    parse_response,
)
from vcorch.monitoring.probes.sip_mux import T1, T2, TIMER_F_FACTOR, SipUdpProber
from vcorch.monitoring.probes.sip_uri import SipUri, parse_sip_uri

_CLOSE_GRACE = 0.5


def _new_keys() -> tuple[str, str, str]:
    token = secrets.token_hex(8)
    return BRANCH_COOKIE + token, f"{token}@vcorch", token


def _judge(head: ResponseHead, latency_ms: float, retransmissions: int) -> ProbeResult:
    metrics = {"retransmissions": float(retransmissions)} if retransmissions else None
    if head.status == 200:
        return healthy(latency_ms, head.summary, head.status, metrics)
    return unhealthy(latency_ms, head.summary, head.status, metrics)


def _error_detail(err: OSError) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    return err.strerror or type(err).__name__


class _OneTransaction(asyncio.DatagramProtocol):
    """Collects the final response, or the ICMP error, of one OPTIONS on a connected socket."""

    def __init__(self, branch: bytes, call_id: bytes, outcome: asyncio.Future[object]) -> None:
        self._branch = branch
        self._call_id = call_id
        self.outcome = outcome
        self.proceeding = False
        self.answered_at = 0.0

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        head = parse_response(data)
        if head is None or head.branch != self._branch or head.call_id != self._call_id:
            return
        if not head.is_final:
            self.proceeding = True
            return
        if not self.outcome.done():
            self.answered_at = asyncio.get_running_loop().time()
            self.outcome.set_result(head)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError) and not self.outcome.done():
            self.outcome.set_result(exc)


async def probe_sip_udp(
    uri: SipUri,
    timeout: float,  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
    *,
    t1: float = T1,
    t2: float = T2,
) -> ProbeResult:
    """OPTIONS over UDP from a connected socket of its own."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        family, sockaddr = await resolve(uri.host, uri.port, timeout, kind=socket.SOCK_DGRAM)
    except ResolutionError as err:
        return down(str(err))
    limit = min(timeout - (loop.time() - started), TIMER_F_FACTOR * t1)
    if limit <= 0:
        return down(f"timeout after {timeout:g} s (name resolution)")
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect(sockaddr)
    except OSError as err:
        sock.close()
        return down(_error_detail(err))
    branch, call_id, tag = _new_keys()
    outcome: asyncio.Future[object] = loop.create_future()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _OneTransaction(branch.encode(), call_id.encode(), outcome), sock=sock
    )
    try:
        local_host, local_port = sock.getsockname()[:2]
        payload = build_options(
            uri,
            transport="UDP",
            local_host=str(local_host),
            local_port=int(local_port),
            branch=branch,
            call_id=call_id,
            tag=tag,
        )
        sent_at = loop.time()
        deadline = sent_at + limit
        interval = t1
        retransmissions = 0
        transport.sendto(payload)
        while True:
            remaining = deadline - loop.time()
            if remaining > 0:
                await asyncio.wait({outcome}, timeout=min(interval, remaining))
            if outcome.done():
                break
            if loop.time() >= deadline - 0.001:
                return down(
                    f"timeout after {timeout:g} s ({retransmissions} retransmissions)",
                    {"retransmissions": float(retransmissions)},
                )
            transport.sendto(payload)
            retransmissions += 1
            interval = t2 if protocol.proceeding else min(interval * 2, t2)
        answer = outcome.result()
        if isinstance(answer, OSError):
            return down(_error_detail(answer))
        assert isinstance(answer, ResponseHead)
        return _judge(answer, (protocol.answered_at - sent_at) * 1000.0, retransmissions)
    finally:
        transport.close()


async def probe_sip_tcp(uri: SipUri, timeout: float) -> ProbeResult:  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
    """OPTIONS over a TCP connection: connect, send once, read up to the final response."""
    loop = asyncio.get_running_loop()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            family, sockaddr = await resolve(uri.host, uri.port, timeout, kind=socket.SOCK_STREAM)
            reader, writer = await asyncio.open_connection(sockaddr[0], sockaddr[1], family=family)
            local_host, local_port = writer.get_extra_info("sockname")[:2]
            branch, call_id, tag = _new_keys()
            sent_at = loop.time()
            writer.write(
                build_options(
                    uri,
                    transport="TCP",
                    local_host=str(local_host),
                    local_port=int(local_port),
                    branch=branch,
                    call_id=call_id,
                    tag=tag,
                )
            )
            await writer.drain()
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                body = content_length(raw)
                if body:
                    await reader.readexactly(body)
                head = parse_response(raw)
                if head is None:
                    return down("answered, but not with a SIP response")
                if head.branch != branch.encode() or not head.is_final:
                    continue  # a provisional response, or not ours: read on
                return _judge(head, (loop.time() - sent_at) * 1000.0, 0)
    except TimeoutError:
        return down(f"timeout after {timeout:g} s")
    except ResolutionError as err:
        return down(str(err))
    except asyncio.IncompleteReadError:
        return down("connection closed before a final response")
    except asyncio.LimitOverrunError:
        return down("response head too long")
    except OSError as err:
        return down(_error_detail(err))
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), _CLOSE_GRACE)


class SipProbe:
    """The SIP probe: OPTIONS over the URI's transport (UDP unless ``transport=tcp``).

    With a shared :class:`SipUdpProber`, UDP probes go through its one socket.
    """

    def __init__(self, udp: SipUdpProber | None = None, *, t1: float = T1, t2: float = T2) -> None:
        self._udp = udp
        self._t1 = t1
        self._t2 = t2

    async def probe(self, target: str, timeout: float) -> ProbeResult:  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
        uri = parse_sip_uri(target)
        if uri.transport == "tcp":
            return await probe_sip_tcp(uri, timeout)
        if self._udp is not None:
            return await self._udp.probe(uri, timeout)
        return await probe_sip_udp(uri, timeout, t1=self._t1, t2=self._t2)
