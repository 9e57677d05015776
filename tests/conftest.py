"""Shared fixtures: a database per test on SQLite and on PostgreSQL, and an API client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests import databases
from tests.services import POSTGRES_URL, missing_service

pytest_plugins = ["tests.smtp", "tests.browser"]


if TYPE_CHECKING:
    from tests.api import Api, FakeClock
    from tests.world import World
    from vcorch.config import Settings


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sqlite-template")
    return asyncio.run(databases.make_sqlite_template(directory))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        missing_service("PostgreSQL: set VCORCH_TEST_POSTGRES_URL")
        raise AssertionError("unreachable")
    try:
        url = asyncio.run(databases.create_postgres_database(POSTGRES_URL))
    except OSError as err:
        missing_service(f"PostgreSQL at {POSTGRES_URL} does not answer: {err}")
        raise AssertionError("unreachable") from err

    async def migrate() -> None:
        from vcorch.db.engine import make_engine
        from vcorch.db.migrate import upgrade

        engine = make_engine(url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    yield url
    asyncio.run(databases.drop_postgres_database(POSTGRES_URL, url))


async def _reset_postgres(url: str) -> None:
    from vcorch.db.engine import make_engine

    engine = make_engine(url)
    await databases.reset_postgres(engine)
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, freshly seeded database: one run of each test per backend."""
    if request.param == "sqlite":
        return databases.copy_sqlite(sqlite_template, tmp_path)
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_reset_postgres(url))
    return url


@pytest.fixture
def clock() -> FakeClock:
    from tests.api import FakeClock

    return FakeClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    from tests.api import make_settings

    return make_settings(database_url)


@pytest.fixture
async def app_client(settings: Settings, clock: FakeClock, aiohttp_client: Any) -> Any:
    from vcorch.app import create_app

    return await aiohttp_client(create_app(settings, clock=clock, background=False))


@pytest.fixture
def api(app_client: Any) -> Api:
    from tests.api import Api

    return Api(app_client)


@pytest.fixture
async def world(app_client: Any, api: Api) -> World:
    from tests.world import build_world

    return await build_world(app_client.server.app, api)
