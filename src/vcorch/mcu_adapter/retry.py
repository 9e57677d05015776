"""Timeout and bounded retries with exponential backoff and jitter, for every bridge client.

A call that may have reached the far side is repeated only when repeating it is safe
(``idempotent=True``: reads, deletes, PUT-style updates).  A call that creates something is
repeated only when the connection was never made, so nothing was sent.  Whatever is left
of a transport failure becomes :class:`BridgeUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import aiohttp

from vcorch.mcu_adapter.base import BridgeProtocolError, BridgeUnavailable

if TYPE_CHECKING:
    from vcorch.config import BridgeConfig

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """``timeout`` is per attempt; at most ``retries`` repeats follow the first attempt."""

    timeout: float
    retries: int
    base_delay: float = 0.1
    max_delay: float = 2.0

    @classmethod
    def from_config(cls, config: BridgeConfig) -> RetryPolicy:
        return cls(
            timeout=config.timeout_seconds,
            retries=config.retries,
            base_delay=float(config.options.get("retry_base_delay", 0.1)),
            max_delay=float(config.options.get("retry_max_delay", 2.0)),
        )

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Wait before repeat number ``attempt`` (0-based): capped doubling, half of it random
        so that many clients failing together do not come back together."""
        cap = min(self.max_delay, self.base_delay * (2**attempt))
        return float(cap / 2 + rand() * cap / 2)


def _transport_reason(err: BaseException, what: str, timeout: float) -> str:
    if isinstance(err, TimeoutError):
        return f"{what}: no answer within {timeout:g} s"
    if isinstance(err, aiohttp.ClientConnectorError):
        return f"{what}: cannot connect"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return f"{what}: the far side closed the connection"
    if isinstance(err, aiohttp.ClientPayloadError):
        return f"{what}: truncated response"
    if isinstance(err, aiohttp.ClientResponseError):
        return f"{what}: HTTP {err.status}"
    return f"{what}: {type(err).__name__}"


def _may_repeat(
    err: BaseException, idempotent: bool, transient: Callable[[BaseException], bool]
) -> bool:
    if isinstance(err, aiohttp.ClientConnectorError):
        return True  # nothing reached the far side
    if not idempotent:
        return False
    if isinstance(err, BridgeProtocolError):
        return False  # a malformed answer does not mend itself
    if isinstance(err, TimeoutError | aiohttp.ClientConnectionError | BridgeUnavailable):
        return True
    return transient(err)


def _never(_: BaseException) -> bool:
    return False


async def call_with_retry(
    op: Callable[[], Awaitable[T]],
    *,
    bridge: str,
    what: str,
    policy: RetryPolicy,
    idempotent: bool,
    transient: Callable[[BaseException], bool] = _never,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Run ``op`` with a per-attempt timeout, repeating as the module docstring says.

    ``what`` names the call in messages ("GET /api/v1/system/status"); it must hold no
    credential.  ``transient`` marks further errors of the caller's own (e.g. a vendor
    error for HTTP 503) as worth repeating; they are re-raised unchanged when retries run
    out, while transport errors become :class:`BridgeUnavailable`.
    """
    attempt = 0
    while True:
        try:
            async with asyncio.timeout(policy.timeout):
                return await op()
        except Exception as err:
            if attempt >= policy.retries or not _may_repeat(err, idempotent, transient):
                if isinstance(err, TimeoutError | aiohttp.ClientError):
                    raise BridgeUnavailable(
                        bridge, _transport_reason(err, what, policy.timeout)
                    ) from err
                raise
            delay = policy.delay(attempt, rand)
            log.debug(
                "%s: %s failed (%s), repeat %d in %.2f s", bridge, what, err, attempt + 1, delay
            )
            attempt += 1
            await sleep(delay)
