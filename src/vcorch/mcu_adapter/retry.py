"""Timeout and bounded retries with exponential backoff and jitter, for every bridge client.

A call that may have reached the far side is repeated only when repeating it is safe
(``idempotent=True``: reads, deletes, PUT-style updates).  A call that creates something is
repeated only when the connection was never made, so nothing was sent.  Whatever is left
of a transport failure becomes :class:`BridgeUnavailable`.

"Busy" is not a failure: a client raises :class:`FarSideBusy` for HTTP 429 and 503 (the
Cisco Meeting Server API reference: 503 is a temporary "busy" condition, "re-attempt the
same method later"; the request was not carried out, so creates are repeated too).  Busy
answers are repeated up to ``policy.busy_retries`` times with backoff; a ``Retry-After``
(seconds or an HTTP-date, RFC 9110 section 10.2.3) holds the bridge's whole request budget
until then.  When the repeats run out (or the wait asked for is longer than
``policy.busy_max_wait``) the call ends as :class:`BridgeBusy`, never as unavailable.

Every attempt first takes its turn in the bridge's :class:`RequestBudget` (``budget``),
outside the attempt's timeout: waiting for the budget is not the far side being slow.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, TypeVar

import aiohttp

from vcorch.mcu_adapter.base import BridgeBusy, BridgeProtocolError, BridgeUnavailable
from vcorch.mcu_adapter.budget import RequestBudget

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
    # Repeats of a call the far side answered "busy" (429/503), creates included.
    busy_retries: int = 8
    # A Retry-After longer than this is not waited for inside one call: BridgeBusy at once.
    busy_max_wait: float = 30.0

    @classmethod
    def from_config(cls, config: BridgeConfig) -> RetryPolicy:
        return cls(
            timeout=config.timeout_seconds,
            retries=config.retries,
            base_delay=float(config.options.get("retry_base_delay", 0.1)),
            max_delay=float(config.options.get("retry_max_delay", 2.0)),
            busy_retries=int(config.options.get("busy_retries", 8)),
            busy_max_wait=float(config.options.get("busy_max_wait_seconds", 30.0)),
        )

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Wait before repeat number ``attempt`` (0-based): capped doubling, half of it random
        so that many clients failing together do not come back together."""
        cap = min(self.max_delay, self.base_delay * (2**attempt))
        return float(cap / 2 + rand() * cap / 2)


class FarSideBusy(Exception):
    """The far side answered 429 or 503: it did not carry the request out; try later.

    Raised by a client's attempt inside :func:`call_with_retry`, which repeats it and ends
    as :class:`BridgeBusy`.  ``retry_after`` is the wait asked for, in seconds, if any."""

    def __init__(self, what: str, status: int, retry_after: float | None) -> None:
        super().__init__(f"{what}: busy (HTTP {status})")
        self.what = what
        self.status = status
        self.retry_after = retry_after


BUSY_STATUS = frozenset({429, 503})
_MAX_RETRY_AFTER = 24 * 3600.0  # a larger value is nonsense; it is capped, not believed


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: ``delay-seconds`` or an HTTP-date
    (RFC 9110 10.2.3).  ``None`` when absent or unreadable; a date in the past is 0."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(text), _MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110: HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), _MAX_RETRY_AFTER)


def busy_of(
    status: int, headers: object, what: str, now: datetime | None = None
) -> FarSideBusy | None:
    """The :class:`FarSideBusy` for an answer with this status, or ``None``.  ``headers``
    is any mapping with ``get`` (aiohttp's ``CIMultiDictProxy``)."""
    if status not in BUSY_STATUS:
        return None
    getter = getattr(headers, "get", None)
    raw = getter("Retry-After") if callable(getter) else None
    return FarSideBusy(
        what,
        status,
        parse_retry_after(raw if isinstance(raw, str) else None, now or datetime.now(UTC)),
    )


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
    budget: RequestBudget | None = None,
    urgent: bool = True,
) -> T:
    """Run ``op`` with a per-attempt timeout, repeating as the module docstring says.

    ``what`` names the call in messages ("GET /api/v1/system/status"); it must hold no
    credential.  ``transient`` marks further errors of the caller's own (e.g. a vendor
    error for HTTP 502) as worth repeating; they are re-raised unchanged when retries run
    out, while transport errors become :class:`BridgeUnavailable`.  ``budget``: every
    attempt waits its turn there (``urgent``: an act; ``False``: a reconciling read).
    """
    attempt = 0
    busy_attempt = 0
    while True:
        if budget is not None:
            await budget.acquire(1, urgent=urgent)
        try:
            async with asyncio.timeout(policy.timeout):
                return await op()
        except FarSideBusy as busy:
            wait = busy.retry_after
            if wait is not None and budget is not None:
                budget.hold(wait)  # nobody sends to this bridge before then
            too_long = wait is not None and wait > policy.busy_max_wait
            if busy_attempt >= policy.busy_retries or too_long:
                raise BridgeBusy(bridge, str(busy), retry_after=wait) from busy
            delay = policy.delay(busy_attempt, rand)
            if wait is not None and budget is None:
                delay = max(delay, wait)
            log.debug("%s: %s busy, repeat %d in %.2f s", bridge, what, busy_attempt + 1, delay)
            busy_attempt += 1
            await sleep(delay)
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
