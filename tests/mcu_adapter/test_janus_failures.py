"""The Janus adapter when the far side is down, silent, or answers nonsense: every failure
is a translated bridge error (or ``reachable=False`` from ``health``), never a crash."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.emulators.canned import Canned, CannedServer
from tests.janus_harness.proxy import GARBAGE, FaultProxy
from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim, free_port
from tests.janus_harness.wiring import JanusInstance, bridge_config, utc_now
from vcorch.mcu_adapter.base import (
    BridgeBusy,
    BridgeContext,
    BridgeProtocolError,
    BridgeUnavailable,
    ConferenceRef,
    ConferenceSpec,
)
from vcorch.mcu_adapter.budget import RequestBudget
from vcorch.mcu_adapter.janus import JanusBridge
from vcorch.mcu_adapter.janus.client import AUDIOBRIDGE, JanusClient
from vcorch.mcu_adapter.retry import RetryPolicy

pytest_plugins = ["tests.janus_harness.fixtures"]

TIMEOUT = 0.3
RETRIES = 1


def make_bridge(
    tmp_path: Path, http: aiohttp.ClientSession, api: str, admin: str, secret: str
) -> JanusBridge:
    config = bridge_config(
        tmp_path,
        api_url=api,
        admin_url=admin,
        admin_secret=secret,
        timeout=TIMEOUT,
        retries=RETRIES,
    )
    return JanusBridge(config, BridgeContext(http=http, clock=utc_now))


def spec(key: str) -> ConferenceSpec:
    return ConferenceSpec(key=key, title="Giao ban", expected_sites=2)


async def test_health_and_calls_when_janus_is_stopped(
    tmp_path: Path, janus_http: aiohttp.ClientSession
) -> None:
    process = JanusProcess(tmp_path / "janus", JanusSettings())
    process.start(shim=build_shim())
    try:
        bridge = make_bridge(
            tmp_path, janus_http, process.http_url, process.admin_url, process.settings.admin_secret
        )
        assert (await bridge.health()).reachable
        ref = await bridge.create_conference(spec("stopped-1"))
    finally:
        process.stop()

    health = await bridge.health()
    assert not health.reachable
    assert "cannot connect" in health.detail
    with pytest.raises(BridgeUnavailable):
        await bridge.create_conference(spec("stopped-2"))
    with pytest.raises(BridgeUnavailable):
        await bridge.participants(ref)
    with pytest.raises(BridgeUnavailable):
        await bridge.end_conference(ref)


@contextlib.asynccontextmanager
async def silent_listener() -> AsyncIterator[str]:
    """A TCP listener that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_far_side_that_never_answers_times_out(
    tmp_path: Path, janus_http: aiohttp.ClientSession
) -> None:
    bound = (RETRIES + 1) * TIMEOUT + 0.5
    async with silent_listener() as url:
        bridge = make_bridge(tmp_path, janus_http, f"{url}/janus", f"{url}/admin", "s")
        ref = ConferenceRef(bridge=bridge.name, conference_id="1234")
        calls: list[Callable[[], Any]] = [
            lambda: bridge.create_conference(spec("silent-1")),
            lambda: bridge.participants(ref),
            lambda: bridge.mute(ref, "5", True),
            lambda: bridge.end_conference(ref),
        ]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(BridgeUnavailable, match="no answer within"):
                await call()
            assert time.monotonic() - started < bound
        started = time.monotonic()
        health = await bridge.health()
        assert not health.reachable
        assert "no answer" in health.detail
        assert time.monotonic() - started < bound


