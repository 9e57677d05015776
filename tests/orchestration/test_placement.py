"""Placement: which bridge hosts, which cascade, which sites fall back (pure tables)."""

from __future__ import annotations

import pytest

from vcorch.mcu_adapter.base import Capabilities
from vcorch.orchestration.placement import BridgeOption, SiteNeed, place

SIP = Capabilities(dial_sip=True)
SIP_H323 = Capabilities(dial_sip=True, dial_h323=True)
CASCADING = Capabilities(dial_sip=True, dial_h323=True, cascade=True)
BROWSERS = Capabilities(webrtc_join=True)


def bridge(name: str, caps: Capabilities = SIP_H323, **kw: object) -> BridgeOption:
    values: dict[str, object] = {"healthy": True, "free_ports": 10, "priority": 100}
    values.update(kw)
    return BridgeOption(name=name, capabilities=caps, **values)  # type: ignore[arg-type]


def sites(*kinds: str | None) -> list[SiteNeed]:
    return [SiteNeed(i + 1, kind) for i, kind in enumerate(kinds)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bridges", "needs", "hosts", "unplaced"),
    [
        # Lower priority number wins when both can take every site.
        ([bridge("a", priority=20), bridge("b", priority=10)], sites("sip", "sip"), ["b"], []),
        # A down bridge is never chosen.
        ([bridge("a", healthy=False), bridge("b")], sites("sip"), ["b"], []),
        # The bridge that can call more of the sites hosts, whatever its priority.
        (
            [bridge("sip-only", SIP, priority=1), bridge("both", SIP_H323, priority=50)],
            sites("sip", "h323"),
            ["both"],
            [],
        ),
        # A site nobody can call falls back; a site without an endpoint too.
        ([bridge("a", SIP)], sites("sip", "h323", None), ["a"], [2, 3]),
        # No healthy bridge: everything falls back.
        ([bridge("a", healthy=False)], sites("sip", "sip"), [], [1, 2]),
        # A full bridge (no free port) is skipped.
        ([bridge("a", free_ports=0), bridge("b", priority=200)], sites("sip"), ["b"], []),
        # WebRTC endpoints need a bridge that takes browsers.
        ([bridge("sip", SIP), bridge("janus", BROWSERS)], sites("webrtc"), ["janus"], []),
    ],
)
def test_host_choice_and_fallbacks(
    bridges: list[BridgeOption], needs: list[SiteNeed], hosts: list[str], unplaced: list[int]
) -> None:
    placement = place(needs, bridges, organizer_path="/1/")
    assert [c.bridge for c in placement.conferences if c.host] == hosts
    assert list(placement.unplaced) == unplaced


def test_the_host_must_serve_the_organiser_but_cascades_need_not() -> None:
    central = bridge("central", CASCADING, free_ports=3, unit_paths=("/1/",))
    province = bridge("province", CASCADING, free_ports=10, unit_paths=("/1/7/",))
    placement = place(sites(*["sip"] * 6), [central, province], organizer_path="/1/7/")
    # Both serve /1/7/ (the central bridge serves the whole tree); the roomier one hosts.
    assert placement.host is not None and placement.host.bridge == "province"
    placement = place(sites(*["sip"] * 6), [province], organizer_path="/1/")
    assert placement.conferences == () and len(placement.unplaced) == 6


def test_overflow_is_cascaded_with_a_port_kept_for_each_link() -> None:
    host = bridge("host", CASCADING, free_ports=5, priority=1)
    extra = bridge("extra", CASCADING, free_ports=5, priority=2)
    placement = place(sites(*["sip"] * 8), [host, extra], organizer_path="/1/")
    by_bridge = {c.bridge: c for c in placement.conferences}
    # 4 sites + 1 link port on the host; 4 sites + 1 link port on the other side.
    assert len(by_bridge["host"].site_ids) == 4 and by_bridge["host"].host
    assert len(by_bridge["extra"].site_ids) == 4 and not by_bridge["extra"].host
    assert placement.unplaced == ()
    every = sorted(s for c in placement.conferences for s in c.site_ids)
    assert every == list(range(1, 9))


def test_bridges_that_cannot_cascade_take_no_overflow() -> None:
    host = bridge("host", SIP_H323, free_ports=3)
    other = bridge("other", SIP_H323, free_ports=30, priority=500)
    # "other" can take all 5: it hosts, as the bridge that can call the most sites.
    placement = place(sites(*["sip"] * 5), [host, other], organizer_path="/1/")
    assert placement.host is not None and placement.host.bridge == "other"
    # Without it the host takes what fits and the rest fall back.
    placement = place(sites(*["sip"] * 5), [host], organizer_path="/1/")
    assert len(placement.conferences) == 1
    assert len(placement.conferences[0].site_ids) == 3 and len(placement.unplaced) == 2


def test_excluded_bridges_are_left_out() -> None:
    placement = place(
        sites("sip"),
        [bridge("a", priority=1), bridge("b")],
        organizer_path="/1/",
        exclude=frozenset({"a"}),
    )
    assert placement.host is not None and placement.host.bridge == "b"
