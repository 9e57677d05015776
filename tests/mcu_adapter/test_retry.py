"""Timeouts and bounded retries shared by every bridge client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from vcorch.mcu_adapter.base import BridgeProtocolError, BridgeUnavailable
from vcorch.mcu_adapter.retry import RetryPolicy, call_with_retry

POLICY = RetryPolicy(timeout=0.2, retries=3, base_delay=0.01, max_delay=0.04)


class Counter:
    def __init__(self, failures: list[BaseException], result: str = "ok") -> None:
        self.failures = list(failures)
        self.calls = 0
        self.result = result

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed on exit: nothing listens there


async def run(
    op: Callable[[], Awaitable[str]], *, idempotent: bool, policy: RetryPolicy = POLICY
) -> str:
    return await call_with_retry(
        op, bridge="b1", what="GET /x", policy=policy, idempotent=idempotent
    )


async def test_transient_failures_are_repeated_until_success() -> None:
    op = Counter([aiohttp.ServerDisconnectedError(), TimeoutError()])
    assert await run(op, idempotent=True) == "ok"
    assert op.calls == 3


async def test_repeats_are_bounded_and_end_as_unavailable() -> None:
    op = Counter([aiohttp.ServerDisconnectedError()] * 10)
    with pytest.raises(BridgeUnavailable, match="closed the connection") as caught:
        await run(op, idempotent=True)
    assert op.calls == POLICY.retries + 1
    assert caught.value.bridge == "b1"


async def test_each_attempt_has_its_own_timeout() -> None:
    calls = 0

    async def hangs() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(10)
        return "never"

    policy = RetryPolicy(timeout=0.05, retries=2, base_delay=0.001, max_delay=0.002)
    started = asyncio.get_running_loop().time()
    with pytest.raises(BridgeUnavailable, match=r"no answer within 0\.05 s"):
        await run(hangs, idempotent=True, policy=policy)
    assert calls == 3
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_a_call_that_may_have_been_sent_is_not_repeated_unless_idempotent() -> None:
    op = Counter([TimeoutError()])
    with pytest.raises(BridgeUnavailable):
        await run(op, idempotent=False)
    assert op.calls == 1


async def test_a_refused_connection_is_repeated_even_for_creating_calls() -> None:
    port = refused_port()
    attempts = 0

    async def post() -> str:
        nonlocal attempts
        attempts += 1
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"http://127.0.0.1:{port}/x") as response,
        ):
            return str(response.status)

    with pytest.raises(BridgeUnavailable, match="cannot connect"):
        await run(post, idempotent=False)
    assert attempts == POLICY.retries + 1


async def test_malformed_answers_are_not_repeated() -> None:
    op = Counter([BridgeProtocolError("b1", "bad xml")])
    with pytest.raises(BridgeProtocolError):
        await run(op, idempotent=True)
    assert op.calls == 1


async def test_callers_mark_their_own_errors_transient() -> None:
    class Busy(Exception):
        pass

    op = Counter([Busy(), Busy()])
    result = await call_with_retry(
        op,
        bridge="b1",
        what="GET /x",
        policy=POLICY,
        idempotent=True,
        transient=lambda err: isinstance(err, Busy),
    )
    assert result == "ok"
    assert op.calls == 3
    never = Counter([Busy()] * 10)
    with pytest.raises(Busy):  # not a transport error: re-raised for the caller to translate
        await call_with_retry(
            never,
            bridge="b1",
            what="GET /x",
            policy=POLICY,
            idempotent=True,
            transient=lambda err: isinstance(err, Busy),
        )
    assert never.calls == POLICY.retries + 1


def test_backoff_doubles_is_capped_and_jittered() -> None:
    policy = RetryPolicy(timeout=1, retries=5, base_delay=0.1, max_delay=0.5)
    lows = [policy.delay(attempt, rand=lambda: 0.0) for attempt in range(5)]
    highs = [policy.delay(attempt, rand=lambda: 1.0) for attempt in range(5)]
    assert lows == pytest.approx([0.05, 0.1, 0.2, 0.25, 0.25])
    assert highs == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


async def test_backoff_waits_between_attempts() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    op = Counter([TimeoutError(), TimeoutError()])
    await call_with_retry(
        op,
        bridge="b1",
        what="GET /x",
        policy=RetryPolicy(timeout=1, retries=3, base_delay=0.1, max_delay=1),
        idempotent=True,
        sleep=fake_sleep,
        rand=lambda: 0.5,
    )
    assert slept == pytest.approx([0.075, 0.15])
