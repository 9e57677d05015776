"""One sweep: probe a list of endpoints, fold the results into their up/down state.

SIP-over-UDP targets go through one :class:`SipUdpProber` batch (one socket, thousands of
transactions, no task per target), which is what lets a sweep of 10,000 room systems
finish in a fraction of a second.  Every other target runs through its kind's
:class:`Probe` on a bounded pool of workers.  The sweep keeps each endpoint's
:class:`EndpointHealth`, logs every state change once, and hands the whole outcome to a
sink (the database writer, wired elsewhere).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from vcorch.monitoring.hysteresis import (
    EndpointHealth,
    Health,
    HysteresisPolicy,
    observe,
)
from vcorch.monitoring.probes.base import Probe
from vcorch.monitoring.probes.errors import InvalidAddress
from vcorch.monitoring.probes.resolve import ResolutionError, resolve
from vcorch.monitoring.probes.result import ProbeResult, down
from vcorch.monitoring.probes.sip_mux import SipUdpProber, SipUdpTarget
from vcorch.monitoring.probes.sip_uri import parse_sip_uri
from vcorch.monitoring.schedule import EndpointId

log = logging.getLogger("vcorch.monitoring")


@dataclass(frozen=True, slots=True)
class SweepTarget:
    """One endpoint to probe: its id, its kind (``sip``, ``h323``, ``http``...), its address."""

    endpoint_id: EndpointId
    kind: str
    address: str


@dataclass(frozen=True, slots=True)
class StateChange:
    """An endpoint changed state; ``result`` is the probe result that tipped it."""

    endpoint_id: EndpointId
    previous: Health
    current: Health
    at: datetime
    result: ProbeResult


@dataclass(frozen=True, slots=True)
class SweepReport:
    """Everything one sweep found, results in the order of the targets."""

    at: datetime
    results: Sequence[tuple[SweepTarget, ProbeResult]]
    changes: Sequence[StateChange]
    seconds: float

    @property
    def answered(self) -> int:
        return sum(1 for _target, result in self.results if result.reachable)


class SweepSink(Protocol):
    """Where a sweep's outcome goes (results history, state changes)."""

    async def record(self, report: SweepReport) -> None: ...


