"""Real ``vcorch serve`` processes for fault and load tests: started, waited for, killed.

Like tests/orchestration/test_leader.py, but with the settings a test needs (a TOML file
with bridges, a fixed port so that a restarted process answers where the first one did).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

# The key tests/api.make_settings signs with, so that tokens made in the test process work.
SECRET_KEY = "test-signing-key-of-sufficient-length-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def ready(self, within: float = 30.0) -> None:
        """Wait until ``/readyz`` answers 200 (database reachable, schema at head)."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"vcorch serve exited:\n{self.log_text()[-3000:]}")
                try:
                    async with http.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"vcorch serve not ready in {within} s:\n{self.log_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine or the OOM killer stops it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def serve(
    database_url: str,
    log_path: Path,
    *,
    port: int | None = None,
    config: Path | None = None,
    env: dict[str, str] | None = None,
) -> Served:
    port = port or free_port()
    values = {
        **os.environ,
        "VCORCH_DATABASE_URL": database_url,
        "VCORCH_SECRET_KEY": SECRET_KEY,
        "VCORCH_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # Cheap hashing, as in the in-process tests; no probes of the test data's
        # made-up addresses (no DNS here).
        "VCORCH_PASSWORD_TIME_COST": "1",
        "VCORCH_PASSWORD_MEMORY_KIB": "8",
        "VCORCH_MONITORING_ENABLED": "false",
        "VCORCH_LEADER_CHECK_SECONDS": "0.2",
        "VCORCH_SCHEDULER_SYNC_SECONDS": "0.5",
        "VCORCH_SUPERVISE_SECONDS": "0.3",
    }
    if config is not None:
        values["VCORCH_CONFIG"] = str(config)
    values.update(env or {})
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "vcorch", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=values,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Served(process, port, log_path)
