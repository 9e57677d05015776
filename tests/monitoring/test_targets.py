"""Which probe each endpoint gets, from its kind, address, transport and management URL."""

from __future__ import annotations

import pytest

from vcorch.monitoring.probes.h323 import parse_h323_address
from vcorch.monitoring.probes.sip_uri import parse_sip_uri
from vcorch.monitoring.targets import ProbePlan, probe_plan


@pytest.mark.parametrize(
    ("kind", "address", "management_url", "transport", "expected"),
    [
        ("sip", "sip:phonghop@10.0.0.5", None, None, ProbePlan("sip", "sip:phonghop@10.0.0.5")),
        # The stored transport wins over the URI's parameter, other parameters stay.
        (
            "sip",
            "sip:1001@sip.example.vn:5070;transport=udp;user=phone",
            None,
            "tcp",
            ProbePlan("sip", "sip:1001@sip.example.vn:5070;user=phone;transport=tcp"),
        ),
        (
            "sip",
            "sip:1001@10.0.0.5;transport=tcp",
            None,
            "udp",
            ProbePlan("sip", "sip:1001@10.0.0.5"),
        ),
        # No TLS probe: better unknown than a false "down".
        ("sip", "sips:1001@10.0.0.5", None, None, None),
        ("sip", "sip:1001@10.0.0.5", None, "tls", None),
        ("h323", "10.0.0.6", None, None, ProbePlan("h323", "h323:10.0.0.6")),
        (
            "h323",
            "h323:0215@10.0.0.6:1721",
            None,
            None,
            ProbePlan("h323", "h323:0215@10.0.0.6:1721"),
        ),
        # A WebRTC site: the room's gateway, else its management page, else nothing.
        (
            "webrtc",
            "https://janus.laocai.gov.vn/janus",
            None,
            None,
            ProbePlan("webrtc", "https://janus.laocai.gov.vn/janus"),
        ),
        (
            "webrtc",
            "may-tram-1",
            "https://10.0.0.9/",
            None,
            ProbePlan("http", "https://10.0.0.9/"),
        ),
        ("webrtc", "may-tram-1", None, None, None),
    ],
)
def test_probe_plan(
    kind: str,
    address: str,
    management_url: str | None,
    transport: str | None,
    expected: ProbePlan | None,
) -> None:
    plan = probe_plan(kind, address, management_url, transport)
    assert plan == expected
    # Whatever the plan says, the probe can parse it.
    if plan is not None and plan.kind == "sip":
        parse_sip_uri(plan.address)
    if plan is not None and plan.kind == "h323":
        parse_h323_address(plan.address)
