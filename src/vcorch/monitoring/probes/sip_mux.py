"""Many SIP OPTIONS transactions over one UDP socket, for sweeps of thousands of endpoints.

One socket per address family carries every outstanding transaction; responses are matched
to their transaction by the Via branch (RFC 3261 section 17.1.3) and checked against the
Call-ID.  Each transaction retransmits on Timer E (T1 doubling, capped at T2; after a
provisional response, every T2) until a final response or the probe's timeout, never past
Timer F = 64*T1 (RFC 3261 section 17.1.2.2).

ICMP errors: Linux reports ICMP "port unreachable" to an *unconnected* UDP socket only when
IP_RECVERR (IPV6_RECVERR) is set.  This prober sets it and reads the socket's error queue
(``MSG_ERRQUEUE``): each entry carries the errno and a copy of the datagram that failed, so
the branch inside it names the transaction that was refused.  The same pending error may
also surface as ECONNREFUSED on an unrelated ``sendto``/``recvfrom`` (the socket's ``sk_err``),
which is why both paths drain the queue.  Where IP_RECVERR is not available (not Linux),
a refused endpoint is reported as a timeout.

The socket is read with ``loop.add_reader`` rather than an asyncio DatagramTransport: one
wake-up drains every queued datagram (the transport reads one per loop iteration), and the
error queue needs the raw socket, which asyncio only hands out wrapped.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import heapq
import math
import secrets
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from types import TracebackType

from vcorch.monitoring.probes.resolve import ResolutionError, SockAddr, resolve
from vcorch.monitoring.probes.result import ProbeResult, down, healthy, unhealthy
from vcorch.monitoring.probes.sip_message import (
    BRANCH_COOKIE,
    build_options,
    find_branch,
    parse_response,
)
from vcorch.monitoring.probes.sip_uri import SipUri

T1 = 0.5  # RFC 3261 default round-trip estimate
T2 = 4.0  # RFC 3261 cap of the non-INVITE retransmission interval
TIMER_F_FACTOR = 64

# Linux values, used when the socket module does not export the names.
_IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
_IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
_MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
# struct sock_extended_err (linux/errqueue.h): ee_errno, origin, type, code, pad, info, data.
_EXTENDED_ERR = struct.Struct("=IBBBBII")
# ICMP errors that end a transaction; others (e.g. EMSGSIZE for path MTU) are left alone.
_ICMP_DETAIL = {
    errno.ECONNREFUSED: "refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTDOWN: "host down",
    errno.EACCES: "administratively prohibited",
}
_READS_PER_WAKEUP = 256
_SENDS_PER_READ = 32
_SLOT = 0.01  # seconds per timer-wheel slot
_RECEIVE_BUFFER = 4 * 1024 * 1024

ResultCallback = Callable[[ProbeResult], None]


@dataclass(frozen=True, slots=True)
class SipUdpTarget:
    """A SIP URI with its address already resolved."""

    uri: SipUri
    family: int
    sockaddr: SockAddr


@dataclass(slots=True)
class ProberStats:
    """Counters since the prober was made, for benchmarks and metrics."""

    sent: int = 0
    retransmitted: int = 0
    answered: int = 0
    icmp_errors: int = 0
    stray: int = 0  # datagrams that matched no open transaction


class _Transaction:
    __slots__ = (
        "call_id",
        "deadline",
        "done",
        "interval",
        "key",
        "on_done",
        "payload",
        "proceeding",
        "retransmissions",
        "sock",
        "sockaddr",
        "started",
        "timeout",
    )

    def __init__(
        self,
        key: bytes,
        call_id: bytes,
        sock: socket.socket | None,
        sockaddr: SockAddr,
        payload: bytes,
        started: float,
        timeout: float,
        on_done: ResultCallback,
        interval: float,
    ) -> None:
        self.key = key
        self.call_id = call_id
        self.sock = sock
        self.sockaddr = sockaddr
        self.payload = payload
        self.started = started
        self.timeout = timeout
        self.deadline = started + timeout
        self.on_done = on_done
        self.interval = interval
        self.retransmissions = 0
        self.proceeding = False
        self.done = False


class SipUdpProber:
    """Sends OPTIONS to many SIP endpoints at once over one UDP socket per address family.

    Use as ``async with SipUdpProber() as prober``; :meth:`probe` checks one URI,
    :meth:`probe_many` a batch with at most ``window`` transactions open at a time.
    """

    def __init__(
        self,
        *,
        bind_host: str | None = None,
        t1: float = T1,
        t2: float = T2,
        receive_buffer: int = _RECEIVE_BUFFER,
    ) -> None:
        self._bind_host = bind_host
        self._t1 = t1
        self._t2 = t2
        self._receive_buffer = receive_buffer
        self._prefix = secrets.token_hex(4)
        self._counter = 0
        self._transactions: dict[bytes, _Transaction] = {}
        self._sockets: dict[int, tuple[socket.socket, int]] = {}
        self._via_hosts: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wheel: dict[int, list[_Transaction]] = {}
        self._slots: list[int] = []  # heap of the wheel's occupied slots
        self._tick: asyncio.TimerHandle | None = None
        self._tick_slot: int | None = None
        self._error_queue = True
        self._closed = False
        self.stats = ProberStats()

    async def __aenter__(self) -> SipUdpProber:
        self._loop = asyncio.get_running_loop()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def open_transactions(self) -> int:
        return len(self._transactions)

    def local_port(self, family: int = socket.AF_INET) -> int | None:
        """The port of the family's socket, once a probe has opened it."""
        existing = self._sockets.get(family)
        return existing[1] if existing else None

    def close(self) -> None:
        """End every open transaction as down ("prober closed") and close the sockets.

        Probes asked for after this (including the rest of a running batch) end the same
        way at once.
        """
        self._closed = True
        for transaction in list(self._transactions.values()):
            self._finish(transaction, down("prober closed"))
        for sock, _port in self._sockets.values():
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
            self._tick_slot = None
        self._wheel.clear()
        self._slots.clear()

    async def probe(self, uri: SipUri, timeout: float) -> ProbeResult:  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
        """One OPTIONS transaction to ``uri`` (name resolution counts against ``timeout``)."""
        loop = self._running_loop()
        started = loop.time()
        try:
            family, sockaddr = await resolve(uri.host, uri.port, timeout, kind=socket.SOCK_DGRAM)
        except ResolutionError as err:
            return down(str(err))
        remaining = timeout - (loop.time() - started)
        if remaining <= 0:
            return down(f"timeout after {timeout:g} s (name resolution)")
        future: asyncio.Future[ProbeResult] = loop.create_future()

        def deliver(result: ProbeResult) -> None:
            if not future.done():
                future.set_result(result)

        transaction = self._begin(SipUdpTarget(uri, family, sockaddr), remaining, deliver)
        try:
            return await future
        finally:
            if not transaction.done:
                self._abandon(transaction)

    async def probe_many(
        self,
        targets: Sequence[SipUdpTarget],
        timeout: float,  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
        *,
        window: int = 1024,
    ) -> list[ProbeResult]:
        """Probe every target; results come back in the order of ``targets``.

        At most ``window`` transactions are open at once: each answer starts the next
        request, so the endpoints' answers never pile up faster than they are read.
        """
        if window < 1:
            raise ValueError("window must be at least 1")
        loop = self._running_loop()
        count = len(targets)
        results: list[ProbeResult | None] = [None] * count
        if count == 0:
            return []
        finished = loop.create_future()
        started: list[_Transaction] = []
        # A transaction can finish inside the call that starts it (a send error); the
        # pump flag turns that re-entry into a loop so a long run of such failures
        # cannot exhaust the stack.
        state = {"next": 0, "open": 0, "remaining": count, "pumping": 0}

        def pump() -> None:
            if state["pumping"]:
                return
            state["pumping"] = 1
            try:
                while state["next"] < count and state["open"] < window:
                    index = state["next"]
                    state["next"] = index + 1
                    state["open"] += 1
                    started.append(self._begin(targets[index], timeout, partial(complete, index)))
            finally:
                state["pumping"] = 0

        def complete(index: int, result: ProbeResult) -> None:
            results[index] = result
            state["open"] -= 1
            state["remaining"] -= 1
            if state["remaining"] == 0:
                if not finished.done():
                    finished.set_result(None)
            else:
                pump()

        pump()
        try:
            await finished
        finally:
            for transaction in started:
                if not transaction.done:
                    self._abandon(transaction)
        return [result if result is not None else down("not probed") for result in results]

    # -- transactions --------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _begin(self, target: SipUdpTarget, timeout: float, on_done: ResultCallback) -> _Transaction:
        loop = self._running_loop()
        if self._closed:
            closed = _Transaction(b"", b"", None, target.sockaddr, b"", 0.0, 0.0, on_done, 0.0)
            self._finish(closed, down("prober closed"))
            return closed
        sock, local_port = self._socket_for(target.family)
        self._counter += 1
        token = f"{self._prefix}{self._counter:x}"
        branch = BRANCH_COOKIE + token
        call_id = f"{token}@vcorch"
        payload = build_options(
            target.uri,
            transport="UDP",
            local_host=self._via_host(target.family, target.sockaddr[0]),
            local_port=local_port,
            branch=branch,
            call_id=call_id,
            tag=token,
        )
        limit = min(timeout, TIMER_F_FACTOR * self._t1)
        transaction = _Transaction(
            branch.encode("ascii"),
            call_id.encode("ascii"),
            sock,
            target.sockaddr,
            payload,
            loop.time(),
            limit,
            on_done,
            self._t1,
        )
        self._transactions[transaction.key] = transaction
        self._transmit(transaction)
        if not transaction.done:
            self._schedule(transaction, min(transaction.started + self._t1, transaction.deadline))
        return transaction

    def _transmit(self, transaction: _Transaction) -> None:
        sock = transaction.sock
        assert sock is not None  # only the stand-in of a closed prober has none
        for attempt in (1, 2):
            try:
                sock.sendto(transaction.payload, transaction.sockaddr)
            except BlockingIOError:
                return  # lost like any datagram; Timer E sends it again
            except OSError as err:
                if attempt == 1 and err.errno in _ICMP_DETAIL:
                    # An ICMP error of an earlier datagram, reported here: give it to its
                    # own transaction (maybe this one), then send again.
                    self._drain_errors(sock)
                    if transaction.done:
                        return
                    continue
                self._finish(transaction, down(f"send failed: {err.strerror or err}"))
                return
            self.stats.sent += 1
            return

    def _on_timer(self, transaction: _Transaction) -> None:
        if transaction.done:
            return
        loop = self._running_loop()
        now = loop.time()
        if now >= transaction.deadline - 0.001:
            retransmissions = transaction.retransmissions
            self._finish(
                transaction,
                down(
                    f"timeout after {transaction.timeout:g} s ({retransmissions} retransmissions)",
                    {"retransmissions": float(retransmissions)},
                ),
            )
            return
        self._transmit(transaction)
        if transaction.done:
            return
        transaction.retransmissions += 1
        self.stats.retransmitted += 1
        if transaction.proceeding:
            transaction.interval = self._t2
        else:
            transaction.interval = min(transaction.interval * 2, self._t2)
        self._schedule(transaction, min(now + transaction.interval, transaction.deadline))

    def _finish(self, transaction: _Transaction, result: ProbeResult) -> None:
        transaction.done = True  # its timer entry, if any, is skipped when it comes up
        self._transactions.pop(transaction.key, None)
        transaction.on_done(result)

    def _abandon(self, transaction: _Transaction) -> None:
        """Forget a transaction whose caller went away, without reporting anything."""
        transaction.done = True
        self._transactions.pop(transaction.key, None)

    # -- timers --------------------------------------------------------------------------
    # A timer wheel of 10 ms slots rather than one loop timer per transaction: a sweep
    # opens ten thousand transactions and nearly all of them end before their first
    # retransmission, so creating and cancelling a TimerHandle each was measurable.

    def _schedule(self, transaction: _Transaction, when: float) -> None:
        slot = math.ceil(when / _SLOT)
        bucket = self._wheel.get(slot)
        if bucket is not None:
            bucket.append(transaction)
            return
        self._wheel[slot] = [transaction]
        heapq.heappush(self._slots, slot)
        if self._tick_slot is None or slot < self._tick_slot:
            if self._tick is not None:
                self._tick.cancel()
            self._tick = self._running_loop().call_at(slot * _SLOT, self._on_tick)
            self._tick_slot = slot

    def _on_tick(self) -> None:
        self._tick = None
        self._tick_slot = None
        current = math.floor(self._running_loop().time() / _SLOT)
        while self._slots and self._slots[0] <= current:
            for transaction in self._wheel.pop(heapq.heappop(self._slots)):
                if not transaction.done:
                    self._on_timer(transaction)
        if self._slots and self._tick is None:
            slot = self._slots[0]
            self._tick = self._running_loop().call_at(slot * _SLOT, self._on_tick)
            self._tick_slot = slot

    # -- the socket ----------------------------------------------------------------------

    def _socket_for(self, family: int) -> tuple[socket.socket, int]:
        existing = self._sockets.get(family)
        if existing is not None:
            return existing
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            # Beyond the kernel's limit the request fails; the window then keeps bursts small.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
            level, option = (
                (socket.IPPROTO_IPV6, _IPV6_RECVERR)
                if family == socket.AF_INET6
                else (socket.IPPROTO_IP, _IP_RECVERR)
            )
            try:
                sock.setsockopt(level, option, 1)
            except OSError:
                self._error_queue = False
            default_host = "::" if family == socket.AF_INET6 else "0.0.0.0"  # noqa: S104 -- answers come back to whichever interface reaches the endpoint
            sock.bind((self._bind_host or default_host, 0))
            port = int(sock.getsockname()[1])
            self._running_loop().add_reader(sock.fileno(), self._on_readable, sock)
        except BaseException:
            sock.close()
            raise
        self._sockets[family] = (sock, port)
        return sock, port

    def _via_host(self, family: int, destination: str) -> str:
        """The local address the endpoint will see, as the Via sent-by host."""
        if self._bind_host and self._bind_host not in ("0.0.0.0", "::"):  # noqa: S104 -- comparing, not binding
            return self._bind_host
        known = self._via_hosts.get(destination)
        if known is not None:
            return known
        host = "0.0.0.0" if family == socket.AF_INET else "::"  # noqa: S104 -- fallback text only; rport routes the answer
        probe = socket.socket(family, socket.SOCK_DGRAM)
        try:
            # connect() on UDP sends nothing; it only asks the routing table for the source.
            probe.connect((destination, 9))
            host = str(probe.getsockname()[0])
        except OSError:
            pass
        finally:
            probe.close()
        if len(self._via_hosts) > 65_536:
            self._via_hosts.clear()
        self._via_hosts[destination] = host
        return host

    def _read_pending(self) -> None:
        for sock, _port in list(self._sockets.values()):
            self._on_readable(sock)

    def _on_readable(self, sock: socket.socket) -> None:
        loop = self._running_loop()
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, _address = sock.recvfrom(65_535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # A pending ICMP error (sk_err) surfaced on read; the queue says whose.
                self._drain_errors(sock)
                continue
            self._on_datagram(data, loop.time())
        else:
            return  # more may be queued: the reader fires again on the next iteration
        self._drain_errors(sock)

    def _on_datagram(self, data: bytes, now: float) -> None:
        head = parse_response(data)
        if head is None or head.branch is None:
            self.stats.stray += 1
            return
        transaction = self._transactions.get(head.branch)
        if transaction is None or head.call_id != transaction.call_id:
            self.stats.stray += 1
            return
        if not head.is_final:
            transaction.proceeding = True
            return
        self.stats.answered += 1
        latency_ms = (now - transaction.started) * 1000.0
        metrics = (
            {"retransmissions": float(transaction.retransmissions)}
            if transaction.retransmissions
            else None
        )
        if head.status == 200:
            result = healthy(latency_ms, head.summary, head.status, metrics)
        else:
            result = unhealthy(latency_ms, head.summary, head.status, metrics)
        self._finish(transaction, result)

    def _drain_errors(self, sock: socket.socket) -> None:
        if not self._error_queue:
            return
        while True:
            try:
                data, ancillary, _flags, address = sock.recvmsg(2048, 512, _MSG_ERRQUEUE)
            except OSError:
                return  # EAGAIN: the queue is empty
            code = None
            for level, kind, payload in ancillary:
                if (level, kind) in (
                    (socket.IPPROTO_IP, _IP_RECVERR),
                    (socket.IPPROTO_IPV6, _IPV6_RECVERR),
                ) and len(payload) >= _EXTENDED_ERR.size:
                    code = _EXTENDED_ERR.unpack_from(payload)[0]
            if code is None:
                continue
            self.stats.icmp_errors += 1
            detail = _ICMP_DETAIL.get(code)
            if detail is None:
                continue
            transaction = self._owner_of(data, address)
            if transaction is not None:
                self._finish(transaction, down(detail))

    def _owner_of(self, quoted: bytes, address: SockAddr | None) -> _Transaction | None:
        branch = find_branch(quoted)
        if branch is not None:
            found = self._transactions.get(branch)
            if found is not None:
                return found
        if not address:
            return None
        # The quoted copy was cut before the Via: fall back to the destination address.
        for transaction in self._transactions.values():
            if transaction.sockaddr[:2] == tuple(address)[:2]:
                return transaction
        return None


async def resolve_udp_target(uri: SipUri, timeout: float) -> SipUdpTarget:  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
    """Resolve ``uri`` for :meth:`SipUdpProber.probe_many`; raises ResolutionError."""
    family, sockaddr = await resolve(uri.host, uri.port, timeout, kind=socket.SOCK_DGRAM)
    return SipUdpTarget(uri, family, sockaddr)