async def test_nothing_listening_is_unavailable_at_once(
    tmp_path: Path, janus_http: aiohttp.ClientSession
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    bridge = make_bridge(tmp_path, janus_http, f"{url}/janus", f"{url}/admin", "s")
    started = time.monotonic()
    with pytest.raises(BridgeUnavailable, match="cannot connect"):
        await bridge.create_conference(spec("refused-1"))
    assert time.monotonic() - started < 1.0
    assert not (await bridge.health()).reachable


@pytest.fixture
async def proxied(
    janus: JanusInstance, tmp_path: Path, janus_http: aiohttp.ClientSession
) -> AsyncIterator[tuple[JanusBridge, FaultProxy]]:
    """The adapter talking to the module's real Janus through a proxy that can lie."""
    proxy = FaultProxy(f"http://127.0.0.1:{janus.process.settings.admin_port}")
    await proxy.start()
    bridge = make_bridge(
        tmp_path, janus_http, janus.process.http_url, f"{proxy.url}/admin", janus.admin_secret
    )
    yield bridge, proxy
    await proxy.stop()


@pytest.mark.parametrize("flavour", sorted(GARBAGE))
async def test_garbage_answers_are_protocol_errors(
    proxied: tuple[JanusBridge, FaultProxy], flavour: str
) -> None:
    bridge, proxy = proxied
    ref = await bridge.create_conference(spec(f"garbage-{flavour}"))
    proxy.set("garbage", flavour)
    for call in (
        lambda: bridge.create_conference(spec(f"garbage-{flavour}-2")),
        lambda: bridge.participants(ref),
        lambda: bridge.mute(ref, "5", True),
        lambda: bridge.disconnect(ref, "5"),
        lambda: bridge.end_conference(ref),
    ):
        with pytest.raises(BridgeProtocolError):
            await call()
    health = await bridge.health()
    assert not health.reachable
    assert health.detail
    proxy.set("pass")
    assert (await bridge.health()).reachable
    await bridge.end_conference(ref)


def other_transaction(answer: dict[str, Any]) -> Any:
    return {**answer, "transaction": "someone-else"}


def participants_not_a_list(answer: dict[str, Any]) -> Any:
    response = answer.get("response", {})
    if "participants" in response:
        return {**answer, "response": {**response, "participants": "everyone"}}
    return answer


def participant_without_flags(answer: dict[str, Any]) -> Any:
    response = answer.get("response", {})
    if "participants" in response:
        return {**answer, "response": {**response, "participants": [{"id": 1}]}}
    return answer


def exists_as_text(answer: dict[str, Any]) -> Any:
    response = answer.get("response", {})
    if "exists" in response:
        return {**answer, "response": {**response, "exists": "yes"}}
    return answer


def no_plugin_response(answer: dict[str, Any]) -> Any:
    return {key: value for key, value in answer.items() if key != "response"}


def error_without_code(answer: dict[str, Any]) -> Any:
    return {"janus": "error", "transaction": answer.get("transaction"), "error": "bad"}


@pytest.mark.parametrize(
    ("mangle", "call"),
    [
        (other_transaction, "participants"),
        (participants_not_a_list, "participants"),
        (participant_without_flags, "participants"),
        (no_plugin_response, "participants"),
        (error_without_code, "participants"),
        (exists_as_text, "create"),
        (other_transaction, "create"),
    ],
)
async def test_real_answers_bent_out_of_shape_are_protocol_errors(
    proxied: tuple[JanusBridge, FaultProxy],
    mangle: Callable[[dict[str, Any]], Any],
    call: str,
) -> None:
    bridge, proxy = proxied
    ref = await bridge.create_conference(spec(f"mangle-{mangle.__name__}-{call}"))
    proxy.mangle = mangle
    proxy.set("mangle")
    actions: dict[str, Callable[[], Awaitable[object]]] = {
        "participants": lambda: bridge.participants(ref),
        "create": lambda: bridge.create_conference(spec(f"mangle-{mangle.__name__}-new")),
    }
    with pytest.raises(BridgeProtocolError):
        await actions[call]()
    proxy.set("pass")
    await bridge.end_conference(ref)


async def test_a_wrong_admin_secret_is_named(
    janus: JanusInstance, tmp_path: Path, janus_http: aiohttp.ClientSession
) -> None:
    bridge = make_bridge(
        tmp_path, janus_http, janus.process.http_url, janus.process.admin_url, "not-the-secret"
    )
    health = await bridge.health()
    assert not health.reachable
    assert "admin_secret" in health.detail
    with pytest.raises(BridgeUnavailable, match="admin_secret"):
        await bridge.create_conference(spec("wrong-secret"))


async def test_a_busy_proxy_in_front_of_janus_is_busy_not_unavailable(
    janus_http: aiohttp.ClientSession,
) -> None:
    proxy = CannedServer()
    await proxy.start()
    try:
        proxy.answer("POST", "/admin", Canned(status=429, headers={"Retry-After": "0"}))
        budget = RequestBudget(None)
        client = JanusClient(
            janus_http,
            bridge="janus",
            api_url=proxy.url + "/janus",
            admin_url=proxy.url + "/admin",
            admin_secret="s",
            policy=RetryPolicy(timeout=TIMEOUT, retries=0, base_delay=0.001, busy_retries=2),
            budget=budget,
        )
        with pytest.raises(BridgeBusy) as caught:
            # A create: repeated all the same, since busy means it was not carried out.
            await client.message_plugin(
                AUDIOBRIDGE, {"request": "create", "room": 7}, idempotent=False
            )
        assert not isinstance(caught.value, BridgeUnavailable)
        assert len(proxy.seen) == 3
        assert budget.spent == 3
    finally:
        await proxy.stop()
