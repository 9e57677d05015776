"""The command line, run as a user would: a separate process, settings from the environment."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from vcorch.rooms.demo_data import LOWER_UNITS, PROVINCES


def vcorch(
    database_url: str, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCORCH_")}
    env.update(
        {
            "VCORCH_DATABASE_URL": database_url,
            "VCORCH_PASSWORD_TIME_COST": "1",
            "VCORCH_PASSWORD_MEMORY_KIB": "8",
            **(extra_env or {}),
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "vcorch", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_users_and_clients_are_created_from_the_command_line(database_url: str) -> None:
    created = vcorch(
        database_url,
        "users",
        "create",
        "--username",
        "thu_ky",
        "--role",
        "secretariat",
        "--unit",
        "central",
        "--password-stdin",
        stdin="mật khẩu đủ dài\n",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().isdigit()
    client = vcorch(
        database_url, "clients", "create", "--name", "Trục liên thông quốc gia", "--unit", "central"
    )
    assert client.returncode == 0, client.stderr
    line = json.loads(client.stdout)
    assert set(line) == {"client_id", "client_secret"} and len(line["client_secret"]) >= 32
    listed = vcorch(database_url, "users", "list")
    assert "thu_ky\tsecretariat\tcentral\tactive" in listed.stdout
    assert vcorch(database_url, "users", "disable", "--username", "thu_ky").returncode == 0
    assert "thu_ky\tsecretariat\tcentral\tdisabled" in vcorch(database_url, "users", "list").stdout
    # Nothing secret reaches the terminal but the one secret the contract prints.
    for result in (created, listed):
        assert "argon2" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            (
                "users",
                "create",
                "--username",
                "a",
                "--role",
                "admin",
                "--unit",
                "nowhere",
                "--password-stdin",
            ),
            "mot mat khau dai\n",
            "no unit with code 'nowhere'",
        ),
        (
            (
                "users",
                "create",
                "--username",
                "ab",
                "--role",
                "admin",
                "--unit",
                "central",
                "--password-stdin",
            ),
            "short\n",
            "password",
        ),
        (
            ("users", "create", "--username", "ab", "--role", "admin", "--unit", "central"),
            "",
            "--password-stdin",
        ),
        (("clients", "create", "--name", "x", "--unit", "nowhere"), "", "nowhere"),
    ],
)
def test_command_line_errors_are_one_line_and_non_zero(
    database_url: str, args: tuple[str, ...], stdin: str, message: str
) -> None:
    result = vcorch(database_url, *args, stdin=stdin)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_configuration_stops_with_the_key_named(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    result = vcorch(url, "db", "upgrade", extra_env={"VCORCH_PORT": "eighty"})
    assert result.returncode == 2 and "port" in result.stderr
    result = vcorch(url, "db", "upgrade", extra_env={"VCORCH_TIMEZONE": "Asia/Hanoi_City"})
    assert result.returncode == 2 and "timezone" in result.stderr
    result = vcorch("mysql://nope", "db", "upgrade")
    assert result.returncode == 2 and "database_url" in result.stderr
    config = tmp_path / "vcorch.toml"
    config.write_text(
        '[[bridges]]\nname = "mcu"\ntype = "simulated"\nports = -1\n', encoding="utf-8"
    )
    result = vcorch(url, "db", "upgrade", extra_env={"VCORCH_CONFIG": str(config)})
    assert result.returncode == 2 and "bridges.0.ports" in result.stderr


def test_demo_loads_the_34_provinces_and_twice_changes_nothing(tmp_path: Path) -> None:
    import sqlite3

    url = f"sqlite+aiosqlite:///{tmp_path}/demo.db"
    assert vcorch(url, "db", "upgrade").returncode == 0
    assert vcorch(url, "demo").returncode == 0

    def snapshot() -> list[int]:
        counts = []
        with sqlite3.connect(tmp_path / "demo.db") as db:
            for table in ("units", "rooms", "endpoints", "audit_log"):
                query = f"SELECT count(*) FROM {table}"  # noqa: S608 - fixed table names
                counts.append(int(db.execute(query).fetchone()[0]))
        return counts

    first = snapshot()
    assert vcorch(url, "demo").returncode == 0
    assert snapshot() == first
    assert first[0] == 1 + len(PROVINCES) + len(LOWER_UNITS) and len(PROVINCES) == 34
    assert first[1] == first[2] == first[0]
    with sqlite3.connect(tmp_path / "demo.db") as db:
        names = {row[0] for row in db.execute("SELECT name FROM units WHERE level = 'province'")}
    assert {"Tỉnh Lào Cai", "Thành phố Huế", "Tỉnh Điện Biên", "Thành phố Hồ Chí Minh"} <= names
    bootstrap = vcorch(url, "users", "bootstrap-admin")
    assert "password" in bootstrap.stdout
    assert vcorch(url, "users", "bootstrap-admin").stdout == ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    """``vcorch serve`` on a fresh SQLite file, answering ``/readyz``; killed if still up."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCORCH_")}
    env["VCORCH_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/serve.db"
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "vcorch", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/readyz", timeout=1
                    ) as response:
                        assert json.load(response)["status"] == "ready"
                        break
                except OSError:
                    assert time.monotonic() < deadline, "server did not come up"
                    assert process.poll() is None, log_path.read_text()
                    time.sleep(0.2)
            yield process, port, log_path
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_serve_migrates_sqlite_answers_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    with serving(tmp_path) as (process, _port, _log):
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_a_stop_ends_within_fifteen_seconds_whatever_is_in_flight(tmp_path: Path) -> None:
    stalled: list[socket.socket] = []
    try:
        with serving(tmp_path) as (process, port, log_path):
            # Clients that send half a body and then nothing: their handlers wait for the rest.
            for _ in range(3):
                client = socket.create_connection(("127.0.0.1", port), timeout=5)
                client.sendall(
                    b"POST /api/auth/token HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n"
                    b"Content-Length: 100000\r\n\r\ngrant_type=pass"
                )
                stalled.append(client)
            time.sleep(0.5)
            began = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            assert time.monotonic() - began < 15, log_path.read_text()[-2000:]
    finally:
        for client in stalled:
            client.close()
