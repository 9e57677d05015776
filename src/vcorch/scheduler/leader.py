"""One leader among the vcorch processes: it alone runs the scheduler, the supervisor and
the probes; every process serves the API.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own.
When the leader dies, PostgreSQL drops its connection and the lock with it, and the next
process to try (every ``retry_seconds``) takes over.  The leader checks its connection
every ``check_seconds`` and steps down (stops its work) as soon as it cannot be sure it
still holds the lock.  On SQLite there is one process, and it leads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# A number no other advisory lock uses (7_410_001 migrations, 7_410_002 bookings...; the
# test tests/reliability/test_lock_keys.py checks they stay apart): the leader holds this
# one for as long as it leads, so sharing it would block the other for ever.
LEADER_LOCK_KEY = 7_410_003
Work = Callable[[], Awaitable[None]]


class Leadership:
    def __init__(
        self,
        engine: AsyncEngine,
        identity: str,
        *,
        check_seconds: float = 1.0,
        retry_seconds: float = 2.0,
        restart_seconds: float = 5.0,
    ) -> None:
        self._engine = engine
        self.identity = identity
        self._check = check_seconds
        self._retry = retry_seconds
        self._restart = restart_seconds
        self.is_leader = False
        self.elected = asyncio.Event()

    async def run(self, work: Sequence[Work]) -> None:
        """Try to lead until cancelled; while leading, keep ``work`` running."""
        if self._engine.dialect.name != "postgresql":
            await self._lead(work, None)
            return
        while True:
            try:
                async with self._engine.connect() as raw:
                    connection = await raw.execution_options(isolation_level="AUTOCOMMIT")
                    got = await connection.scalar(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}
                    )
                    if got:
                        try:
                            await self._lead(work, connection)
                        finally:
                            # Back in the pool the lock would stay held: throw it away.
                            await raw.invalidate()
            except (SQLAlchemyError, OSError) as err:
                if self.is_leader:
                    log.error("%s: lost the database connection; stepping down", self.identity)
                else:
                    log.debug("leader election: %s", err)
            finally:
                self._step_down()
            await asyncio.sleep(self._retry)

    async def _lead(self, work: Sequence[Work], connection: AsyncConnection | None) -> None:
        self.is_leader = True
        self.elected.set()
        log.info("%s leads the scheduler", self.identity)
        tasks = [asyncio.create_task(self._keep_running(item)) for item in work]
        try:
            while True:
                await asyncio.sleep(self._check)
                if connection is not None:
                    # Any answer means the session, and so the lock, is still ours.
                    await connection.execute(text("SELECT 1"))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _step_down(self) -> None:
        if self.is_leader:
            log.warning("%s no longer leads", self.identity)
        self.is_leader = False
        self.elected.clear()

    async def _keep_running(self, item: Work) -> None:
        name = getattr(item, "__qualname__", repr(item))
        while True:
            try:
                await item()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("leader work %s failed; restarting it", name)
            await asyncio.sleep(self._restart)
