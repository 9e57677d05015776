"""Probing a list of targets: media probes (real WebRTC peers, a few at once) and every
other kind (thousands at once) on their own sweepers, results back in the targets' order."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import aiohttp

from vcorch.monitoring.metrics import Metrics
from vcorch.monitoring.policy import PROBE_KINDS, MonitoringPolicy
from vcorch.monitoring.probes.base import Probe
from vcorch.monitoring.probes.h323 import H323Probe
from vcorch.monitoring.probes.http import HttpProbe
from vcorch.monitoring.probes.result import ProbeResult
from vcorch.monitoring.probes.simulated import SimulatedNetwork
from vcorch.monitoring.probes.sip import SipProbe
from vcorch.monitoring.probes.sip_mux import SipUdpProber
from vcorch.monitoring.probes.webrtc import JanusEchoProbe
from vcorch.monitoring.sweep import Sweeper, SweepTarget
from vcorch.monitoring.targets import Target


def default_probes(
    http: aiohttp.ClientSession, sip_udp: SipUdpProber | None, *, verify_tls: bool = True
) -> dict[str, Probe]:
    """The probe of each kind, sharing the process' HTTP session and SIP socket."""
    return {
        "sip": SipProbe(sip_udp),
        "h323": H323Probe(),
        "http": HttpProbe(http, verify_tls=verify_tls),
        "webrtc": JanusEchoProbe(http),
    }


def plan_kind(target: Target) -> str:
    return target.plan.kind if target.plan is not None else ""


class Prober:
    def __init__(
        self,
        policy: MonitoringPolicy,
        probes: Mapping[str, Probe],
        sip_udp: SipUdpProber | None,
        metrics: Metrics | None,
        network: SimulatedNetwork | None = None,
    ) -> None:
        self._metrics = metrics
        self._network = network
        timeouts = {kind: policy.kind(kind).timeout for kind in PROBE_KINDS}
        self._sweeper = Sweeper(
            probes={kind: probe for kind, probe in probes.items() if kind != "webrtc"},
            sip_udp=sip_udp,
            timeouts=timeouts,
            concurrency=policy.concurrency,
        )
        self._media = Sweeper(
            probes={kind: probe for kind, probe in probes.items() if kind == "webrtc"},
            timeouts=timeouts,
            concurrency=policy.media_concurrency,
        )

    def _simulated(self, target: Target) -> bool:
        return (
            self._network is not None
            and target.plan is not None
            and target.plan.kind in ("sip", "h323")
            and self._network.covers(target.plan.address)
        )

    async def probe(self, targets: Sequence[Target]) -> list[ProbeResult]:
        slots: list[ProbeResult | None] = [None] * len(targets)
        network = self._network
        if network is not None:
            for index, target in enumerate(targets):
                if self._simulated(target) and target.plan is not None:
                    slots[index] = network.probe(target.plan.address)
        real = [i for i in range(len(targets)) if slots[i] is None]
        media_at = [i for i in real if plan_kind(targets[i]) == "webrtc"]
        other_at = [i for i in real if plan_kind(targets[i]) != "webrtc"]

        def sweep_targets(indexes: list[int]) -> list[SweepTarget]:
            found = []
            for index in indexes:
                plan = targets[index].plan
                assert plan is not None
                found.append(SweepTarget(targets[index].endpoint_id, plan.kind, plan.address))
            return found

        media, other = await asyncio.gather(
            self._media.probe(sweep_targets(media_at)),
            self._sweeper.probe(sweep_targets(other_at)),
        )
        for indexes, found in ((media_at, media), (other_at, other)):
            for index, outcome in zip(indexes, found, strict=True):
                slots[index] = outcome
        results = [outcome for outcome in slots if outcome is not None]
        if self._metrics is not None:
            for target, result in zip(targets, results, strict=True):
                self._metrics.observe_probe(plan_kind(target), result)
        return results
