"""Authenticating what bridges push: shared secret header, basic auth or token parameter."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vcorch.config import BridgeConfig, ConfigError
from vcorch.mcu_adapter.base import BridgeContext, InboundRequest, NotSupported
from vcorch.mcu_adapter.simulated import SimulatedBridge

CONTEXT = BridgeContext(http=None, clock=lambda: datetime.now(UTC))


def request(
    headers: dict[str, str] | None = None, query: dict[str, str] | None = None
) -> InboundRequest:
    return InboundRequest(
        method="POST", path="/api/hooks/x", headers=headers or {}, query=query or {}, body=b""
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bridge(tmp_path: Path, **options: object) -> SimulatedBridge:
    secret = tmp_path / "hook"
    secret.write_text("s3cret-hook-value\n", encoding="utf-8")
    config = BridgeConfig(
        name="b", type="simulated", options={"hook_secret_file": str(secret), **options}
    )
    return SimulatedBridge(config, CONTEXT)


def test_each_accepted_form_of_the_secret(tmp_path: Path) -> None:
    hooked = bridge(tmp_path)
    assert hooked.authenticate_hook(request({"x-vcorch-hook-secret": "s3cret-hook-value"}))
    assert hooked.authenticate_hook(request({"Authorization": basic("any", "s3cret-hook-value")}))
    assert hooked.authenticate_hook(request(query={"token": "s3cret-hook-value"}))


def test_wrong_or_missing_secrets_are_refused(tmp_path: Path) -> None:
    hooked = bridge(tmp_path)
    assert not hooked.authenticate_hook(request())
    assert not hooked.authenticate_hook(request({"X-Vcorch-Hook-Secret": "s3cret-hook-valu"}))
    assert not hooked.authenticate_hook(request({"Authorization": basic("u", "nope")}))
    assert not hooked.authenticate_hook(request({"Authorization": "Basic !!!not-base64"}))
    assert not hooked.authenticate_hook(request({"Authorization": "Bearer s3cret-hook-value"}))


def test_configured_header_and_user(tmp_path: Path) -> None:
    hooked = bridge(tmp_path, hook_header="X-Janus-Token", hook_username="janus")
    assert hooked.authenticate_hook(request({"X-Janus-Token": "s3cret-hook-value"}))
    assert not hooked.authenticate_hook(request({"X-Vcorch-Hook-Secret": "s3cret-hook-value"}))
    assert hooked.authenticate_hook(request({"Authorization": basic("janus", "s3cret-hook-value")}))
    assert not hooked.authenticate_hook(
        request({"Authorization": basic("cms", "s3cret-hook-value")})
    )


def test_without_a_configured_secret_nothing_is_accepted() -> None:
    open_bridge = SimulatedBridge(BridgeConfig(name="b", type="simulated"), CONTEXT)
    assert not open_bridge.authenticate_hook(request({"X-Vcorch-Hook-Secret": ""}))
    assert not open_bridge.authenticate_hook(request(query={"token": ""}))


def test_a_secret_named_but_absent_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HOOK_SECRET_FOR_TEST", raising=False)
    config = BridgeConfig(
        name="b", type="simulated", options={"hook_secret_env": "HOOK_SECRET_FOR_TEST"}
    )
    with pytest.raises(ConfigError, match="HOOK_SECRET_FOR_TEST is not set"):
        SimulatedBridge(config, CONTEXT)


def test_a_bridge_without_http_events_says_so(tmp_path: Path) -> None:
    with pytest.raises(NotSupported):
        bridge(tmp_path).parse_events(request())
