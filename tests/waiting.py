"""Waiting for something to happen, with a deadline, instead of sleeping a fixed time.

A fixed sleep is either too short on a loaded machine (the test fails) or too long on an idle
one (the suite crawls); polling a condition is as quick as the machine allows and fails with
what was last seen.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT = 10.0
INTERVAL = 0.02


async def eventually(
    predicate: Callable[[], T | Awaitable[T]],
    *,
    within: float = TIMEOUT,
    interval: float = INTERVAL,
    what: str = "condition",
) -> T:
    """Poll ``predicate`` (plain or async) until it returns something truthy; return that.

    Raises :class:`AssertionError` naming ``what`` and the last value after ``within`` s.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {within} s (last: {value!r})")
        await asyncio.sleep(interval)
