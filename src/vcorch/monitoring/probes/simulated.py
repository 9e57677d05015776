"""The simulated network: room systems that only the simulated MCU can call.

The demo's room systems (and any endpoint an operator puts there) have addresses under
``mo-phong.invalid``, a name that never resolves (RFC 6761), so a real probe can only find
them unresolvable while the simulated MCU calls them fine — the board said "Mất kết nối"
while the live view said connected.  While a simulated bridge is configured (the default),
monitoring answers for them what the simulated MCU does: they answer, except the addresses
its ``unreachable`` option lists.  Without a simulated bridge they are probed like any other
address (and are down, as nothing can call them either).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vcorch.config import BridgeConfig
from vcorch.monitoring.probes.result import ProbeResult, down, healthy

SIMULATED_DOMAIN = "mo-phong.invalid"


def _bare(address: str) -> str:
    """The address without URI parameters, lower-cased (the part a call is routed by)."""
    return address.split(";", 1)[0].strip().lower()


def host_of(address: str) -> str:
    """The host of a ``sip:``/``h323:`` address (``user@host:port``), lower-cased."""
    rest = _bare(address)
    for scheme in ("sip:", "sips:", "h323:"):
        if rest.startswith(scheme):
            rest = rest[len(scheme) :]
            break
    return rest.rsplit("@", 1)[-1].split(":", 1)[0]


def on_simulated_network(address: str) -> bool:
    host = host_of(address)
    return host == SIMULATED_DOMAIN or host.endswith("." + SIMULATED_DOMAIN)


@dataclass(frozen=True, slots=True)
class SimulatedNetwork:
    """Which simulated addresses answer: all but those the simulated bridges list."""

    silent: frozenset[str]

    @classmethod
    def of(cls, bridges: Iterable[BridgeConfig]) -> SimulatedNetwork | None:
        """The network of the configured simulated bridges, or None when there is none."""
        simulated = [bridge for bridge in bridges if bridge.type == "simulated" and bridge.enabled]
        if not simulated:
            return None
        silent: set[str] = set()
        for bridge in simulated:
            listed = bridge.options.get("unreachable", [])
            if isinstance(listed, list):
                silent.update(_bare(str(address)) for address in listed)
        return cls(frozenset(silent))

    def covers(self, address: str) -> bool:
        return on_simulated_network(address)

    def probe(self, address: str) -> ProbeResult:
        if _bare(address) in self.silent:
            return down("simulated network: does not answer (the simulated MCU's unreachable)")
        return healthy(None, "simulated network: answers as the simulated MCU sees it")
