"""Engines and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from vcorch.db.base import CLOCK_OPTION


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine with the settings each backend needs to behave the same."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling must be off for our BEGIN below to count.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # Foreign keys are off by default in SQLite; WAL lets readers run beside a writer.
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # BEGIN IMMEDIATE takes the write lock up front, so that check-then-write
            # transactions (conflict checks) are serialised instead of failing late.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def make_sessionmaker(
    engine: AsyncEngine, clock: Callable[[], datetime] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose rows take their default times (``created_at``...) from ``clock``."""
    if clock is not None:
        engine = engine.execution_options(**{CLOCK_OPTION: clock})
    return async_sessionmaker(engine, expire_on_commit=False)
