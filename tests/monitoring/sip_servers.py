"""Real SIP endpoints for the probe tests: kamailio and baresip on 127.0.0.1 free ports.

Both answer OPTIONS for ``sip:bot@...`` with 200 and for ``sip:nobody@...`` with 404:
kamailio through a ten-line routing script, baresip because ``bot`` is its one account
(see /work/shared/TEST-INFRA.md).  Each listens on UDP and TCP on the same port; baresip
also opens SIP/TLS on the next TCP port (1.0.0 has no setting to turn that off), so its
port and the next one are reserved together.  A port is only known free until another
process takes it, so a start that loses that race is tried again on fresh ports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services import require_binary

START_LIMIT = 10.0
START_ATTEMPTS = 5

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


def _free_for_udp_and_tcp(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_ports(count: int = 1) -> int:
    """The first of ``count`` consecutive ports free on 127.0.0.1 for both UDP and TCP."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
        if port + count <= 65536 and all(
            _free_for_udp_and_tcp(port + offset) for offset in range(count)
        ):
            return port
    raise RuntimeError(f"no {count} consecutive ports free for both UDP and TCP")


def free_port() -> int:
    """A port free on 127.0.0.1 for both UDP and TCP."""
    return free_ports(1)


class PortTaken(RuntimeError):
    """The server could not bind its port: someone took it after we found it free."""


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")[-2000:]
            if "already in use" in output:
                raise PortTaken(output)
            raise RuntimeError(f"exited with {process.returncode}: {output}")
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


def _start(
    command: list[str], ports: Callable[[], int], prepare: Callable[[int], None], log: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` on fresh ports until it binds them (or fails for another reason)."""
    for attempt in range(START_ATTEMPTS):
        port = ports()
        prepare(port)
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_listening(process, port, log)
        except PortTaken:
            _stop(process)
            if attempt + 1 == START_ATTEMPTS:
                raise
            continue
        except BaseException:
            _stop(process)
            raise
        return process, port
    raise AssertionError("unreachable")


@contextlib.contextmanager
def kamailio(folder: Path, ports: Callable[[], int] = free_port) -> Iterator[SipServer]:
    binary = require_binary("kamailio")
    config = folder / "kamailio.cfg"

    def prepare(port: int) -> None:
        config.write_text(KAMAILIO_CFG.format(port=port), encoding="utf-8")

    command = [binary, "-f", str(config), "-DD", "-E", "-Y", str(folder), "-m", "16", "-M", "4"]
    process, port = _start(command, ports, prepare, folder / "kamailio.log")
    try:
        yield SipServer("kamailio", port)
    finally:
        _stop(process)


def baresip_ports() -> int:
    """SIP on UDP and TCP at the port, SIP/TLS on the next one."""
    return free_ports(2)


@contextlib.contextmanager
def baresip(folder: Path, ports: Callable[[], int] = baresip_ports) -> Iterator[SipServer]:
    binary = require_binary("baresip")
    (folder / "accounts").write_text(BARESIP_ACCOUNTS, encoding="utf-8")

    def prepare(port: int) -> None:
        (folder / "config").write_text(BARESIP_CONFIG.format(port=port), encoding="utf-8")

    process, port = _start([binary, "-f", str(folder)], ports, prepare, folder / "baresip.log")
    try:
        yield SipServer("baresip", port)
    finally:
        _stop(process)
