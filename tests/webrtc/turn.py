"""A real coturn on loopback with TURN REST authentication (``use-auth-secret``)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services import require_binary


@dataclass
class Coturn:
    port: int
    secret: str

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"


def _free_port() -> int:
    # Free for both UDP and TCP (coturn listens on both).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", 0))
        port: int = tcp.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", port))
    return port


def _answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def coturn(folder: Path, secret: str) -> Iterator[Coturn]:
    binary = require_binary("turnserver")
    port = _free_port()
    relay_low = 40_000 + (port % 2_000) * 10
    config = folder / "turnserver.conf"
    config.write_text(
        "\n".join(
            [
                f"listening-port={port}",
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"min-port={relay_low}",
                f"max-port={relay_low + 9}",
                "use-auth-secret",
                f"static-auth-secret={secret}",
                "realm=vcorch.test",
                "allow-loopback-peers",
                "no-tls",
                "no-dtls",
                "no-cli",
                "no-multicast-peers",
                "fingerprint",
                f"userdb={folder / 'turndb'}",
                f"pidfile={folder / 'turnserver.pid'}",
                f"log-file={folder / 'turn.log'}",
                "simple-log",
                "",
            ]
        ),
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [binary, "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"turnserver did not start (exit {process.poll()})")
            time.sleep(0.02)
        yield Coturn(port=port, secret=secret)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
