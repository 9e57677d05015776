"""Jitsi Meet adapter: tokens, recorded payload shapes, and behaviour against the emulator."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jwt
import pytest

from tests.emulators.canned import Canned, CannedServer
from tests.emulators.jitsi import JitsiEmulator, JoinRefused
from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import (
    BridgeBusy,
    BridgeContext,
    BridgeUnavailable,
    ConferenceRef,
    ConferenceSpec,
    DialTarget,
    InboundRequest,
    NotSupported,
)
from vcorch.mcu_adapter.jitsi import JitsiBridge

FIXTURES = Path(__file__).parents[1] / "fixtures" / "jitsi"
ROOM = "vcorch-5d41402abc4b2a76b971"
SECRET = "jitsi-app-secret-of-at-least-32-bytes!"
SITE = DialTarget(site_id="42", kind="webrtc", address="", display_name="UBND xã Y Tý")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Setup:
    http: aiohttp.ClientSession
    tmp_path: Path

    def bridge(
        self, prosody: str, jvb: str, secret: str = SECRET, **options: object
    ) -> JitsiBridge:
        secret_file = self.tmp_path / "secret"
        secret_file.write_text(secret, encoding="utf-8")
        config = BridgeConfig(
            name="jitsi",
            type="jitsi",
            url="https://meet.example.vn/",
            secret_file=secret_file,
            ports=200,
            timeout_seconds=0.5,
            retries=1,
            options={
                "domain": "meet.example.vn",
                "app_id": "vcorch-app",
                "prosody_url": prosody,
                "jvb_url": jvb,
                "retry_base_delay": 0.01,
                **options,
            },
        )
        return JitsiBridge(config, BridgeContext(http=self.http, clock=lambda: datetime.now(UTC)))


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
async def emulator() -> AsyncIterator[JitsiEmulator]:
    emulated = JitsiEmulator(app_secret=SECRET)
    await emulated.start()
    yield emulated
    await emulated.stop()


def pushed(name: str) -> InboundRequest:
    return InboundRequest("POST", "/hooks/jitsi/events/x", {}, {}, fixture(name))


# -- tokens -----------------------------------------------------------------------------------


async def test_join_link_carries_a_room_token_for_the_site(setup: Setup) -> None:
    bridge = setup.bridge("http://127.0.0.1:9", "http://127.0.0.1:9")
    expires = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    link = await bridge.webrtc_join_url(ConferenceRef("jitsi", ROOM), SITE, expires)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"https://meet.example.vn/{ROOM}"
    token = parse_qs(parts.query)["jwt"][0]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="vcorch-app",
        options={"verify_exp": False},
    )
    assert claims["iss"] == "vcorch-app"
    assert claims["sub"] == "meet.example.vn"
    assert claims["room"] == ROOM
    assert claims["exp"] == int(expires.timestamp())
    assert claims["context"]["user"] == {
        "id": "42",
        "name": "UBND xã Y Tý",
        "email": "42@sites.vcorch.invalid",
    }


async def test_prosody_accepts_the_link_until_it_expires(
    setup: Setup, emulator: JitsiEmulator
) -> None:
    bridge = setup.bridge(emulator.prosody_url, emulator.jvb_url)
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))
    good = await bridge.webrtc_join_url(ref, SITE, datetime.now(UTC) + timedelta(minutes=5))
    await emulator.join(good)
    stale = await bridge.webrtc_join_url(ref, SITE, datetime.now(UTC) - timedelta(seconds=5))
    with pytest.raises(JoinRefused, match="expired"):
        await emulator.join(stale)
    other_room = good.replace(ref.conference_id, "some-other-room")
    with pytest.raises(JoinRefused, match="another room"):
        await emulator.join(other_room)


def test_a_short_secret_is_warned_about(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        setup.bridge("http://127.0.0.1:9", "http://127.0.0.1:9", secret="short")
    assert "shorter than 32 bytes" in caplog.text
    assert "short" not in caplog.text.replace("shorter", "")  # the secret itself is not logged


# -- recorded shapes --------------------------------------------------------------------------


def test_occupant_events_from_event_sync(setup: Setup) -> None:
    bridge = setup.bridge("http://127.0.0.1:9", "http://127.0.0.1:9")
    (join,) = bridge.parse_events(pushed("event_sync_occupant_joined.json"))
    (leave,) = bridge.parse_events(pushed("event_sync_occupant_left.json"))
    assert (join.kind, leave.kind) == ("join", "leave")
    assert join.participant_id == leave.participant_id == "site-42"
    assert join.site_id == "42"
    assert join.conference_id == ROOM
    assert join.at == datetime.fromtimestamp(1796090400, UTC)
    assert leave.at == datetime.fromtimestamp(1796095800, UTC)
    assert join.display_name == "UBND xã Y Tý"
    assert join.event_id != leave.event_id
    assert (
        bridge.parse_events(pushed("event_sync_occupant_joined.json"))[0].event_id == join.event_id
    )


def test_guests_breakouts_and_room_events(setup: Setup) -> None:
    bridge = setup.bridge("http://127.0.0.1:9", "http://127.0.0.1:9")
    (guest,) = bridge.parse_events(pushed("event_sync_guest_joined.json"))
    assert guest.site_id is None
    assert guest.participant_id.startswith("8c0e1f2a-")
    assert bridge.parse_events(pushed("event_sync_breakout_joined.json")) == []
    assert bridge.parse_events(pushed("event_sync_room_destroyed.json")) == []


async def test_participants_and_health_from_recorded_answers(
    setup: Setup, canned: CannedServer
) -> None:
    json_type = "application/json"
    canned.answer("GET", "/room", Canned(body=fixture("room.json"), content_type=json_type))
    canned.answer(
        "GET", "/room-size", Canned(body=fixture("room_size.json"), content_type=json_type)
    )
    canned.answer("GET", "/about/health", Canned(status=200))
    canned.answer(
        "GET", "/colibri/stats", Canned(body=fixture("colibri_stats.json"), content_type=json_type)
    )
    canned.answer(
        "GET", "/about/version", Canned(body=fixture("about_version.json"), content_type=json_type)
    )
    bridge = setup.bridge(canned.url, canned.url)
    participants = await bridge.participants(ConferenceRef("jitsi", ROOM))
    assert [(p.participant_id, p.site_id, p.display_name) for p in participants] == [
        ("site-42", "42", "UBND xã Y Tý"),
        (f"{ROOM}@conference.meet.example.vn/9e8d7c6b", None, "Khách"),
    ]
    query = parse_qs(urlsplit(canned.seen[0][1]).query)
    assert query["room"] == [ROOM]
    assert query["domain"] == ["meet.example.vn"]
    assert (
        jwt.decode(query["token"][0], SECRET, algorithms=["HS256"], audience="vcorch-app")["room"]
        == ROOM
    )
    health = await bridge.health()
    assert health.reachable
    assert health.version == "2.3.170-gb0ddc9e1"
    assert health.ports_in_use == 12
    assert health.load == pytest.approx(0.18)


# -- behaviour against the emulator ----------------------------------------------------------


async def test_unhealthy_videobridge_is_not_reachable(
    setup: Setup, emulator: JitsiEmulator
) -> None:
    emulator.jvb_unhealthy = "No XMPP connection"
    health = await setup.bridge(emulator.prosody_url, emulator.jvb_url).health()
    assert not health.reachable
    assert "No XMPP connection" in health.detail


async def test_a_default_jitsi_without_colibri_statistics_is_healthy(
    setup: Setup, emulator: JitsiEmulator
) -> None:
    health = await setup.bridge(emulator.prosody_url, emulator.jvb_url).health()

    assert health.reachable, health.detail
    assert health.version == "2.3.170-gb0ddc9e1"
    assert health.ports_in_use is None  # the bridge does not say; nothing is made up
    assert ("GET", "/colibri/stats") in [(m, urlsplit(u).path) for m, u in emulator.requests]


async def test_colibri_statistics_give_the_load_where_they_are_enabled(
    setup: Setup, emulator: JitsiEmulator
) -> None:
    emulator.colibri_rest = True
    bridge = setup.bridge(emulator.prosody_url, emulator.jvb_url)
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))
    await emulator.join(
        await bridge.webrtc_join_url(ref, SITE, datetime.now(UTC) + timedelta(minutes=5))
    )

    health = await bridge.health()

    assert health.reachable
    assert health.ports_in_use == 1


async def test_a_room_answered_as_an_empty_object_has_nobody_in_it(
    setup: Setup, emulator: JitsiEmulator
) -> None:
    bridge = setup.bridge(emulator.prosody_url, emulator.jvb_url)
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))
    emulator.open_room(ref.conference_id)

    assert await bridge.participants(ref) == []
    await bridge.end_conference(ref)  # nobody to leave behind: not refused


async def test_unsigned_room_queries_are_refused_where_prosody_verifies(
    setup: Setup, emulator: JitsiEmulator
) -> None:
    bridge = setup.bridge(emulator.prosody_url, emulator.jvb_url, room_size_token=False)
    with pytest.raises(BridgeUnavailable, match="refused"):
        await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))


async def test_sites_are_recognised_by_display_name_without_the_email_tag(
    setup: Setup, emulator: JitsiEmulator
) -> None:
    bridge = setup.bridge(emulator.prosody_url, emulator.jvb_url)
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))
    link = await bridge.webrtc_join_url(ref, SITE, datetime.now(UTC) + timedelta(minutes=5))
    occupant = await emulator.join(link)
    occupant.email = ""  # a client that does not publish the token's email
    (listed,) = await bridge.participants(ref)
    assert listed.site_id == "42"
    assert listed.participant_id == "site-42"


async def test_what_jitsi_cannot_do_is_said(setup: Setup, emulator: JitsiEmulator) -> None:
    bridge = setup.bridge(emulator.prosody_url, emulator.jvb_url)
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))
    for attempt in (
        bridge.dial_out(ref, DialTarget("1", "sip", "sip:a@b", "A")),
        bridge.mute(ref, "site-1", True),
        bridge.disconnect(ref, "site-1"),
    ):
        with pytest.raises(NotSupported):
            await attempt


# -- request budget and busy ------------------------------------------------------------------


async def test_a_busy_prosody_is_busy_not_unavailable(setup: Setup, canned: CannedServer) -> None:
    canned.answer("GET", "/room", Canned(status=503, headers={"Retry-After": "0"}))
    bridge = setup.bridge(canned.url, canned.url, busy_retries=2)
    ref = ConferenceRef(bridge="jitsi", conference_id="vcorch-room")
    with pytest.raises(BridgeBusy) as caught:
        await bridge.participants(ref)
    assert not isinstance(caught.value, BridgeUnavailable)
    assert caught.value.retry_after == 0.0
    assert [path for _, path, _ in canned.seen].count(canned.seen[0][1]) == 3
    assert bridge.budget.spent == 3  # every attempt went through the budget


def test_jitsi_has_a_default_request_budget(setup: Setup) -> None:
    assert setup.bridge("http://127.0.0.1:9", "http://127.0.0.1:9").budget.rate == 20.0
    configured = setup.bridge(
        "http://127.0.0.1:9", "http://127.0.0.1:9", request_budget_per_second=3
    )
    assert configured.budget.rate == 3.0


async def test_a_busy_videobridge_is_still_reachable(setup: Setup, canned: CannedServer) -> None:
    canned.answer("GET", "/about/health", Canned(status=503))
    canned.answer(
        "GET", "/room-size", Canned(body=b'{"participants": 0}', content_type="application/json")
    )
    bridge = setup.bridge(canned.url, canned.url, busy_retries=0)
    health = await bridge.health()
    assert health.reachable
    assert "busy" in health.detail
