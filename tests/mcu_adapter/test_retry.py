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


# -- busy (429/503) --------------------------------------------------------------------

from datetime import UTC, datetime, timedelta  # noqa: E402

from vcorch.mcu_adapter.base import BridgeBusy  # noqa: E402
from vcorch.mcu_adapter.budget import RequestBudget  # noqa: E402
from vcorch.mcu_adapter.retry import FarSideBusy, busy_of, parse_retry_after  # noqa: E402

BUSY_POLICY = RetryPolicy(
    timeout=0.2, retries=1, base_delay=0.01, max_delay=0.04, busy_retries=4, busy_max_wait=10
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def busy(retry_after: float | None = None, status: int = 503) -> FarSideBusy:
    return FarSideBusy("POST /x", status, retry_after)


async def test_a_busy_create_is_repeated_until_it_goes_through() -> None:
    # CMS: 503 is "busy, try again"; the create did not happen, so repeating it is safe.
    op = Counter([busy(), busy(status=429), busy()])
    assert await run(op, idempotent=False, policy=BUSY_POLICY) == "ok"
    assert op.calls == 4


async def test_busy_to_the_end_is_busy_not_unavailable() -> None:
    op = Counter([busy(retry_after=2.0)] * 20)
    time = FakeTime()
    with pytest.raises(BridgeBusy) as caught:
        await call_with_retry(
            op,
            bridge="b1",
            what="GET /x",
            policy=BUSY_POLICY,
            idempotent=True,
            sleep=time.sleep,
            budget=RequestBudget(None, clock=time, sleep=time.sleep),
        )
    assert not isinstance(caught.value, BridgeUnavailable)
    assert caught.value.retry_after == 2.0
    assert op.calls == BUSY_POLICY.busy_retries + 1


async def test_retry_after_holds_the_whole_budget() -> None:
    time = FakeTime()
    shared = RequestBudget(100.0, clock=time, sleep=time.sleep)
    op = Counter([busy(retry_after=3.0)])
    await call_with_retry(
        op,
        bridge="b1",
        what="GET /x",
        policy=BUSY_POLICY,
        idempotent=True,
        sleep=time.sleep,
        budget=shared,
    )
    assert time.now >= 3.0  # the repeat went out only after the wait asked for
    shared.hold(0)
    before = time.now
    await shared.acquire()
    assert time.now == before


async def test_a_wait_longer_than_the_limit_ends_at_once_as_busy() -> None:
    op = Counter([busy(retry_after=120.0)] * 3)
    time = FakeTime()
    shared = RequestBudget(None, clock=time, sleep=time.sleep)
    with pytest.raises(BridgeBusy) as caught:
        await call_with_retry(
            op, bridge="b1", what="GET /x", policy=BUSY_POLICY, idempotent=True, budget=shared
        )
    assert op.calls == 1
    assert caught.value.retry_after == 120.0
    assert shared.held_for() == pytest.approx(120.0)  # others wait too


async def test_without_a_budget_the_call_itself_waits_the_retry_after() -> None:
    time = FakeTime()
    op = Counter([busy(retry_after=1.5)])
    await call_with_retry(
        op, bridge="b1", what="GET /x", policy=BUSY_POLICY, idempotent=True, sleep=time.sleep
    )
    assert time.slept == [1.5]


async def test_transport_failures_of_a_create_stay_unavailable() -> None:
    op = Counter([aiohttp.ServerDisconnectedError()])
    with pytest.raises(BridgeUnavailable):
        await run(op, idempotent=False, policy=BUSY_POLICY)
    assert op.calls == 1


async def test_every_attempt_waits_its_turn_in_the_budget() -> None:
    time = FakeTime()
    shared = RequestBudget(2.0, burst=1.0, clock=time, sleep=time.sleep)
    op = Counter([busy(), busy()])
    await call_with_retry(
        op,
        bridge="b1",
        what="GET /x",
        policy=BUSY_POLICY,
        idempotent=True,
        budget=shared,
        sleep=time.sleep,
    )
    assert shared.spent == 3
    assert time.now >= 1.0  # three requests at 2/s, burst 1


NOW = datetime(2026, 12, 7, 8, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 120 ", 120.0),
        ("Mon, 07 Dec 2026 08:00:05 GMT", 5.0),
        ("Mon, 07 Dec 2026 07:59:00 GMT", 0.0),  # already past
        ("soon", None),
        ("-3", None),
        ("1.5", None),  # RFC 9110: delay-seconds is digits only
        ("99999999", 86400.0),  # capped
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(
    header: str | None, expected: float | None
) -> None:
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (503, {}, (503, None)),
        (429, {"Retry-After": "3"}, (429, 3.0)),
        (
            503,
            {"Retry-After": (NOW + timedelta(seconds=9)).strftime("%a, %d %b %Y %H:%M:%S GMT")},
            (503, 9.0),
        ),
        (502, {"Retry-After": "3"}, None),  # a bad gateway is not "busy"
        (500, {}, None),
    ],
)
def test_busy_answers_are_429_and_503(
    status: int, headers: dict[str, str], expected: tuple[int, float | None] | None
) -> None:
    found = busy_of(status, headers, "GET /x", NOW)
    assert (None if found is None else (found.status, found.retry_after)) == expected
