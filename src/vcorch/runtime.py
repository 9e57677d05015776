"""What every package's ``setup`` receives: the shared objects of one running service.

``app.py`` opens a :class:`Runtime` (engine, sessions, the shared HTTP client, the signing
key), hands it to each package's ``setup`` in dependency order, runs the work they register
and closes what they registered, last first.  Packages never reach into each other's
setup: what one needs of another is passed to its ``setup`` as a parameter.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vcorch.config import Settings

__all__ = ["Runtime", "Work"]

log = logging.getLogger(__name__)

Work = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], Awaitable[None] | None]


T = TypeVar("T")


async def _awaited(result: Awaitable[None]) -> None:
    await result


@dataclass
class Runtime:
    # The application the services are provided to (each under its package's key).
    app: web.Application
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    http: aiohttp.ClientSession
    # Signs bearer tokens; join and check-in links derive their own secrets from it.
    signing_key: str
    # False in tests, which drive the background workers one round at a time.
    background: bool
    # Coroutine functions run until cancelled by the scheduler leader only (one process of
    # several on PostgreSQL) ...
    leader_work: list[Work] = field(default_factory=list)
    # ... and by every process.
    process_work: dict[str, Work] = field(default_factory=dict)
    _closers: list[Closer] = field(default_factory=list)

    def provide(self, key: web.AppKey[T], value: T) -> None:
        """Make ``value`` reachable to handlers (and tests) as ``app[key]``."""
        self.app[key] = value

    def on_close(self, closer: Closer) -> None:
        """Run ``closer`` at shutdown; closers run last registered first."""
        self._closers.append(closer)

    def start_process_work(self) -> list[asyncio.Task[None]]:
        if not self.background:
            return []
        return [asyncio.create_task(work(), name=name) for name, work in self.process_work.items()]

    async def close(self, tasks: list[asyncio.Task[None]], *, within: float = 10.0) -> None:
        """Cancel the work and run the closers, giving up on what is not done ``within``
        seconds (a stop must end however busy the service is; the database keeps what was
        committed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=max(0.1, within / 2))
            for task in pending:
                log.error("stopping: %s did not end in time; left behind", task.get_name())
        for closer in reversed(self._closers):
            left = max(0.1, deadline - loop.time())
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await asyncio.wait_for(_awaited(result), left)
            except TimeoutError:
                log.error("stopping: closing %r took too long; left behind", closer)
            except Exception:
                log.exception("closing %r failed", closer)
