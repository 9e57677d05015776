"""The gateway's Janus SIP client and calls against Janus' recorded answers (no Janus needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.gateway.fake_janus import SECRET, FakeJanus, recorded
from tests.janus_harness.server import free_port
from vcorch.gateway.calls import CallRequest, GatewayCall
from vcorch.gateway.errors import (
    CallRejected,
    CallTimedOut,
    GatewayUnavailable,
    OfferNotUsable,
)
from vcorch.gateway.health import GatewayHealth
from vcorch.gateway.janus_sip import JanusSipClient, JanusSipSettings

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def serve(fake: FakeJanus) -> TestServer:
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    return server


def client_for(
    http: aiohttp.ClientSession, url: str, secret: str = SECRET, retries: int = 1
) -> JanusSipClient:
    return JanusSipClient(
        http,
        JanusSipSettings(
            name="cong-sip",
            api_url=url,
            api_secret=secret,
            timeout=2,
            retries=retries,
            retry_base=0.01,
        ),
    )


def a_call(client: JanusSipClient, changes: list[bool], **kwargs: Any) -> GatewayCall:
    async def changed(call: GatewayCall, present: bool) -> None:
        changes.append(present)

    return GatewayCall(
        client=client,
        request=CallRequest(
            run_site_id=7,
            from_uri="sip:vcorch-site-7@vcorch.example.gov.vn",
            display_name="Phòng họp Lào Cai",
            target_uri="sip:conf@mcu.example.gov.vn",
            offer_sdp="v=0\r\n(the browser's offer)\r\n",
            expires_at=kwargs.pop("expires_at", NOW + timedelta(hours=1)),
        ),
        answer_timeout=kwargs.pop("answer_timeout", 2.0),
        clock=lambda: NOW,
        on_change=changed,
        **kwargs,
    )


def plugin_requests(fake: FakeJanus) -> list[dict[str, Any]]:
    return [r["body"] for r in fake.requests if r.get("janus") == "message"]


async def test_an_answered_call_gives_janus_answer_and_hangs_up_with_bye(
    http: aiohttp.ClientSession,
) -> None:
    fake = FakeJanus("answered")
    server = await serve(fake)
    try:
        changes: list[bool] = []
        call = a_call(client_for(http, str(server.make_url("/janus"))), changes)
        answer = await call.start()
        recorded_answer = next(
            e["event"]["jsep"]["sdp"] for e in recorded("answered") if "jsep" in e.get("event", {})
        )
        assert answer == recorded_answer
        assert call.sip_call_id == "bkxDOfVFh8SF04oMb7PgvMJ"
        assert call.participant_id == "gateway:cong-sip:bkxDOfVFh8SF04oMb7PgvMJ"
        register, place = plugin_requests(fake)
        # A guest: the identity only names the From; no REGISTER goes out.
        assert register == {
            "request": "register",
            "type": "guest",
            "username": "sip:vcorch-site-7@vcorch.example.gov.vn",
            "display_name": "Phòng họp Lào Cai",
        }
        assert place["uri"] == "sip:conf@mcu.example.gov.vn"
        sent = next(r for r in fake.requests if r.get("body", {}).get("request") == "call")
        assert sent["jsep"] == {"type": "offer", "sdp": call.request.offer_sdp, "trickle": False}
        assert all(r.get("apisecret") == SECRET for r in fake.requests)
        assert changes == [True]

        await call.hang_up()
        assert plugin_requests(fake)[-1] == {"request": "hangup"}
        assert fake.destroyed
        assert changes == [True, False]
        await call.hang_up()  # idempotent
        assert changes == [True, False]
    finally:
        await server.close()


async def test_busy_486_is_a_rejection_with_its_sip_code(http: aiohttp.ClientSession) -> None:
    fake = FakeJanus("busy")
    server = await serve(fake)
    try:
        changes: list[bool] = []
        call = a_call(client_for(http, str(server.make_url("/janus"))), changes)
        with pytest.raises(CallRejected) as caught:
            await call.start()
        assert caught.value.code == 486
        assert "Busy Here" in caught.value.reason
        assert fake.destroyed  # nothing is left behind on Janus
        assert changes == []  # never present
    finally:
        await server.close()


async def test_missing_sdp_448_blames_the_offer(http: aiohttp.ClientSession) -> None:
    fake = FakeJanus("no-offer")
    server = await serve(fake)
    try:
        call = a_call(client_for(http, str(server.make_url("/janus"))), [])
        with pytest.raises(OfferNotUsable, match="448"):
            await call.start()
        assert fake.destroyed
    finally:
        await server.close()


async def test_no_answer_in_time_hangs_up_and_says_so(http: aiohttp.ClientSession) -> None:
    fake = FakeJanus("silent")
    server = await serve(fake)
    try:
        call = a_call(client_for(http, str(server.make_url("/janus"))), [], answer_timeout=0.3)
        with pytest.raises(CallTimedOut):
            await call.start()
        # The ringing call is cancelled rather than left to ring on the MCU.
        assert plugin_requests(fake)[-1] == {"request": "hangup"}
        assert fake.destroyed
    finally:
        await server.close()


async def test_the_far_end_hanging_up_ends_the_call(http: aiohttp.ClientSession) -> None:
    fake = FakeJanus("remote-hangup")
    server = await serve(fake)
    try:
        changes: list[bool] = []
        call = a_call(client_for(http, str(server.make_url("/janus"))), changes)
        await call.start()
        await asyncio.wait_for(call.ended.wait(), 5)
        assert call.end_code == 200
        assert call.end_reason == "200 BYE"
        assert changes == [True, False]
        assert fake.destroyed
    finally:
        await server.close()


async def test_an_expired_link_ends_the_call(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("vcorch.gateway.calls.CHECK_SECONDS", 0.05)
    fake = FakeJanus("answered")
    server = await serve(fake)
    try:
        changes: list[bool] = []
        call = a_call(client_for(http, str(server.make_url("/janus"))), changes, expires_at=NOW)
        await call.start()
        await asyncio.wait_for(call.ended.wait(), 5)
        assert call.end_reason == "the link expired"
        assert changes == [True, False]
    finally:
        await server.close()


async def test_a_wrong_api_secret_is_not_retried(http: aiohttp.ClientSession) -> None:
    fake = FakeJanus("answered")
    server = await serve(fake)
    try:
        client = client_for(http, str(server.make_url("/janus")), secret="wrong", retries=3)
        with pytest.raises(GatewayUnavailable, match="403"):
            await client.create_session()
        assert len(fake.requests) == 1
        assert "wrong" not in repr(client.settings)
    finally:
        await server.close()


async def test_transient_failures_are_retried_a_bounded_number_of_times(
    http: aiohttp.ClientSession,
) -> None:
    fake = FakeJanus("answered", fail_first=1)
    server = await serve(fake)
    try:
        client = client_for(http, str(server.make_url("/janus")), retries=1)
        assert await client.create_session() > 0
        assert len(fake.requests) == 2
        fake.fail_first = 5
        with pytest.raises(GatewayUnavailable, match="503"):
            await client.create_session()
        assert len(fake.requests) == 4  # one try and one retry
    finally:
        await server.close()


async def test_an_unreachable_janus_is_unavailable_and_the_cause_is_kept(
    http: aiohttp.ClientSession,
) -> None:
    client = client_for(http, f"http://127.0.0.1:{free_port()}/janus", retries=1)
    with pytest.raises(GatewayUnavailable) as caught:
        await client.create_session()
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)


async def test_health_needs_the_sip_plugin(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeJanus("answered")
    server = await serve(fake)
    try:
        client = client_for(http, str(server.make_url("/janus")))
        health = GatewayHealth([client], lambda: NOW)
        assert not health.healthy("cong-sip")  # unknown until checked
        (status,) = await health.check_all()
        assert status.healthy is True
        assert status.version == "1.1.2"

        original = client.info

        async def without_sip() -> dict[str, Any]:
            info = await original()
            info["plugins"].pop("janus.plugin.sip")
            return info

        monkeypatch.setattr(client, "info", without_sip)
        (status,) = await health.check_all()
        assert status.healthy is False
        assert status.last_error == "the SIP plugin is not loaded"
    finally:
        await server.close()


async def test_a_browser_giving_up_while_it_rings_leaves_nothing_behind(
    http: aiohttp.ClientSession,
) -> None:
    fake = FakeJanus("silent")
    server = await serve(fake)
    try:
        call = a_call(client_for(http, str(server.make_url("/janus"))), [], answer_timeout=30)
        placing = asyncio.create_task(call.start())
        for _ in range(100):
            if any(r.get("body", {}).get("request") == "call" for r in fake.requests):
                break
            await asyncio.sleep(0.02)
        placing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await placing
        assert plugin_requests(fake)[-1] == {"request": "hangup"}
        assert fake.destroyed
        # The long-poll stops too (no request keeps running against a destroyed session).
        _, pending = await asyncio.wait(call._tasks, timeout=1.0)
        assert not pending
    finally:
        await server.close()
