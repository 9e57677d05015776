"""Throwaway databases for tests: a migrated SQLite template copied per test, or a
PostgreSQL database migrated once per session and emptied between tests."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from vcorch.db.engine import make_engine
from vcorch.db.migrate import upgrade
from vcorch.metadata import Base

# Rows the initial migration seeds; tests start from exactly that state.
KEEP_TABLES = {"alembic_version", "unit_levels"}


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def make_sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    engine = make_engine(sqlite_url(path))
    await upgrade(engine)
    await engine.dispose()
    return path


def copy_sqlite(template: Path, directory: Path) -> str:
    target = directory / f"test-{secrets.token_hex(4)}.db"
    shutil.copyfile(template, target)
    return sqlite_url(target)


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_postgres_database(admin_url: str) -> str:
    name = f"vcorch_test_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


async def drop_postgres_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def reset_postgres(engine: AsyncEngine) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES]
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        await connection.execute(
            text(
                "INSERT INTO units (id, code, name, level, parent_id, path, search_text,"
                " created_at, updated_at) VALUES (1, 'central', 'Cơ quan Trung ương', 'central',"
                " NULL, '/1/', 'central co quan trung uong', now(), now())"
            )
        )
        await connection.execute(text("SELECT setval(pg_get_serial_sequence('units', 'id'), 1)"))
        await connection.execute(
            text(
                "DELETE FROM unit_levels WHERE code NOT IN "
                "('central', 'province', 'district', 'commune')"
            )
        )
