"""The built-in bridge's options: read from its configuration, or made from settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vcorch.config import ConfigError

# Carried with video on one core: benchmarks/results/webrtc_bridge.json.
DEFAULT_MAX_PER_CONFERENCE = 12
DEFAULT_VIDEO = (640, 360, 15)


def positive_int(options: dict[str, Any], key: str, default: int, name: str) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"bridges.{name}.options.{key}: must be a positive integer")
    return value


def strings(options: dict[str, Any], key: str, name: str) -> tuple[str, ...]:
    value = options.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"bridges.{name}.options.{key}: must be a list of strings")
    return tuple(value)


@dataclass(frozen=True)
class MediaLimits:
    max_per_conference: int
    video_width: int
    video_height: int
    video_fps: int
    connect_timeout: float


def builtin_config_options(
    *,
    max_per_conference: int,
    video_width: int,
    video_height: int,
    video_fps: int,
    host_addresses: Sequence[str],
    stun_urls: Sequence[str],
) -> dict[str, Any]:
    """The ``options`` of the built-in instance, from the typed settings."""
    return {
        "max_per_conference": max_per_conference,
        "video_width": video_width,
        "video_height": video_height,
        "video_fps": video_fps,
        "host_addresses": list(host_addresses),
        "stun_urls": list(stun_urls),
    }
