"""Two vcorch processes on one PostgreSQL: one leads the scheduler; kill it, the other leads."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import databases
from tests.services import POSTGRES_URL, missing_service
from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.db.migrate import upgrade
from vcorch.scheduler.models import SchedulerState

pytestmark = pytest.mark.postgres


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def database() -> AsyncIterator[str]:
    if not POSTGRES_URL:
        missing_service("PostgreSQL: set VCORCH_TEST_POSTGRES_URL")
    url = await databases.create_postgres_database(POSTGRES_URL)
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()
    yield url
    await databases.drop_postgres_database(POSTGRES_URL, url)


def serve(url: str, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VCORCH_DATABASE_URL": url,
        "VCORCH_SECRET_KEY": "leader-test-signing-key-0123456789abcdef",
        "VCORCH_SCHEDULER_SYNC_SECONDS": "0.3",
        "VCORCH_LEADER_CHECK_SECONDS": "0.2",
        "VCORCH_MAIL_POLL_SECONDS": "5",
    }
    with (tmp_path / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vcorch",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(free_port()),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def leader_after(url: str, since: float, within: float) -> str:
    """The scheduler leader recorded after the monotonic instant ``since``."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    deadline = time.monotonic() + within
    seen = None
    try:
        while time.monotonic() < deadline:
            async with sessions() as session:
                state = await session.scalar(select(SchedulerState))
            if state is not None and state.leader and time.monotonic() > since:
                if seen is not None and seen[0] == state.leader and seen[1] != state.last_alive:
                    return state.leader  # alive: it beat twice
                seen = (state.leader, state.last_alive)
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    raise AssertionError(f"no leader within {within} s (last seen {seen})")


async def test_one_leader_and_a_takeover_within_seconds(database: str, tmp_path: Path) -> None:
    first = serve(database, tmp_path, "first")
    second = serve(database, tmp_path, "second")
    processes = {first.pid: first, second.pid: second}
    try:
        leader = await leader_after(database, time.monotonic(), within=30)
        leader_pid = int(leader.rsplit(":", 1)[1])
        assert leader_pid in processes
        # It stays the leader: the other process does not take over while it lives.
        await asyncio.sleep(1.5)
        assert await leader_after(database, time.monotonic(), within=5) == leader

        os.kill(leader_pid, signal.SIGKILL)
        processes[leader_pid].wait(timeout=10)
        killed_at = time.monotonic()
        survivor = next(pid for pid in processes if pid != leader_pid)
        new_leader = await leader_after(database, killed_at, within=15)
        took = time.monotonic() - killed_at
        assert int(new_leader.rsplit(":", 1)[1]) == survivor
        assert took < 10, f"took over after {took:.1f} s"
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
