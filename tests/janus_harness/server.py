"""A real Janus process on 127.0.0.1 with a configuration written for the test.

Debian's own configuration loads every plugin, listens on all interfaces and keeps the
Admin API off, so the test writes a folder of its own (see /work/shared/TEST-INFRA.md):
only AudioBridge, VideoRoom, EchoTest, the HTTP transport and the sample event handler are
linked in; every listener binds to 127.0.0.1 on a port picked free at start, so parallel
runs do not clash.  Janus skips loopback interfaces when it gathers ICE candidates, so the
process runs with a small preloaded ``getifaddrs`` shim (built here with gcc) that clears
the loopback flag; it then offers ``127.0.0.1 typ host`` and aiortc peers on the same
machine connect.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.services import missing_service

JANUS_LIB_DIR = Path("/usr/lib/x86_64-linux-gnu/janus")
# The .so files the test Janus loads, by folder; everything else stays out.
MODULES = {
    "plugins": ["libjanus_audiobridge.so", "libjanus_videoroom.so", "libjanus_echotest.so"],
    "transports": ["libjanus_http.so"],
    "events": ["libjanus_sampleevh.so"],
}
# The SIP plugin (sofia-sip) only where a test asks for it (``JanusSettings.sip``): the
# WebRTC-to-SIP gateway's tests and benchmark.
SIP_PLUGIN = "libjanus_sip.so"
# Transports are left out of the mask: with them Janus posts one event per request.
EVENT_MASK = "sessions,handles,webrtc,plugins,core"
SHIM_SOURCE = Path(__file__).with_name("getifaddrs_shim.c")


def require_janus() -> Path:
    """The janus binary, or a skip/fail naming the Debian package to install."""
    binary = shutil.which("janus")
    if binary is None or not JANUS_LIB_DIR.is_dir():
        missing_service("Janus is not installed (apt-get install -y janus)")
        raise AssertionError("unreachable")  # pragma: no cover - skip/fail raise
    for folder, names in MODULES.items():
        for name in names:
            if not (JANUS_LIB_DIR / folder / name).exists():
                missing_service(f"Janus module {folder}/{name} is missing")
    return Path(binary)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_shim(cache_root: Path | None = None) -> Path:
    """The compiled getifaddrs shim, cached by the hash of its source.

    Built to a temporary name and renamed, so that parallel test processes never load a
    half-written library.
    """
    source = SHIM_SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    root = cache_root or Path(tempfile.gettempdir()) / "vcorch-test-cache"
    target = root / f"getifaddrs-noloopback-{digest}.so"
    if target.exists():
        return target
    gcc = shutil.which("gcc")
    if gcc is None:
        missing_service("gcc is needed to build the Janus loopback shim (apt-get install -y gcc)")
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".{target.name}.{os.getpid()}.tmp"
    result = subprocess.run(
        [str(gcc), "-shared", "-fPIC", "-O2", "-o", str(partial), str(SHIM_SOURCE), "-ldl"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"building the getifaddrs shim failed: {result.stderr}")
    os.replace(partial, target)
    return target


@dataclass(frozen=True)
class JanusSettings:
    """What the test chooses about its Janus; ports default to free ones."""

    event_backend: str | None = None
    backend_user: str | None = None
    backend_password: str | None = None
    admin_secret: str = field(default_factory=lambda: f"admin-{random.getrandbits(64):x}")
    http_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    # A narrow range somewhere high, so that two test Janus processes rarely share ports.
    rtp_low: int = field(default_factory=lambda: 20000 + 200 * random.randrange(150))
    # How many RTP ports from rtp_low (a benchmark with many calls asks for more).
    rtp_ports: int = 200
    sip: bool = False
    # Janus' core ``api_secret`` (every HTTP API request must carry it), as a gateway has.
    api_secret: str | None = None
    # AudioBridge's and VideoRoom's ``admin_key`` (then every ``create`` must carry it);
    # None leaves room creation open, as Debian's sample configuration does.
    plugin_admin_key: str | None = None

    @property
    def rtp_range(self) -> str:
        # With the SIP plugin, its SIP-side RTP takes the upper half of the range.
        last = self.rtp_low + self.rtp_ports - 1
        return f"{self.rtp_low}-{self.rtp_low + self.rtp_ports // 2 - 1 if self.sip else last}"


def _jcfg_string(value: str) -> str:
    # libconfig strings take JSON-style escapes for quotes and backslashes.
    return json.dumps(value)


def write_config(folder: Path, settings: JanusSettings) -> None:
    """Write janus.jcfg, the plugin/transport/handler configurations and module links."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub, names in _modules(settings).items():
        (folder / sub).mkdir(exist_ok=True)
        for name in names:
            link = folder / sub / name
            if not link.exists():
                link.symlink_to(JANUS_LIB_DIR / sub / name)
    (folder / "loggers").mkdir(exist_ok=True)
    events_enabled = settings.event_backend is not None
    api_secret = (
        f"\tapi_secret = {_jcfg_string(settings.api_secret)}\n" if settings.api_secret else ""
    )
    (folder / "janus.jcfg").write_text(
        f"""general: {{
\tconfigs_folder = {_jcfg_string(str(folder))}
\tplugins_folder = {_jcfg_string(str(folder / "plugins"))}
\ttransports_folder = {_jcfg_string(str(folder / "transports"))}
\tevents_folder = {_jcfg_string(str(folder / "events"))}
\tloggers_folder = {_jcfg_string(str(folder / "loggers"))}
\tdebug_level = 4
\tdebug_colors = false
\tadmin_secret = {_jcfg_string(settings.admin_secret)}
\tinterface = "127.0.0.1"
{api_secret}\tserver_name = "vcorch-test"
\tsession_timeout = 60
}}
media: {{
\trtp_port_range = "{settings.rtp_range}"
}}
nat: {{
\tnice_debug = false
\tignore_mdns = true
\tice_enforce_list = "127.0.0.1"
}}
plugins: {{
}}
transports: {{
}}
loggers: {{
}}
events: {{
\tbroadcast = {"true" if events_enabled else "false"}
}}
""",
        encoding="utf-8",
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
\tjson = "compact"
\tbase_path = "/janus"
\thttp = true
\tip = "127.0.0.1"
\tport = {settings.http_port}
\thttps = false
}}
admin: {{
\tadmin_base_path = "/admin"
\tadmin_http = true
\tadmin_ip = "127.0.0.1"
\tadmin_port = {settings.admin_port}
\tadmin_https = false
}}
cors: {{
}}
""",
        encoding="utf-8",
    )
    credentials = ""
    if settings.backend_user is not None and settings.backend_password is not None:
        credentials = (
            f"\tbackend_user = {_jcfg_string(settings.backend_user)}\n"
            f"\tbackend_pwd = {_jcfg_string(settings.backend_password)}\n"
        )
    (folder / "janus.eventhandler.sampleevh.jcfg").write_text(
        f"""general: {{
\tenabled = {"true" if events_enabled else "false"}
\tevents = "{EVENT_MASK}"
\tgrouping = true
\tjson = "compact"
\tbackend = {_jcfg_string(settings.event_backend or "http://127.0.0.1:9/unused")}
{credentials}\tmax_retransmissions = 3
\tretransmissions_backoff = 50
}}
""",
        encoding="utf-8",
    )
    # Plugin files exist so that the plugins do not fall back to Debian's sample rooms.
    for plugin in ("audiobridge", "videoroom", "echotest"):
        admin_key = ""
        if settings.plugin_admin_key is not None and plugin != "echotest":
            admin_key = f"\tadmin_key = {_jcfg_string(settings.plugin_admin_key)}\n"
        (folder / f"janus.plugin.{plugin}.jcfg").write_text(
            f"general: {{\n\tevents = true\n{admin_key}}}\n", encoding="utf-8"
        )
    if settings.sip:
        sip_low = settings.rtp_low + settings.rtp_ports // 2
        # SIP and its RTP on 127.0.0.1 only; the RTP range is the upper half of the test's.
        (folder / "janus.plugin.sip.jcfg").write_text(
            f"""general: {{
\tlocal_ip = "127.0.0.1"
\tsdp_ip = "127.0.0.1"
\tkeepalive_interval = 0
\tbehind_nat = false
\tuser_agent = "vcorch-test-gateway"
\tregister_ttl = 60
\trtp_port_range = "{sip_low}-{settings.rtp_low + settings.rtp_ports - 1}"
\tevents = true
}}
""",
            encoding="utf-8",
        )


def _modules(settings: JanusSettings) -> dict[str, list[str]]:
    if not settings.sip:
        return MODULES
    return {**MODULES, "plugins": [*MODULES["plugins"], SIP_PLUGIN]}


class JanusProcess:
    """One running Janus; ``stop`` sends SIGINT and waits, as Janus shuts down cleanly on it."""

    def __init__(self, folder: Path, settings: JanusSettings) -> None:
        self.folder = folder
        self.settings = settings
        self.log_path = folder / "janus.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.admin_port}/admin"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, shim: Path, timeout: float = 10.0) -> None:
        binary = require_janus()
        write_config(self.folder, self.settings)
        env = dict(os.environ, LD_PRELOAD=str(shim))
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [str(binary), "-F", str(self.folder), "-o"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                # A crash leaves its core file in the test's folder, not the checkout.
                cwd=self.folder,
            )
        self._wait_ready(timeout)
        self.started_in = time.monotonic() - began

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"janus exited at start; log:\n{self.log_tail()}")
            if self._answers(f"{self.http_url}/info") and self._answers(
                self.admin_url, post_admin=True
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"janus did not answer within {timeout} s; log:\n{self.log_tail()}")

    def _answers(self, url: str, *, post_admin: bool = False) -> bool:
        data = None
        if post_admin:
            data = json.dumps(
                {
                    "janus": "info",
                    "transaction": "ready",
                    "admin_secret": self.settings.admin_secret,
                }
            ).encode()
        try:
            with urllib.request.urlopen(url, data=data, timeout=1.0) as response:  # noqa: S310 - our own 127.0.0.1 URL
                body = json.loads(response.read())
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return isinstance(body, dict) and body.get("janus") in {"server_info", "success"}

    def stop(self, timeout: float = 10.0) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
