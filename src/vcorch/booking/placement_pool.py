"""Which bridge ports a booking may count on: pure, from the configured bridges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PortPool:
    """One bridge as booking sees it: its ports and the unit subtrees it serves."""

    name: str
    ports: int
    unit_paths: tuple[str, ...] = ()  # empty: serves every unit

    def serves(self, unit_path: str) -> bool:
        return not self.unit_paths or any(unit_path.startswith(p) for p in self.unit_paths)


def eligible(pools: Sequence[PortPool], unit_path: str, preferred: str | None) -> list[PortPool]:
    """The bridges that can host a meeting of this unit (the preferred one first)."""
    found = [pool for pool in pools if pool.serves(unit_path)]
    return sorted(found, key=lambda pool: (pool.name != preferred, -pool.ports, pool.name))


def ports_needed(sites: int, pools: Sequence[PortPool]) -> int | None:
    """Ports a meeting of ``sites`` sites takes, cascading over bridges when one is too small.

    Fills the biggest bridges first; every extra bridge adds a cascade link, which takes one
    port on each side.  None when even all of them together cannot take the meeting.
    """
    if sites <= 0:
        return 0
    sizes = sorted((pool.ports for pool in pools), reverse=True)
    if not sizes:
        return None
    if sites <= sizes[0]:
        return sites
    # With k bridges in a chain of links, k - 1 links take 2 (k - 1) ports in all.
    capacity = 0
    for used, size in enumerate(sizes, start=1):
        capacity += size
        if sites + 2 * (used - 1) <= capacity:
            return sites + 2 * (used - 1)
    return None
