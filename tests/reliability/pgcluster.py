"""A throwaway PostgreSQL cluster of a test's own, which the test may stop and restart.

The shared server at ``VCORCH_TEST_POSTGRES_URL`` must stay up for everyone else; faults
are played on a private cluster: ``initdb`` and ``pg_ctl`` from the Debian packages, on
127.0.0.1 and a free port, fsync off.  ``initdb`` refuses to run as root, so as root the
cluster belongs to the ``postgres`` account.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import missing_service


def _server_binaries() -> Path:
    """$VCORCH_TEST_PG_BIN, else the newest of Debian's /usr/lib/postgresql/<version>/bin."""
    if configured := os.environ.get("VCORCH_TEST_PG_BIN"):
        return Path(configured)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


BIN = _server_binaries()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgCluster:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(BIN / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self._run(
            "initdb",
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
            str(self.directory / "data"),
        )

    def _options(self) -> str:
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off"
            f" -c synchronous_commit=off -c full_page_writes=off"
            f" -c unix_socket_directories={self.directory}"
        )

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.directory / "data"),
            "-o",
            self._options(),
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every session is cut, the server is back at once."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.directory / "data"),
            "-o",
            self._options(),
            "-l",
            str(self.directory / "server.log"),
            "-m",
            "fast",
            "-w",
            "restart",
        )

    async def outage(self, seconds: float) -> None:
        """Stop the server, keep it down ``seconds``, start it again."""
        await asyncio.to_thread(self.stop)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(self.start)


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    if not (BIN / "initdb").exists():
        missing_service(f"PostgreSQL server binaries are not installed ({BIN})")
    directory = Path(tempfile.mkdtemp(prefix="vcorch-pg-", dir="/tmp"))
    cluster = PgCluster(directory)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")  # fails only when a test left it down
        shutil.rmtree(directory, ignore_errors=True)
