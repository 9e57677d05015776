"""Sweeps over real endpoints: results, up/down state with hysteresis, logs, the sink."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.monitoring.sip_servers import SipServer
from vcorch.monitoring.hysteresis import Health, HysteresisPolicy
from vcorch.monitoring.probes.base import Probe
from vcorch.monitoring.probes.h323 import H323Probe
from vcorch.monitoring.probes.result import ProbeResult
from vcorch.monitoring.probes.sip import SipProbe
from vcorch.monitoring.probes.sip_mux import SipUdpProber
from vcorch.monitoring.sweep import Sweeper, SweepReport, SweepTarget

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class RecordingSink:
    def __init__(self) -> None:
        self.reports: list[SweepReport] = []

    async def record(self, report: SweepReport) -> None:
        self.reports.append(report)


@pytest.fixture
async def h323_listener() -> AsyncIterator[int]:
    async def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


@pytest.fixture
async def prober() -> AsyncIterator[SipUdpProber]:
    async with SipUdpProber(bind_host="127.0.0.1") as shared:
        yield shared


def _sweeper(prober: SipUdpProber | None, **kwargs: object) -> Sweeper:
    probes: dict[str, Probe] = {"sip": SipProbe(prober), "h323": H323Probe()}
    return Sweeper(probes=probes, sip_udp=prober, timeout=1.0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("shared_socket", [True, False])
async def test_first_sweep_sets_every_state_and_reports_once(
    kamailio_server: SipServer,
    h323_listener: int,
    closed_port: int,
    prober: SipUdpProber,
    shared_socket: bool,
) -> None:
    targets = [
        SweepTarget(1, "sip", kamailio_server.uri("bot")),
        SweepTarget(2, "sip", kamailio_server.uri("nobody")),
        SweepTarget(3, "sip", f"sip:bot@127.0.0.1:{closed_port}"),
        SweepTarget(4, "sip", kamailio_server.uri("bot", "tcp")),
        SweepTarget(5, "h323", f"h323:room@127.0.0.1:{h323_listener}"),
        SweepTarget(6, "h323", f"h323:127.0.0.1:{closed_port}"),
        SweepTarget(7, "sip", "sip:bot@[bad"),
        SweepTarget(8, "pstn", "tel:+842412345678"),
    ]
    sink = RecordingSink()
    sweeper = _sweeper(prober if shared_socket else None, sink=sink)
    report = await sweeper.sweep(targets, T0)

    assert [target.endpoint_id for target, _result in report.results] == list(range(1, 9))
    details = {target.endpoint_id: result for target, result in report.results}
    assert details[1].status_code == 200
    assert details[2].status_code == 404
    assert details[3].detail == "refused"
    assert details[4].status_code == 200
    assert details[5].ok
    assert details[6].detail == "refused"
    assert details[7].detail.startswith("invalid address")
    assert "no probe" in details[8].detail
    states = {endpoint: health.state for endpoint, health in sweeper.states.items()}
    assert states == {1: Health.UP, 2: Health.DOWN, 3: Health.DOWN, 4: Health.UP, 5: Health.UP,
                      6: Health.DOWN, 7: Health.DOWN, 8: Health.DOWN}  # fmt: skip
    assert [(change.endpoint_id, change.previous) for change in report.changes] == [
        (endpoint, Health.UNKNOWN) for endpoint in range(1, 9)
    ]
    assert sink.reports == [report]
    assert report.answered == 4  # 200, 404, TCP 200 and the H.323 listener
    if shared_socket:
        # The UDP SIP targets went over the one shared socket (refused included).
        assert prober.stats.sent == 3
        assert prober.open_transactions == 0


async def test_endpoint_goes_down_and_up_with_hysteresis_and_is_logged_once(
    kamailio_server: SipServer,
    closed_port: int,
    prober: SipUdpProber,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sweeper = _sweeper(prober, policy=HysteresisPolicy(down_after=3, up_after=2))
    working = SweepTarget(9, "sip", kamailio_server.uri("bot"))
    gone = SweepTarget(9, "sip", f"sip:bot@127.0.0.1:{closed_port}")  # the room system is off
    timeline = [working, gone, gone, gone, gone, working, working, working]
    states: list[Health] = []
    with caplog.at_level(logging.DEBUG, logger="vcorch.monitoring"):
        for minute, target in enumerate(timeline):
            await sweeper.sweep([target], T0 + timedelta(minutes=minute))
            states.append(sweeper.states[9].state)
    up, down = Health.UP, Health.DOWN
    assert states == [up, up, up, down, down, down, up, up]
    logged = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert logged == [
        (logging.DEBUG, "endpoint 9 is up (was unknown): 200 OK"),
        (logging.WARNING, "endpoint 9 is down (was up): refused"),
        (logging.INFO, "endpoint 9 is up (was down): 200 OK"),
    ]
    assert sweeper.states[9].since == T0 + timedelta(minutes=6)


async def test_a_probe_bug_marks_the_endpoint_down_and_spares_the_sweep(
    kamailio_server: SipServer, prober: SipUdpProber, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenProbe:
        async def probe(self, target: str, timeout: float) -> ProbeResult:  # noqa: ASYNC109 -- the Probe protocol
            raise RuntimeError("bug")

    sweeper = Sweeper(probes={"http": BrokenProbe()}, sip_udp=prober, timeout=1.0)
    with caplog.at_level(logging.ERROR, logger="vcorch.monitoring"):
        report = await sweeper.sweep(
            [SweepTarget(1, "http", "http://x/"), SweepTarget(2, "sip", kamailio_server.uri())],
            T0,
        )
    (_, broken), (_, sip) = report.results
    assert broken.detail == "probe failed: internal error"
    assert sip.ok
    assert any(record.exc_info for record in caplog.records)


async def test_two_thousand_endpoints_all_answer_through_one_socket(
    kamailio_server: SipServer, prober: SipUdpProber
) -> None:
    # Distinct users on one kamailio: distinct transactions, all multiplexed.
    targets = [
        SweepTarget(n, "sip", f"sip:room{n}@127.0.0.1:{kamailio_server.port}") for n in range(2000)
    ]
    # A generous timeout: the sweep ends with the last answer (well under a second), and a
    # busy CI machine must not turn a slow kamailio into lost answers.
    sweeper = Sweeper(probes={}, sip_udp=prober, timeout=10.0)
    report = await sweeper.sweep(targets, T0)
    assert report.answered == 2000
    assert all(result.status_code == 200 for _target, result in report.results)
    assert len(report.changes) == 2000
    assert sum(health.state is Health.UP for health in sweeper.states.values()) == 2000
    assert prober.open_transactions == 0


async def test_per_kind_timeout_overrides_the_default(full_backlog: int) -> None:
    sweeper = Sweeper(probes={"h323": H323Probe()}, timeout=5.0, timeouts={"h323": 0.3})
    report = await sweeper.sweep([SweepTarget(1, "h323", f"h323:127.0.0.1:{full_backlog}")], T0)
    ((_, result),) = report.results
    assert result.detail == "timeout after 0.3 s"
    assert report.seconds < 2.0


async def test_sip_host_names_are_resolved_before_the_batch(
    kamailio_server: SipServer, prober: SipUdpProber
) -> None:
    sweeper = Sweeper(probes={}, sip_udp=prober, timeout=2.0)
    report = await sweeper.sweep(
        [
            SweepTarget(1, "sip", "sip:bot@no-such-host.invalid"),
            SweepTarget(2, "sip", kamailio_server.uri("bot")),
        ],
        T0,
    )
    (_, unresolved), (_, answered) = report.results
    assert not unresolved.reachable
    assert unresolved.detail.startswith("dns:")
    assert answered.ok
