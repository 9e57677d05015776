"""The pieces the Janus fixtures put together, importable by tests and scripts alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.janus_harness.peer import AudioBridgePeer
from tests.janus_harness.receiver import EventReceiver
from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim, require_janus
from vcorch.config import BridgeConfig

HOOK_USER = "janus"
HOOK_SECRET = "hook-secret-for-tests"
JOIN_PAGE = "http://127.0.0.1:8080/join/janus"

PeerFactory = Callable[..., Awaitable[AudioBridgePeer]]


@dataclass
class JanusInstance:
    process: JanusProcess
    receiver: EventReceiver
    hook_secret: str
    folder: Path

    @property
    def admin_secret(self) -> str:
        return self.process.settings.admin_secret


def start_janus(folder: Path, receiver: EventReceiver | None) -> JanusProcess:
    """A started Janus whose event handler posts to ``receiver`` (basic auth)."""
    require_janus()
    settings = JanusSettings(
        event_backend=receiver.url if receiver is not None else None,
        backend_user=HOOK_USER,
        backend_password=HOOK_SECRET,
    )
    process = JanusProcess(folder, settings)
    process.start(shim=build_shim())
    return process


def utc_now() -> datetime:
    return datetime.now(UTC)


def bridge_config(
    tmp_path: Path,
    *,
    api_url: str,
    admin_url: str,
    admin_secret: str,
    name: str = "janus-test",
    timeout: float = 5.0,
    retries: int = 1,
    **options: Any,
) -> BridgeConfig:
    """A janus bridge configuration as an operator would write it, secrets in files."""
    secret_file = tmp_path / f"{name}-admin-secret"
    secret_file.write_text(admin_secret, encoding="utf-8")
    hook_file = tmp_path / f"{name}-hook-secret"
    hook_file.write_text(HOOK_SECRET, encoding="utf-8")
    return BridgeConfig(
        name=name,
        type="janus",
        url=api_url,
        secret_file=secret_file,
        timeout_seconds=timeout,
        retries=retries,
        ports=50,
        options={
            "admin_url": admin_url,
            "hook_secret_file": str(hook_file),
            "retry_base_delay": 0.02,
            "join_page_url": JOIN_PAGE,
            **options,
        },
    )
