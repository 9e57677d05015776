"""Real SIP endpoints for the probe tests: kamailio and baresip on 127.0.0.1 free ports.

Both answer OPTIONS for ``sip:bot@...`` with 200 and for ``sip:nobody@...`` with 404:
kamailio through a ten-line routing script, baresip because ``bot`` is its one account
(see /work/shared/TEST-INFRA.md).  Each listens on UDP and TCP on the same port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services import require_binary

START_LIMIT = 10.0

KAMAILIO_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children=1
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "pv.so"
request_route {{
    if (method != "OPTIONS") {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
    if ($rU == "nobody") {{ sl_send_reply("404", "Not Found"); exit; }}
    sl_send_reply("200", "OK");
}}
"""

BARESIP_CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{port}
net_interface 127.0.0.1
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module_app account.so
audio_player aufile,/dev/null
audio_source aufile,/dev/null
"""
BARESIP_ACCOUNTS = "<sip:bot@127.0.0.1>;regint=0;answermode=auto\n"


@dataclass(frozen=True)
class SipServer:
    name: str
    port: int

    def uri(self, user: str | None = "bot", transport: str | None = None) -> str:
        who = f"{user}@" if user else ""
        suffix = f";transport={transport}" if transport else ""
        return f"sip:{who}127.0.0.1:{self.port}{suffix}"


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"not listening on {port} after {START_LIMIT} s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The process leads its own session (start_new_session), so its group id is its pid:
    # this ends exactly the processes this fixture started, kamailio's workers included.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextlib.contextmanager
def kamailio(folder: Path) -> Iterator[SipServer]:
    binary = require_binary("kamailio")
    port = free_port()
    config = folder / "kamailio.cfg"
    config.write_text(KAMAILIO_CFG.format(port=port), encoding="utf-8")
    log = folder / "kamailio.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, "-f", str(config), "-DD", "-E", "-Y", str(folder), "-m", "16", "-M", "4"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_listening(process, port, log)
        yield SipServer("kamailio", port)
    finally:
        _stop(process)


@contextlib.contextmanager
def baresip(folder: Path) -> Iterator[SipServer]:
    binary = require_binary("baresip")
    port = free_port()
    (folder / "config").write_text(BARESIP_CONFIG.format(port=port), encoding="utf-8")
    (folder / "accounts").write_text(BARESIP_ACCOUNTS, encoding="utf-8")
    log = folder / "baresip.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, "-f", str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_listening(process, port, log)
        yield SipServer("baresip", port)
    finally:
        _stop(process)
