"""Loading configured bridges: entry points, broken bridges reported, status without secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import (
    Bridge,
    BridgeContext,
    BridgeHealth,
    BridgeUnavailable,
)
from vcorch.mcu_adapter.registry import ENTRY_POINT_GROUP, load_bridges
from vcorch.mcu_adapter.simulated import SimulatedBridge

CONTEXT = BridgeContext(http=None, clock=lambda: datetime.now(UTC))


def sim(name: str, **extra: object) -> BridgeConfig:
    return BridgeConfig.model_validate({"name": name, "type": "simulated", **extra})


def test_every_bridge_kind_is_an_installed_entry_point() -> None:
    from importlib.metadata import entry_points

    kinds = {point.name: point.load() for point in entry_points(group=ENTRY_POINT_GROUP)}
    assert {"simulated", "janus", "cisco_cms", "jitsi", "pexip"} <= set(kinds)
    for name, kind in kinds.items():
        assert issubclass(kind, Bridge), name
        assert kind.type_name == name


async def test_a_broken_bridge_is_reported_and_the_others_work(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configs = [
        sim("central", priority=10),
        BridgeConfig(name="mystery", type="polycom_rmx"),
        BridgeConfig(
            name="cms-no-secret",
            type="cisco_cms",
            url="https://cms.example.vn",
            username="api",
            password_file=tmp_path / "absent",
        ),
        BridgeConfig(name="cms-no-url", type="cisco_cms", username="api"),
        sim("bad-rate", options={"failure_rate": 3}),
        sim("switched-off", enabled=False),
    ]
    with caplog.at_level(logging.ERROR):
        registry = load_bridges(configs, CONTEXT)
    assert [bridge.name for bridge in registry] == ["central"]
    assert set(registry.broken) == {"mystery", "cms-no-secret", "cms-no-url", "bad-rate"}
    assert "unknown bridge type 'polycom_rmx'" in registry.broken["mystery"]
    assert "cannot read" in registry.broken["cms-no-secret"]
    assert "failure_rate" in registry.broken["bad-rate"]
    assert "mystery" in caplog.text
    ref = await registry["central"].health()
    assert ref.reachable
    await registry.close()


def test_a_kind_that_fails_to_import_is_reported() -> None:
    def broken_import() -> object:
        raise ImportError("No module named 'vendor_sdk'")

    kinds: dict[str, Callable[[], object]] = {
        "simulated": lambda: SimulatedBridge,
        "vendor": broken_import,
        "not-a-bridge": lambda: dict,
    }
    registry = load_bridges(
        [
            sim("a"),
            BridgeConfig(name="b", type="vendor"),
            BridgeConfig(name="c", type="not-a-bridge"),
        ],
        CONTEXT,
        kinds=kinds,
    )
    assert [bridge.name for bridge in registry] == ["a"]
    assert "vendor_sdk" in registry.broken["b"]
    assert "Bridge subclass" in registry.broken["c"]


async def test_snapshot_shows_status_and_never_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMS_PASSWORD", "hunter2-very-secret")
    secret_file = tmp_path / "jitsi-secret"
    secret_file.write_text("jitsi-app-secret-that-is-long-enough-000", encoding="utf-8")
    configs = [
        sim("central", ports=40),
        BridgeConfig(
            name="cms",
            type="cisco_cms",
            url="http://127.0.0.1:9",
            username="api",
            password_env="CMS_PASSWORD",
            timeout_seconds=0.2,
            retries=0,
        ),
        BridgeConfig(name="broken", type="nope"),
    ]
    import aiohttp

    async with aiohttp.ClientSession() as http:
        context = BridgeContext(http=http, clock=lambda: datetime.now(UTC))
        registry = load_bridges(configs, context)
        health = await registry.poll_health()
        rows = {row.name: row for row in registry.statuses(health)}
        await registry.close()
    assert rows["central"].healthy is True
    assert rows["central"].ports_total == 40
    assert rows["central"].version
    assert rows["cms"].healthy is False  # nothing listens on port 9
    assert rows["cms"].last_error
    assert rows["broken"].loaded is False
    assert rows["broken"].healthy is False
    assert "hunter2" not in repr(registry.statuses(health))


def test_bridges_for_a_unit_in_priority_order() -> None:
    registry = load_bridges(
        [
            sim("national", priority=50),
            sim("laocai", priority=10, units=["10"]),
            sim("backup", priority=90),
            sim("hagiang", priority=5, units=["02"]),
        ],
        CONTEXT,
    )
    assert [bridge.name for bridge in registry.for_unit(["10", "080"])] == [
        "laocai",
        "national",
        "backup",
    ]
    assert [bridge.name for bridge in registry.for_unit(["99"])] == ["national", "backup"]


class FailsToStart(SimulatedBridge):
    async def start(self) -> None:
        raise BridgeUnavailable(self.name, "licence server unreachable")


class HealthRaises(SimulatedBridge):
    async def health(self) -> BridgeHealth:
        raise RuntimeError("a bug with the password=swordfish in it")


async def test_start_failure_is_reported_and_health_errors_are_contained() -> None:
    registry = load_bridges(
        [
            sim("ok"),
            BridgeConfig(name="bad", type="failing"),
            BridgeConfig(name="buggy", type="buggy"),
        ],
        CONTEXT,
        kinds={
            "simulated": lambda: SimulatedBridge,
            "failing": lambda: FailsToStart,
            "buggy": lambda: HealthRaises,
        },
    )
    await registry.start()
    assert registry.broken == {"bad": "licence server unreachable"}
    health = await registry.poll_health()
    assert health["ok"].reachable
    assert not health["buggy"].reachable
    rows = {row.name: row for row in registry.statuses(health)}
    assert rows["buggy"].last_error == "RuntimeError"  # the message is not shown: it may leak
    assert rows["bad"].last_error == "licence server unreachable"
    await registry.close()


def test_a_fresh_install_gets_the_simulated_bridge() -> None:
    from vcorch.mcu_adapter.registry import with_default_bridge

    registry = load_bridges(with_default_bridge([]), CONTEXT)
    (only,) = list(registry)
    assert isinstance(only, SimulatedBridge)
    configured = [sim("central")]
    assert with_default_bridge(configured) == configured
