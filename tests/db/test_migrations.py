"""Migrations from empty, on both backends, give exactly the schema the models describe."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection

from tests import databases
from tests.services import POSTGRES_URL, missing_service
from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.db.migrate import current_revision, downgrade, head_revision, upgrade
from vcorch.metadata import Base
from vcorch.rooms.models import Unit, UnitLevel


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield databases.sqlite_url(tmp_path / f"empty-{secrets.token_hex(3)}.db")
        return
    if not POSTGRES_URL:
        missing_service("PostgreSQL: set VCORCH_TEST_POSTGRES_URL")
    url = asyncio.run(databases.create_postgres_database(POSTGRES_URL or ""))
    yield url
    asyncio.run(databases.drop_postgres_database(POSTGRES_URL or "", url))


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_from_empty_matches_the_models_and_seeds_the_root(
    empty_database: str,
) -> None:
    engine = make_engine(empty_database)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
        async with make_sessionmaker(engine)() as session:
            units = list((await session.execute(select(Unit))).scalars())
            levels = list(
                (await session.execute(select(UnitLevel.code).order_by(UnitLevel.rank))).scalars()
            )
        assert [(u.code, u.level, u.parent_id, u.path) for u in units] == [
            ("central", "central", None, "/1/")
        ]
        assert levels == ["central", "province", "district", "commune"]
        # Upgrading again is a no-op; down and up again round-trips.
        await upgrade(engine)
        await downgrade(engine, "base")
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_sites_booked_before_requests_existed_keep_their_rooms(empty_database: str) -> None:
    """0010: every site already booked is ``accepted`` (it held its room before)."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    engine = make_engine(empty_database)
    try:
        await upgrade(engine, "0009")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO rooms (unit_id, name, seats, search_text, created_at, updated_at)"
                    " VALUES (1, 'Phòng họp A', 20, '', :now, :now)"
                ),
                {"now": datetime(2026, 12, 1, tzinfo=UTC)},
            )
            room_id = (await connection.execute(text("SELECT max(id) FROM rooms"))).scalar()
            await connection.execute(
                text(
                    "INSERT INTO meetings (title, search_text, kind, mode, organizer_unit_id,"
                    " start_at, end_at, timezone, exdates, series_start, status, version,"
                    " sequence, created_by, created_at, updated_at, invited) VALUES"
                    " ('Họp cũ', '', 'meeting', 'online', 1, :now, :now, 'Asia/Ho_Chi_Minh',"
                    " '[]', :now, 'scheduled', 1, 0, 'user:x', :now, :now, '[]')"
                ),
                {"now": datetime(2026, 12, 1, tzinfo=UTC)},
            )
            meeting_id = (await connection.execute(text("SELECT max(id) FROM meetings"))).scalar()
            await connection.execute(
                text(
                    "INSERT INTO meeting_sites (meeting_id, room_id, contacts)"
                    " VALUES (:meeting, :room, '[]')"
                ),
                {"meeting": meeting_id, "room": room_id},
            )
        await upgrade(engine)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT approval, decided_at FROM meeting_sites"))
            ).all()
        assert [tuple(r) for r in rows] == [("accepted", None)]
    finally:
        await engine.dispose()
