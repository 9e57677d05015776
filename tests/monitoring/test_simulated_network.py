"""The simulated network: its endpoints are answered as the simulated MCU would, the rest
are probed for real; and the board's pick of each endpoint's next meeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcorch.config import BridgeConfig
from vcorch.monitoring.board import EndpointPlace, next_meetings
from vcorch.monitoring.meetings import SiteInMeeting
from vcorch.monitoring.probes.simulated import SIMULATED_DOMAIN, SimulatedNetwork, host_of
from vcorch.rooms.demo_data import SIMULATED_DOMAIN as DEMO_DOMAIN


def _bridge(type_: str, **options: object) -> BridgeConfig:
    return BridgeConfig.model_validate(
        {"name": f"b-{type_}", "type": type_, "ports": 10, "options": options}
    )


@pytest.mark.parametrize(
    ("address", "host"),
    [
        ("sip:phonghop@ha-noi.mo-phong.invalid", "ha-noi.mo-phong.invalid"),
        ("sip:phonghop@Ha-Noi.mo-phong.invalid:5060;transport=tcp", "ha-noi.mo-phong.invalid"),
        (
            "h323:04006@tuyen-quang.dong-van.mo-phong.invalid",
            "tuyen-quang.dong-van.mo-phong.invalid",
        ),
        ("h323:10.0.0.5:1720", "10.0.0.5"),
        ("sip:127.0.0.1:9", "127.0.0.1"),
    ],
)
def test_the_host_of_an_address(address: str, host: str) -> None:
    assert host_of(address) == host


def test_simulated_endpoints_answer_as_the_simulated_mcu_does() -> None:
    assert DEMO_DOMAIN == SIMULATED_DOMAIN
    silent = "sip:phonghop@lao-cai.mo-phong.invalid"
    network = SimulatedNetwork.of([_bridge("simulated", unreachable=[silent])])
    assert network is not None
    assert network.covers("sip:phonghop@ha-noi.mo-phong.invalid")
    assert not network.covers("sip:phonghop@mo-phong.invalid.example.vn")
    assert not network.covers("sip:phonghop@127.0.0.1:9")
    assert network.probe("sip:phonghop@ha-noi.mo-phong.invalid").ok
    assert not network.probe(silent + ";transport=udp").reachable
    # Without a simulated bridge there is no simulated network: everything is probed.
    assert SimulatedNetwork.of([_bridge("jitsi", url="https://meet.example.vn")]) is None


def test_the_next_meeting_of_each_endpoint() -> None:
    now = datetime(2026, 12, 4, 8, tzinfo=UTC)

    def site(
        meeting: int,
        hours: float,
        room: int,
        endpoint: int | None,
        running: bool = False,
        state: str | None = None,
    ) -> SiteInMeeting:
        start = now + timedelta(hours=hours)
        end = start + timedelta(hours=1)
        return SiteInMeeting(meeting, "m", start, end, room, endpoint, running, state)

    places = [EndpointPlace(1, 10), EndpointPlace(2, 20), EndpointPlace(3, 20)]
    places.append(EndpointPlace(4, 40))
    picked = next_meetings(
        places,
        [
            site(1, 3, 10, 1),
            site(2, 1, 10, 1),
            site(3, -3, 10, 1),  # over
            site(4, 2, 20, None),  # the room's: any of its endpoints
            site(5, -0.5, 20, 3, running=True, state="connected"),  # running wins
        ],
        now,
    )
    assert {m.endpoint_id: m.site.meeting_id for m in picked} == {1: 2, 2: 4, 3: 5}
