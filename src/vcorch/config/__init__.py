"""Typed settings: environment ``VCORCH_*`` plus an optional TOML file for list sections."""

from vcorch.config.settings import (
    BridgeConfig,
    ConfigError,
    GatewayConfig,
    ProbeConfig,
    Settings,
    load_settings,
)

__all__ = [
    "BridgeConfig",
    "ConfigError",
    "GatewayConfig",
    "ProbeConfig",
    "Settings",
    "load_settings",
]
