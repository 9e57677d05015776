"""Cisco Meeting Server adapter: recorded payload shapes, and behaviour against the emulator."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import aiohttp
import pytest

from tests.emulators.canned import Canned, CannedServer
from tests.emulators.cisco_cms import CmsEmulator
from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import (
    BridgeBusy,
    BridgeContext,
    BridgeProtocolError,
    BridgeUnavailable,
    CapacityExceeded,
    ConferenceNotFound,
    ConferenceRef,
    ConferenceSpec,
    DialFailed,
    DialTarget,
    InboundRequest,
)
from vcorch.mcu_adapter.cisco_cms import CiscoCmsBridge

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cisco_cms"
CALL_ID = "b393d2cb-60ec-418c-9991-6ef4e72fa47b"
LEG_ID = "dbe60866-061d-49b3-8399-e95d6248bc2d"
NOW = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Setup:
    http: aiohttp.ClientSession
    tmp_path: Path

    def bridge(
        self,
        url: str,
        password: str = "apipass",  # noqa: S107 -- the emulator's test credential
        name: str = "cms",
        **extra: object,
    ) -> CiscoCmsBridge:
        secret = self.tmp_path / f"{name}-password"
        secret.write_text(password, encoding="utf-8")
        config = BridgeConfig.model_validate(
            {
                "name": name,
                "type": "cisco_cms",
                "url": url,
                "username": "apiuser",
                "password_file": secret,
                "ports": 100,
                "timeout_seconds": 0.5,
                "retries": 2,
                "options": {"retry_base_delay": 0.01},
                **extra,
            }
        )
        return CiscoCmsBridge(config, BridgeContext(http=self.http, clock=lambda: NOW))


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with aiohttp.ClientSession() as http:
        yield Setup(http, tmp_path)


@pytest.fixture
async def canned() -> AsyncIterator[CannedServer]:
    server = CannedServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def emulator() -> AsyncIterator[CmsEmulator]:
    emulated = CmsEmulator(ring_delay=0.02, ring_timeout=0.1)
    await emulated.start()
    yield emulated
    await emulated.stop()


def cdr(bridge: CiscoCmsBridge, name: str) -> InboundRequest:
    return InboundRequest(
        method="POST", path="/hooks/cms", headers={}, query={}, body=fixture(f"cdr/{name}")
    )


# -- recorded shapes --------------------------------------------------------------------------


async def test_health_reads_system_status(setup: Setup, canned: CannedServer) -> None:
    canned.answer("GET", "/api/v1/system/status", Canned(body=fixture("api/system_status.xml")))
    health = await setup.bridge(canned.url).health()
    assert health.reachable
    assert health.version == "3.8.1"
    assert health.ports_in_use == 12
    assert health.load == pytest.approx(0.12)
    method, path, _ = canned.seen[0]
    assert (method, path) == ("GET", "/api/v1/system/status")


async def test_participants_from_call_legs(setup: Setup, canned: CannedServer) -> None:
    canned.answer(
        "GET", f"/api/v1/calls/{CALL_ID}/callLegs", Canned(body=fixture("api/callLegs.xml"))
    )
    canned.answer("GET", f"/api/v1/callLegs/{LEG_ID}", Canned(body=fixture("api/callLeg.xml")))
    # The second leg went away between the list and the detail: it is left out.
    canned.answer(
        "GET",
        "/api/v1/callLegs/5a3b907a-7641-42fb-ae8c-b3424a3e923f",
        Canned(status=404, body=fixture("api/failure_callLegDoesNotExist.xml")),
    )
    bridge = setup.bridge(canned.url)
    participants = await bridge.participants(ConferenceRef(bridge="cms", conference_id=CALL_ID))
    assert len(participants) == 1
    leg = participants[0]
    assert leg.participant_id == LEG_ID
    assert leg.display_name == "UBND tỉnh Lào Cai"
    assert leg.address == "phonghop@laocai.example.vn"
    assert leg.connected
    assert leg.muted
    assert leg.joined_at == NOW - timedelta(seconds=1057)


async def test_requests_are_authenticated_and_form_encoded(
    setup: Setup, emulator: CmsEmulator
) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(
        ConferenceSpec(
            key="meeting-12@2026-12-01T02:00Z", title="Giao ban", expected_sites=2, pin="4321"
        )
    )
    cospace = emulator.cospaces[ref.extra["coSpace"]]
    assert cospace.passcode == "4321"
    assert cospace.cdr_tag == "meeting-12@2026-12-01T02:00Z"
    assert cospace.name == "Giao ban"
    # The emulator answers 401 without the right credentials and 400 to a body not form-encoded.
    wrong = setup.bridge(emulator.url, password="not-it", name="cms-wrong")
    health = await wrong.health()
    assert not health.reachable
    assert "credentials" in health.detail
    assert "not-it" not in health.detail


async def test_exact_cospace_is_found_among_loose_filter_matches(
    setup: Setup, canned: CannedServer
) -> None:
    bridge = setup.bridge(canned.url)
    uri = bridge.cospace_uri("some-key")
    body = fixture("api/coSpaces.xml").replace(b"vcorch-0a1b2c3d4e5f60718293<", uri.encode() + b"<")
    canned.answer("GET", "/api/v1/coSpaces", Canned(body=body))
    calls = fixture("api/calls.xml")
    canned.answer("GET", "/api/v1/calls", Canned(body=calls))
    ref = await bridge.create_conference(
        ConferenceSpec(key="some-key", title="t", expected_sites=2)
    )
    assert ref.extra["coSpace"] == "527089d6-6581-4331-8417-971c05c9e274"
    assert ref.conference_id == CALL_ID  # the active call of that coSpace is reused
    assert [method for method, _, _ in canned.seen] == ["GET", "GET"]  # nothing created


async def test_cdrs_become_join_and_leave_events(setup: Setup) -> None:
    bridge = setup.bridge("http://127.0.0.1:9")
    assert bridge.parse_events(cdr(bridge, "callStart.xml")) == []
    assert bridge.parse_events(cdr(bridge, "callLegStart.xml")) == []
    (join,) = bridge.parse_events(cdr(bridge, "callLegUpdate.xml"))
    assert join.kind == "join"
    assert join.participant_id == LEG_ID
    assert join.conference_id == CALL_ID
    assert join.at == datetime(2026, 12, 1, 2, 0, 9, tzinfo=UTC)
    assert join.address == "phonghop@laocai.example.vn"
    (leave,) = bridge.parse_events(cdr(bridge, "callLegEnd.xml"))
    assert leave.kind == "leave"
    assert leave.conference_id == CALL_ID  # remembered: callLegEnd does not name the call
    assert leave.reason == "remoteTeardown"
    assert leave.at == datetime(2026, 12, 1, 3, 30, 47, tzinfo=UTC)
    assert bridge.parse_events(cdr(bridge, "callEnd.xml")) == []
    again = bridge.parse_events(cdr(bridge, "callLegEnd.xml"))
    assert again[0].event_id == leave.event_id  # a resent CDR is recognisable
    assert join.event_id != leave.event_id


async def test_a_cdr_batch_with_a_ring_out_and_unknown_records(setup: Setup) -> None:
    bridge = setup.bridge("http://127.0.0.1:9")
    (leave,) = bridge.parse_events(cdr(bridge, "batch.xml"))
    assert leave.kind == "leave"
    assert leave.participant_id == "1611cb0c-e6a1-4e54-bd3a-53926d321da3"
    assert leave.conference_id == CALL_ID
    assert leave.reason == "timeout"


async def test_a_leave_for_a_leg_never_seen_has_no_conference(setup: Setup) -> None:
    bridge = setup.bridge("http://127.0.0.1:9")
    (leave,) = bridge.parse_events(cdr(bridge, "callLegEnd.xml"))
    assert leave.conference_id == ""
    assert leave.participant_id == LEG_ID


# -- behaviour against the emulator ----------------------------------------------------------


async def test_participants_follow_every_page(setup: Setup, emulator: CmsEmulator) -> None:
    emulator.page_size = 10
    bridge = setup.bridge(emulator.url, ports=200)
    ref = await bridge.create_conference(ConferenceSpec(key="big", title="t", expected_sites=25))
    dialled = {(await bridge.dial_out(ref, target(number))).participant_id for number in range(25)}
    listed = {participant.participant_id for participant in await bridge.participants(ref)}
    assert listed == dialled
    legs_pages = [
        path
        for method, path in emulator.requests
        if method == "GET" and path.endswith(f"{ref.conference_id}/callLegs")
    ]
    assert len(legs_pages) == 3


def target(number: int, address: str | None = None) -> DialTarget:
    return DialTarget(
        site_id=str(number),
        kind="sip",
        address=address or f"sip:room{number}@laocai.example.vn",
        display_name=f"Ủy ban nhân dân xã Tả Phìn, huyện Sa Pa, tỉnh Lào Cai — phòng {number}",
    )


async def test_create_is_idempotent_across_processes(setup: Setup, emulator: CmsEmulator) -> None:
    spec = ConferenceSpec(key="meeting-7@2026-12-01T02:00Z", title="t", expected_sites=2)
    one = setup.bridge(emulator.url, name="cms-a")
    two = setup.bridge(emulator.url, name="cms-b")
    refs = await asyncio.gather(one.create_conference(spec), two.create_conference(spec))
    assert refs[0].extra["coSpace"] == refs[1].extra["coSpace"]
    assert len(emulator.cospaces) == 1


async def test_dial_errors_are_translated(setup: Setup, emulator: CmsEmulator) -> None:
    emulator.max_call_legs = 1
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))
    with pytest.raises(DialFailed) as failed:
        await bridge.dial_out(ref, target(1, address="sip:not an address"))
    assert failed.value.site_id == "1"
    assert "parameterError" in failed.value.reason
    await bridge.dial_out(ref, target(2))
    with pytest.raises(CapacityExceeded):
        await bridge.dial_out(ref, target(3))
    name = next(iter(emulator.calls[ref.conference_id].legs.values())).name
    assert len(name.encode("utf-8")) <= 50  # nameLabelOverride limit, cut on a character
    assert name.startswith("Ủy ban nhân dân")


async def test_a_busy_server_is_busy_not_unavailable(setup: Setup, emulator: CmsEmulator) -> None:
    # API reference: 503 is a temporary "busy" condition, "re-attempt the same method later".
    bridge = setup.bridge(emulator.url, options={"retry_base_delay": 0.001, "busy_retries": 3})
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))
    emulator.mode = "busy"
    emulator.requests.clear()
    with pytest.raises(BridgeBusy, match="503") as caught:
        await bridge.participants(ref)
    assert not isinstance(caught.value, BridgeUnavailable)
    assert len(emulator.requests) == 4  # one attempt and three repeats
    emulator.requests.clear()
    with pytest.raises(BridgeBusy):
        await bridge.dial_out(ref, target(1))
    # A 503 means the leg was not created: the create is repeated like any other call.
    assert len(emulator.requests) == 4
    assert emulator.active_legs() == 0
    health = await bridge.health()
    assert health.reachable  # busy is not down


async def test_garbage_is_a_protocol_error_not_a_crash(setup: Setup, emulator: CmsEmulator) -> None:
    bridge = setup.bridge(emulator.url)
    emulator.mode = "garbage"
    with pytest.raises(BridgeProtocolError):
        await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))


def test_hook_with_basic_auth(setup: Setup, tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.write_text("cdr-secret", encoding="utf-8")
    bridge = setup.bridge(
        "http://127.0.0.1:9", options={"hook_secret_file": str(hook), "hook_username": "cms"}
    )
    good = "Basic " + base64.b64encode(b"cms:cdr-secret").decode()
    request = InboundRequest("POST", "/h", {"Authorization": good}, {}, b"")
    assert bridge.authenticate_hook(request)


async def test_failure_details_decide_the_error(setup: Setup, canned: CannedServer) -> None:
    canned.answer(
        "POST",
        f"/api/v1/calls/{CALL_ID}/callLegs",
        Canned(status=400, body=fixture("api/failure_participantLimitReached.xml")),
    )
    canned.answer(
        "DELETE",
        f"/api/v1/callLegs/{LEG_ID}",
        Canned(status=404, body=fixture("api/failure_callLegDoesNotExist.xml")),
    )
    bridge = setup.bridge(canned.url)
    ref = ConferenceRef(bridge="cms", conference_id=CALL_ID)
    with pytest.raises(CapacityExceeded, match="participantLimitReached"):
        await bridge.dial_out(ref, target(1))
    with pytest.raises(ConferenceNotFound, match="callLegDoesNotExist"):
        await bridge.disconnect(ref, LEG_ID)
    (posted,) = [body for method, _, body in canned.seen if method == "POST"]
    form = parse_qs(posted.decode("ascii"))
    assert form["remoteParty"] == ["room1@laocai.example.vn"]  # the sip: scheme is not sent
    assert form["nameLabelOverride"][0].startswith("Ủy ban nhân dân xã Tả Phìn")


async def test_dial_in_is_the_cospace_call_id_and_a_derived_passcode(
    setup: Setup, emulator: CmsEmulator
) -> None:
    key = "meeting-14@2026-12-07T02:00Z"
    spec = ConferenceSpec(key=key, title="Giao ban", expected_sites=2)
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec)
    dial_in = await bridge.dial_in(ref)
    cospace = emulator.cospaces[ref.extra["coSpace"]]
    # Asked for a callId (requireCallId) since the coSpace had none; the passcode is set at
    # creation: six digits, the same for another process holding the same API password.
    assert (dial_in.number, dial_in.pin) == (cospace.call_id, cospace.passcode)
    assert dial_in.number.isdigit() and len(dial_in.pin or "") == 6
    assert ("PUT", f"/api/v1/coSpaces/{cospace.cospace_id}") in emulator.requests
    emulator.cospaces.clear()
    emulator.calls.clear()
    again = setup.bridge(emulator.url, name="cms-other")
    assert (await again.dial_in(await again.create_conference(spec))).pin == dial_in.pin
    # Without options.dial_in_pin the coSpace has no passcode, and the dial-in no PIN.
    plain = setup.bridge(
        emulator.url, name="cms-plain", options={"retry_base_delay": 0.01, "dial_in_pin": False}
    )
    bare = await plain.dial_in(
        await plain.create_conference(ConferenceSpec(key="other", title="x", expected_sites=1))
    )
    assert bare.pin is None and bare.number.isdigit()
