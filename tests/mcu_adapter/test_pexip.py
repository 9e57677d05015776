"""Pexip Infinity adapter: event sink bodies as the reference shows them, and behaviour
against the emulator on good and bad days (busy, paging races, slow calls, refused logins)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from tests.emulators.pexip import PexipEmulator
from tests.waiting import eventually
from vcorch.config import BridgeConfig, ConfigError
from vcorch.mcu_adapter.base import (
    BridgeBusy,
    BridgeContext,
    BridgeProtocolError,
    BridgeUnavailable,
    ConferenceNotFound,
    ConferenceRef,
    ConferenceSpec,
    DialTarget,
    InboundRequest,
    ListingUnreliable,
    NotSupported,
)
from vcorch.mcu_adapter.budget import RequestBudget
from vcorch.mcu_adapter.pexip import PexipBridge
from vcorch.mcu_adapter.pexip.client import PexipClient, PexipSettings
from vcorch.mcu_adapter.retry import RetryPolicy

FIXTURES = Path(__file__).parents[1] / "fixtures" / "pexip"
NOW = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
PASSWORD = "pexip-admin-pass"  # the emulator's test credential
LOCATION = "Hà Nội"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def pushed(body: bytes) -> InboundRequest:
    return InboundRequest(
        method="POST",
        path="/hooks/pexip",
        headers={"Content-Type": "application/json"},
        query={},
        body=body,
    )


def spec(key: str = "meeting-12@2026-12-01T02:00Z", pin: str | None = "246810") -> ConferenceSpec:
    return ConferenceSpec(key=key, title="Giao ban trực tuyến", expected_sites=700, pin=pin)


def site(number: int, kind: str = "sip") -> DialTarget:
    address = f"room-{number}@province.example.vn" if kind == "sip" else f"10.0.{number}.7"
    return DialTarget(
        site_id=f"site-{number}",
        kind=kind,  # type: ignore[arg-type]
        address=f"{kind}:{address}",
        display_name=f"Điểm cầu {number}",
    )


@dataclass
class Setup:
    http: aiohttp.ClientSession
    tmp_path: Path

    def bridge(
        self, url: str, *, password: str = PASSWORD, retries: int = 2, **options: object
    ) -> PexipBridge:
        secret = self.tmp_path / "pexip-password"
        secret.write_text(password, encoding="utf-8")
        config = BridgeConfig(
            name="pexip",
            type="pexip",
            url=url,
            username="admin",
            password_file=secret,
            ports=1000,
            timeout_seconds=0.5,
            retries=retries,
            options={
                "system_location": LOCATION,
                "retry_base_delay": 0.01,
                "retry_max_delay": 0.02,
                "request_budget_per_second": 0,
                **options,
            },
        )
        return PexipBridge(config, BridgeContext(http=self.http, clock=lambda: NOW))


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with aiohttp.ClientSession() as http:
        yield Setup(http, tmp_path)


@pytest.fixture
async def emulator() -> AsyncIterator[PexipEmulator]:
    emu = PexipEmulator(ring_delay=0.01, ring_timeout=0.2, page_size=3)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


async def connected(bridge: PexipBridge, ref: ConferenceRef, count: int) -> None:
    async def check() -> bool:
        found = await bridge.participants(ref)
        return sum(1 for item in found if item.connected) == count

    await eventually(check, what=f"{count} connected")


# -- event sink bodies --------------------------------------------------------------------


def test_a_call_still_connecting_is_not_a_join(setup: Setup) -> None:
    bridge = setup.bridge("https://pexip.example.vn")
    assert bridge.parse_events(pushed(fixture("participant_connected_connecting.json"))) == []
    assert bridge.parse_events(pushed(fixture("eventsink_started.json"))) == []
    assert bridge.parse_events(pushed(fixture("conference_started.json"))) == []


def test_in_the_conference_with_media_is_one_join(setup: Setup) -> None:
    bridge = setup.bridge("https://pexip.example.vn")
    body = fixture("participant_updated_in_conference.json")
    [join] = bridge.parse_events(pushed(body))
    assert join.kind == "join"
    assert join.conference_id == "vcorch-1a2b3c4d5e6f70819293"
    assert join.participant_id == "d5fc4ce0-d0cc-4582-8c67-c033ff397c72"
    assert join.at == datetime.fromtimestamp(1576815616.102244, tz=UTC)
    assert join.address == "room-hagiang@province.example.vn"  # the dialled alias
    assert join.display_name == "Phòng họp UBND tỉnh Hà Giang"
    # A later update (a mute, a role change) of someone already in is no second join.
    assert bridge.parse_events(pushed(body.replace(b'"seq": 4', b'"seq": 5'))) == []


def test_a_leave_carries_its_reason_and_end_time(setup: Setup) -> None:
    bridge = setup.bridge("https://pexip.example.vn")
    [leave] = bridge.parse_events(pushed(fixture("participant_disconnected.json")))
    assert leave.kind == "leave"
    assert leave.reason == "Call disconnected"
    assert leave.at == datetime.fromtimestamp(1606392917.976151, tz=UTC)
    again = bridge.parse_events(pushed(fixture("participant_disconnected.json")))
    assert again[0].event_id == leave.event_id  # the same report, the same id


def test_bulk_messages_are_read_in_order(setup: Setup) -> None:
    bridge = setup.bridge("https://pexip.example.vn")
    events = bridge.parse_events(pushed(fixture("eventsink_bulk.json")))
    assert [(event.kind, event.display_name) for event in events] == [
        ("join", "Điểm cầu Cao Bằng"),
        ("leave", "Điểm cầu Lạng Sơn"),
    ]
    assert len({event.event_id for event in events}) == 2


def test_unknown_event_names_are_not_errors_but_broken_bodies_are(setup: Setup) -> None:
    bridge = setup.bridge("https://pexip.example.vn")
    future = {"node": "10.0.0.1", "seq": 9, "version": 2, "time": 1.0e9, "event": "x", "data": {}}
    assert bridge.parse_events(pushed(json.dumps(future).encode())) == []
    with pytest.raises(BridgeProtocolError):
        bridge.parse_events(pushed(json.dumps({**future, "seq": "nine"}).encode()))


def test_event_sink_credentials_are_the_hook_secret(setup: Setup) -> None:
    secret = setup.tmp_path / "sink"
    secret.write_text("sink-secret", encoding="utf-8")
    bridge = setup.bridge(
        "https://pexip.example.vn", hook_secret_file=str(secret), hook_username="pexip"
    )
    good = InboundRequest(
        "POST", "/hooks/pexip", {"Authorization": "Basic cGV4aXA6c2luay1zZWNyZXQ="}, {}, b""
    )
    wrong_user = InboundRequest(
        "POST", "/", {"Authorization": "Basic b3RoZXI6c2luay1zZWNyZXQ="}, {}, b""
    )
    assert bridge.authenticate_hook(good)
    assert not bridge.authenticate_hook(wrong_user)


# -- configuration ------------------------------------------------------------------------


def test_manual_routing_needs_a_system_location(setup: Setup) -> None:
    with pytest.raises(ConfigError, match="system_location"):
        setup.bridge("https://pexip.example.vn", system_location="")
    bridge = setup.bridge("https://pexip.example.vn", system_location="", routing="routing_rule")
    assert bridge.capabilities.dial_h323


# -- conferences and calls ----------------------------------------------------------------


async def test_a_vmr_is_created_once_with_its_aliases_and_pin(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url, sip_domain="vmr.example.vn")
    first = await bridge.create_conference(spec())
    again = await bridge.create_conference(spec())
    assert again == first
    [vmr] = emulator.vmrs.values()
    assert vmr.name == first.conference_id
    assert vmr.aliases == [
        first.conference_id,
        first.extra["numeric"],
        f"{first.conference_id}@vmr.example.vn",
    ]
    assert (vmr.pin, vmr.guest_pin, vmr.allow_guests) == ("246810", "", False)
    assert vmr.tag == "meeting-12@2026-12-01T02:00Z"
    dial_in = await bridge.dial_in(first)
    assert dial_in.number == first.extra["numeric"]
    assert dial_in.number.isdigit() and len(dial_in.number) == 9
    assert dial_in.pin == "246810"
    assert dial_in.uri == f"sip:{first.conference_id}@vmr.example.vn"
    assert await bridge.dial_in_uri(first) == dial_in.uri


async def test_with_guests_the_meeting_pin_is_the_guest_pin(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url, guests=True)
    ref = await bridge.create_conference(spec())
    [vmr] = emulator.vmrs.values()
    assert vmr.allow_guests and vmr.guest_pin == "246810"
    assert vmr.pin and vmr.pin != "246810"  # hosts' PIN: nobody is told it
    assert (await bridge.dial_in(ref)).pin == "246810"
    with pytest.raises(NotSupported):
        await bridge.create_conference(spec("other", pin="12"))


async def test_a_room_calling_in_with_the_pin_is_listed_by_its_address(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    dial_in = await bridge.dial_in(ref)
    assert dial_in.pin is not None
    assert emulator.call_in(dial_in.number, "room-9@province.example.vn", pin="000000") is None
    called = emulator.call_in(dial_in.number, "room-9@province.example.vn", pin=dial_in.pin)
    assert called is not None
    [listed] = await bridge.participants(ref)
    assert (listed.participant_id, listed.connected) == (called, True)
    assert listed.address == "room-9@province.example.vn"  # what vcorch knows the room by
    assert listed.site_id is None  # not dialled by vcorch: no tag
    [join] = [
        event
        for message in emulator.sent
        for event in bridge.parse_events(pushed(json.dumps({**message, "seq": 1}).encode()))
    ]
    assert (join.kind, join.address, join.conference_id) == (
        "join",
        "room-9@province.example.vn",
        ref.conference_id,
    )


async def test_dial_out_names_alias_protocol_role_and_location(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    made = await bridge.dial_out(ref, site(7, "h323"))
    assert emulator.last_dial == {
        "conference_alias": ref.conference_id,
        "destination": "10.0.7.7",
        "protocol": "h323",
        "role": "chair",
        "routing": "manual",
        "system_location": LOCATION,
        "remote_display_name": "Điểm cầu 7",
        "call_type": "video",
        "streaming": False,
    }
    await connected(bridge, ref, 1)
    [listed] = await bridge.participants(ref)
    assert listed.participant_id == made.participant_id
    assert listed.site_id == "site-7"
    assert listed.address == "10.0.7.7"
    assert listed.joined_at is not None
    looked = await bridge.participant(ref, made.participant_id)
    assert looked == listed
    assert await bridge.participant(ref, "no-such-participant") is None


async def test_a_listing_follows_every_page(setup: Setup, emulator: PexipEmulator) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    for number in range(8):
        await bridge.dial_out(ref, site(number))
    await connected(bridge, ref, 8)
    before = len(emulator.requests)
    found = await bridge.participants(ref)
    assert {item.site_id for item in found} == {f"site-{number}" for number in range(8)}
    # Three pages of three (the server's cap), then the first page read again.
    assert len(emulator.requests) - before == 4
    assert bridge.listing_cost(8) == 1  # we ask for 100 a page: one page on a real node
    assert bridge.listing_cost(700) == 8


async def test_a_leave_between_pages_makes_the_listing_unreliable(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    made = [await bridge.dial_out(ref, site(number)) for number in range(7)]
    await connected(bridge, ref, 7)
    leaving = made[0].participant_id

    def leave_after_first_page(path: str, offset: int) -> None:
        if offset > 0 and emulator.before_page is not None:
            emulator.before_page = None
            emulator.remote_hangup(leaving)

    emulator.before_page = leave_after_first_page
    with pytest.raises(ListingUnreliable):
        await bridge.participants(ref)
    # Confirming one connected site directly still works, and the next listing is whole.
    assert (await bridge.participant(ref, made[3].participant_id)) is not None
    assert len(await bridge.participants(ref)) == 6


async def test_a_leave_and_a_join_between_pages_is_caught_too(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    made = [await bridge.dial_out(ref, site(number)) for number in range(7)]
    await connected(bridge, ref, 7)

    def swap_after_first_page(path: str, offset: int) -> None:
        if offset > 0 and emulator.before_page is not None:
            emulator.before_page = None
            emulator.remote_hangup(made[0].participant_id)  # total_count stays 7:
            conference = emulator.conferences[ref.conference_id]
            newcomer = next(iter(conference.participants.values()))
            conference.participants["newcomer"] = type(newcomer)(
                participant_id="newcomer",
                conference=newcomer.conference,
                display_name="Khách",
                destination_alias="guest@example.vn",
                source_alias=ref.conference_id,
                call_direction="in",
                protocol="SIP",
                role="guest",
            )

    emulator.before_page = swap_after_first_page
    with pytest.raises(ListingUnreliable):
        await bridge.participants(ref)


async def test_end_drops_everyone_and_removes_the_vmr(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    await bridge.dial_out(ref, site(1))
    await connected(bridge, ref, 1)
    await bridge.end_conference(ref)
    assert emulator.vmrs == {}
    assert emulator.conferences == {}
    assert await bridge.participants(ref) == []
    await bridge.end_conference(ref)  # twice is fine


# -- in-call controls ---------------------------------------------------------------------


async def test_lock_and_layout_act_on_the_running_conference(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    with pytest.raises(ConferenceNotFound):
        await bridge.lock(ref, True)  # nobody in yet: no running conference
    await bridge.dial_out(ref, site(1))
    await connected(bridge, ref, 1)
    await bridge.lock(ref, True)
    assert emulator.conferences[ref.conference_id].is_locked
    await bridge.lock(ref, False)
    assert not emulator.conferences[ref.conference_id].is_locked
    assert "grid" in bridge.capabilities.layout_names
    await bridge.set_layout(ref, "grid")
    assert emulator.conferences[ref.conference_id].layout == "4:0"
    with pytest.raises(NotSupported):
        await bridge.set_layout(ref, "mosaic-of-doom")


async def test_mute_all_with_guests_is_one_mute_guests_command(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url, guests=True)
    ref = await bridge.create_conference(spec())
    for number in range(4):
        await bridge.dial_out(ref, site(number))
    await connected(bridge, ref, 4)
    assert emulator.last_dial["role"] == "guest"
    before = len(emulator.requests)
    await bridge.mute_all(ref, True)
    assert len(emulator.requests) - before == 2  # the status look-up, then the command
    assert all(item.muted for item in await bridge.participants(ref))
    await bridge.mute_all(ref, False)
    assert not any(item.muted for item in await bridge.participants(ref))


async def test_mute_all_with_hosts_mutes_each_site(setup: Setup, emulator: PexipEmulator) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    for number in range(4):
        await bridge.dial_out(ref, site(number))
    await connected(bridge, ref, 4)
    await bridge.mute_all(ref, True)
    assert all(item.muted for item in await bridge.participants(ref))


# -- bad days -----------------------------------------------------------------------------


async def test_busy_answers_are_retried_even_for_a_dial(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    emulator.busy_next = 2
    made = await bridge.dial_out(ref, site(1))
    assert emulator.busy_answers == 2
    await connected(bridge, ref, 1)
    # One dial reached the far side: no site was called twice.
    assert [p.participant_id for p in await bridge.participants(ref)] == [made.participant_id]


async def test_half_the_calls_busy_still_connects_every_site(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url, busy_retries=8)
    ref = await bridge.create_conference(spec())
    emulator.busy_every = 2
    for number in range(10):
        await bridge.dial_out(ref, site(number))
    await connected(bridge, ref, 10)
    assert emulator.busy_answers > 5
    assert len(await bridge.participants(ref)) == 10  # nobody dialled twice


async def test_busy_through_every_retry_is_busy_not_down(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url, busy_retries=2)
    ref = await bridge.create_conference(spec())
    emulator.mode = "busy"
    emulator.retry_after = 0.05
    with pytest.raises(BridgeBusy) as caught:
        await bridge.dial_out(ref, site(1))
    assert not isinstance(caught.value, BridgeUnavailable)
    assert caught.value.retry_after == 0.05
    assert emulator.busy_answers == 3  # the first try and two repeats


async def test_a_busy_node_is_reachable_for_health(setup: Setup, emulator: PexipEmulator) -> None:
    bridge = setup.bridge(emulator.url, busy_retries=1)
    emulator.mode = "busy"
    health = await bridge.health()
    assert health.reachable  # busy is not down: no fail-over on its strength
    assert health.detail.startswith("busy")
    await emulator.go_down()
    assert not (await bridge.health()).reachable


async def test_retry_after_holds_the_budget(emulator: PexipEmulator) -> None:
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = RequestBudget(None, clock=lambda: now[0], sleep=fake_sleep)
    async with aiohttp.ClientSession() as http:
        client = PexipClient(
            PexipSettings(
                base_url=emulator.url,
                username=emulator.username,
                password=emulator.password,
                bridge="pexip",
                policy=RetryPolicy(timeout=1.0, retries=1, base_delay=0.0, max_delay=0.0),
            ),
            http,
            budget,
            sleep=fake_sleep,
        )
        emulator.busy_next = 1
        emulator.retry_after = 1.5
        licensing = await client.licensing()
    assert licensing.port_total == emulator.port_total
    assert 1.5 in slept  # the next request waited for Retry-After


async def test_slow_calls_within_the_timeout_succeed_beyond_it_are_unavailable(
    setup: Setup, emulator: PexipEmulator
) -> None:
    bridge = setup.bridge(emulator.url, retries=1)
    emulator.latency = 0.1
    assert (await bridge.health()).reachable
    emulator.latency = 0.8  # past timeout_seconds = 0.5
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BridgeUnavailable, match="no answer within"):
        await bridge.create_conference(spec())
    assert loop.time() - started < 2 * 0.5 + 1.0


async def test_refused_credentials_are_said_plainly_and_never_shown(
    setup: Setup, emulator: PexipEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bridge = setup.bridge(emulator.url, password="not-the-password")
    health = await bridge.health()
    assert not health.reachable
    assert "refused the API credentials" in health.detail
    with pytest.raises(BridgeUnavailable) as caught:
        await bridge.create_conference(spec())
    assert "not-the-password" not in str(caught.value)
    emulator.busy_next = 1
    good = setup.bridge(emulator.url)
    await good.health()
    assert PASSWORD not in caplog.text
    assert "not-the-password" not in caplog.text


async def test_garbage_is_a_protocol_error(setup: Setup, emulator: PexipEmulator) -> None:
    bridge = setup.bridge(emulator.url)
    emulator.mode = "garbage"
    with pytest.raises(BridgeProtocolError):
        await bridge.create_conference(spec())


async def test_events_through_the_sink_name_the_site(setup: Setup, emulator: PexipEmulator) -> None:
    bridge = setup.bridge(emulator.url)
    ref = await bridge.create_conference(spec())
    made = await bridge.dial_out(ref, site(5))
    await connected(bridge, ref, 1)
    emulator.remote_hangup(made.participant_id)
    events = []
    for message in emulator.sent:
        events.extend(bridge.parse_events(pushed(json.dumps({**message, "seq": 1}).encode())))
    kinds = [(event.kind, event.site_id, event.conference_id) for event in events]
    assert kinds == [("join", "site-5", ref.conference_id), ("leave", "site-5", ref.conference_id)]
