"""Which bridges host a meeting and which sites each one dials: pure, tested with tables.

The rules, in order:

1. A site is dialled by a bridge that can call its endpoint's kind (SIP, H.323; a WebRTC
   endpoint needs a bridge that takes browsers).  A site no healthy bridge can call is
   *unplaced*: it goes to the WebRTC fallback straight away.
2. The host bridge is a healthy one serving the organiser's unit, most preferred first
   (lower ``priority``, then the meeting's preferred bridge, then the most free ports),
   among those that can dial the most sites.
3. When the sites exceed the host's free ports, the rest go to further bridges that can
   cascade (one port on each side per link), most free ports first, each linked to the
   host.  A bridge that cannot cascade never takes overflow: the booking check already
   refused meetings that do not fit, so this only happens when bridges went down, and
   then the sites that do not fit fall back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from vcorch.mcu_adapter import Capabilities

EndpointKind = Literal["sip", "h323", "webrtc"]


@dataclass(frozen=True)
class BridgeOption:
    """A bridge as placement sees it at this moment."""

    name: str
    capabilities: Capabilities
    healthy: bool
    free_ports: int
    priority: int = 100
    unit_paths: tuple[str, ...] = ()  # empty: serves every unit

    def serves(self, unit_path: str) -> bool:
        return not self.unit_paths or any(unit_path.startswith(p) for p in self.unit_paths)

    def can_dial(self, kind: EndpointKind | None) -> bool:
        if kind == "sip":
            return self.capabilities.dial_sip
        if kind == "h323":
            return self.capabilities.dial_h323
        if kind == "webrtc":
            return self.capabilities.webrtc_join
        return False


@dataclass(frozen=True)
class SiteNeed:
    """A site to connect: its id and its endpoint's kind (``None``: it has no endpoint)."""

    site_id: int
    kind: EndpointKind | None


@dataclass(frozen=True)
class ConferencePlan:
    """One conference: its bridge and the sites it dials; ``host`` is the first one."""

    bridge: str
    site_ids: tuple[int, ...]
    host: bool


@dataclass(frozen=True)
class Placement:
    conferences: tuple[ConferencePlan, ...]
    unplaced: tuple[int, ...]

    @property
    def host(self) -> ConferencePlan | None:
        return self.conferences[0] if self.conferences else None


def place(
    sites: Sequence[SiteNeed],
    bridges: Sequence[BridgeOption],
    *,
    organizer_path: str,
    preferred: str | None = None,
    exclude: frozenset[str] = frozenset(),
) -> Placement:
    """Choose the host bridge, the cascaded ones and the sites that must fall back."""
    usable = [b for b in bridges if b.healthy and b.name not in exclude and b.free_ports > 0]
    hosts = [b for b in usable if b.serves(organizer_path)]
    if not hosts:
        return Placement((), tuple(site.site_id for site in sites))

    def dialable(bridge: BridgeOption) -> int:
        return sum(1 for site in sites if bridge.can_dial(site.kind))

    host = min(
        hosts,
        key=lambda b: (
            -min(dialable(b), b.free_ports),
            b.priority,
            b.name != preferred,
            -b.free_ports,
            b.name,
        ),
    )
    remaining = list(sites)
    plans: list[ConferencePlan] = []
    unplaced: list[int] = []

    def take(bridge: BridgeOption, capacity: int) -> tuple[int, ...]:
        chosen: list[int] = []
        for site in list(remaining):
            if len(chosen) >= capacity:
                break
            if bridge.can_dial(site.kind):
                chosen.append(site.site_id)
                remaining.remove(site)
        return tuple(chosen)

    cascaders = sorted(
        (b for b in usable if b is not host and b.capabilities.cascade),
        key=lambda b: (b.priority, -b.free_ports, b.name),
    )
    # Keep a port on the host for each link a cascade will need, if any will be needed.
    needs_overflow = sum(1 for s in sites if host.can_dial(s.kind)) > host.free_ports
    links_possible = host.capabilities.cascade and bool(cascaders)
    host_capacity = host.free_ports
    if needs_overflow and links_possible:
        host_capacity = max(host.free_ports - len(cascaders), 1)
    plans.append(ConferencePlan(host.name, take(host, host_capacity), host=True))
    if links_possible:
        for bridge in cascaders:
            if not remaining:
                break
            # One port on the far side for the link to the host.
            taken = take(bridge, bridge.free_ports - 1)
            if taken:
                plans.append(ConferencePlan(bridge.name, taken, host=False))
    unplaced.extend(site.site_id for site in remaining)
    return Placement(tuple(plans), tuple(unplaced))


@dataclass(frozen=True)
class Rehoming:
    """Where the sites of a failed cascaded bridge go: ``joins`` onto conferences the
    meeting already has (by bridge), ``new`` conferences to create and link to the host,
    ``unplaced`` sites that fall back."""

    joins: dict[str, tuple[int, ...]]
    new: dict[str, tuple[int, ...]]
    unplaced: tuple[int, ...]


def rehome(
    sites: Sequence[SiteNeed],
    homes: Sequence[BridgeOption],
    spares: Sequence[BridgeOption],
) -> Rehoming:
    """Place the sites of a failed cascaded bridge without moving anyone else.

    ``homes``: the bridges of the meeting's conferences still standing, the host first;
    ``spares``: other healthy bridges.  Free ports on the standing conferences go first,
    the host's first; then spare bridges that can cascade, most free ports first, each
    taking one port on itself and one on the host for its link."""
    remaining = list(sites)
    joins: dict[str, tuple[int, ...]] = {}
    new: dict[str, tuple[int, ...]] = {}
    host_ports = homes[0].free_ports if homes else 0

    def take(bridge: BridgeOption, capacity: int) -> tuple[int, ...]:
        chosen: list[int] = []
        for site in list(remaining):
            if len(chosen) >= capacity:
                break
            if bridge.can_dial(site.kind):
                chosen.append(site.site_id)
                remaining.remove(site)
        return tuple(chosen)

    for index, home in enumerate(homes):
        if not home.healthy:
            continue
        capacity = home.free_ports
        if index == 0:
            # Keep one host port per spare that may need a link.
            wanted_links = sum(1 for s in spares if s.healthy and s.capabilities.cascade)
            needs = sum(1 for s in remaining if home.can_dial(s.kind)) > capacity
            capacity = max(capacity - (wanted_links if needs else 0), 0)
        taken = take(home, capacity)
        if index == 0:
            host_ports = home.free_ports - len(taken)
        if taken:
            joins[home.name] = taken
    host_can_link = bool(homes) and homes[0].capabilities.cascade
    for spare in sorted(spares, key=lambda b: (b.priority, -b.free_ports, b.name)):
        if not remaining or not host_can_link or host_ports <= 0:
            break
        if not spare.healthy or not spare.capabilities.cascade or spare.free_ports < 2:
            continue
        taken = take(spare, spare.free_ports - 1)
        if taken:
            new[spare.name] = taken
            host_ports -= 1
    return Rehoming(joins, new, tuple(site.site_id for site in remaining))