class Sweeper:
    """Runs sweeps and keeps the up/down state of every endpoint it has seen.

    ``probes`` maps an endpoint kind to its probe; with ``sip_udp`` given, SIP targets over
    UDP bypass ``probes["sip"]`` for the one-socket batch (SIP over TCP still uses it).
    ``timeout`` applies to every kind unless ``timeouts`` names one for it (a WebRTC media
    probe needs several seconds).  ``concurrency`` bounds the probes running at once
    outside the SIP batch, ``sip_window`` the SIP transactions open at once.  ``states``
    may be pre-filled (from the database at start-up) so hysteresis carries across
    restarts.  Sweeps of one Sweeper must not overlap; the caller schedules them.
    """

    def __init__(
        self,
        *,
        probes: Mapping[str, Probe],
        sip_udp: SipUdpProber | None = None,
        policy: HysteresisPolicy | None = None,
        timeout: float = 2.0,
        timeouts: Mapping[str, float] | None = None,
        concurrency: int = 256,
        sip_window: int = 1024,
        sink: SweepSink | None = None,
        states: MutableMapping[EndpointId, EndpointHealth] | None = None,
    ) -> None:
        if concurrency < 1 or sip_window < 1:
            raise ValueError("concurrency and sip_window must be at least 1")
        self._probes = dict(probes)
        self._sip_udp = sip_udp
        self._policy = policy or HysteresisPolicy()
        self._timeout = timeout
        self._timeouts = dict(timeouts or {})
        self._concurrency = concurrency
        self._sip_window = sip_window
        self._sink = sink
        self._states: MutableMapping[EndpointId, EndpointHealth] = (
            states if states is not None else {}
        )

    @property
    def states(self) -> Mapping[EndpointId, EndpointHealth]:
        return self._states

    async def sweep(self, targets: Sequence[SweepTarget], now: datetime) -> SweepReport:
        """Probe every target once; ``now`` stamps every observation of this sweep."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await self._probe_all(targets)
        changes = self._fold(targets, results, now)
        report = SweepReport(
            now,
            [
                (target, result or down("not probed"))
                for target, result in zip(targets, results, strict=True)
            ],
            changes,
            loop.time() - started,
        )
        if self._sink is not None:
            await self._sink.record(report)
        return report

    async def probe(self, targets: Sequence[SweepTarget]) -> list[ProbeResult]:
        """Probe every target once, without touching any state: results in target order.

        For callers that keep the state elsewhere (the database, shared by processes).
        Unlike :meth:`sweep`, calls may overlap as long as their targets do not.
        """
        results = await self._probe_all(targets)
        return [result or down("not probed") for result in results]

    async def _probe_all(self, targets: Sequence[SweepTarget]) -> list[ProbeResult | None]:
        results: list[ProbeResult | None] = [None] * len(targets)
        ready: list[SipUdpTarget] = []  # SIP over UDP, address known: the one-socket batch
        ready_at: list[int] = []
        names: list[int] = []  # SIP over UDP to a host name: resolved first, then batched
        others: list[int] = []  # everything else: the worker pool
        for index, target in enumerate(targets):
            if self._sip_udp is None or target.kind != "sip":
                others.append(index)
                continue
            try:
                uri = parse_sip_uri(target.address)
            except InvalidAddress as err:
                results[index] = down(f"invalid address: {err.detail}")
                continue
            if uri.transport != "udp":
                others.append(index)
                continue
            if uri.family:
                ready.append(SipUdpTarget(uri, uri.family, uri.sockaddr))
                ready_at.append(index)
            else:
                names.append(index)
        await asyncio.gather(
            self._sweep_sip_udp(targets, ready, ready_at, names, results),
            self._run_pool(others, lambda index: self._probe_one(targets[index]), results),
        )
        return results

    # -- probing -------------------------------------------------------------------------

    async def _sweep_sip_udp(
        self,
        targets: Sequence[SweepTarget],
        ready: list[SipUdpTarget],
        ready_at: list[int],
        names: list[int],
        results: list[ProbeResult | None],
    ) -> None:
        prober = self._sip_udp
        if prober is None or not (ready or names):
            return
        if names:
            # Name resolution is bounded by the sweep timeout on its own, before the batch.
            addresses: dict[int, SipUdpTarget] = {}

            async def lookup(index: int) -> ProbeResult | None:
                uri = parse_sip_uri(targets[index].address)
                try:
                    family, sockaddr = await resolve(
                        uri.host, uri.port, self._timeout_for("sip"), kind=socket.SOCK_DGRAM
                    )
                except ResolutionError as err:
                    return down(str(err))
                addresses[index] = SipUdpTarget(uri, family, sockaddr)
                return None

            await self._run_pool(names, lookup, results)
            for index in names:
                if index in addresses:
                    ready.append(addresses[index])
                    ready_at.append(index)
        found = await prober.probe_many(ready, self._timeout_for("sip"), window=self._sip_window)
        for index, result in zip(ready_at, found, strict=True):
            results[index] = result

    def _timeout_for(self, kind: str) -> float:
        return self._timeouts.get(kind, self._timeout)

    async def _probe_one(self, target: SweepTarget) -> ProbeResult:
        probe = self._probes.get(target.kind)
        if probe is None:
            return down(f"no probe for endpoint kind {target.kind!r}")
        try:
            return await probe.probe(target.address, self._timeout_for(target.kind))
        except InvalidAddress as err:
            return down(f"invalid address: {err.detail}")
        except Exception:
            # A bug in one probe must not stop the sweep of every other endpoint; the
            # traceback goes to the log, the endpoint shows as down with the reason.
            log.exception("probe of endpoint %s (%s) failed", target.endpoint_id, target.kind)
            return down("probe failed: internal error")

    async def _run_pool(
        self,
        indexes: Sequence[int],
        work: Callable[[int], Awaitable[ProbeResult | None]],
        results: list[ProbeResult | None],
    ) -> None:
        pending = iter(indexes)

        async def worker() -> None:
            for index in pending:
                result = await work(index)
                if result is not None:
                    results[index] = result

        workers = min(self._concurrency, len(indexes))
        if workers:
            await asyncio.gather(*(worker() for _ in range(workers)))

    # -- state ---------------------------------------------------------------------------

    def _fold(
        self,
        targets: Sequence[SweepTarget],
        results: Sequence[ProbeResult | None],
        now: datetime,
    ) -> list[StateChange]:
        changes: list[StateChange] = []
        states = self._states
        policy = self._policy
        fresh = EndpointHealth()
        for target, result in zip(targets, results, strict=True):
            if result is None:
                continue
            endpoint_id = target.endpoint_id
            health, transition = observe(states.get(endpoint_id, fresh), result.ok, now, policy)
            states[endpoint_id] = health
            if transition is not None:
                change = StateChange(
                    endpoint_id, transition.previous, transition.current, now, result
                )
                changes.append(change)
                log_change(change)
        return changes


def log_change(change: StateChange) -> None:
    """Each change is logged once, here; first states after start-up only at debug level."""
    if change.previous is Health.UNKNOWN:
        level = logging.DEBUG
    elif change.current is Health.DOWN:
        level = logging.WARNING
    else:
        level = logging.INFO
    if log.isEnabledFor(level):
        log.log(
            level,
            "endpoint %s is %s (was %s): %s",
            change.endpoint_id,
            change.current,
            change.previous,
            change.result.detail,
        )
