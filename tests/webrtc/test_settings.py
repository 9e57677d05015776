"""The WebRTC settings as an operator writes them (environment variables)."""

from __future__ import annotations

import pytest

from vcorch.config import ConfigError, load_settings


def test_lists_come_comma_separated_or_as_json() -> None:
    settings = load_settings(
        {
            "VCORCH_WEBRTC_STUN_URLS": "stun:stun1.example.vn:3478, stun:stun2.example.vn:3478",
            "VCORCH_WEBRTC_TURN_URLS": '["turn:turn.example.vn:3478?transport=udp"]',
            "VCORCH_WEBRTC_TURN_SECRET": "a-shared-secret-of-length",
            "VCORCH_WEBRTC_HOST_ADDRESSES": "203.0.113.7",
        }
    )
    assert settings.webrtc_stun_urls == ["stun:stun1.example.vn:3478", "stun:stun2.example.vn:3478"]
    assert settings.webrtc_turn_urls == ["turn:turn.example.vn:3478?transport=udp"]
    assert settings.webrtc_host_addresses == ["203.0.113.7"]
    assert "a-shared-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("VCORCH_WEBRTC_TURN_URLS", "https://turn.example.vn", "webrtc_turn_urls"),
        ("VCORCH_WEBRTC_TURN_SECRET", "short", "webrtc_turn_secret"),
        ("VCORCH_WEBRTC_MAX_PER_CONFERENCE", "1", "webrtc_max_per_conference"),
        ("VCORCH_WEBRTC_VIDEO_MAX_FPS", "0", "webrtc_video_max_fps"),
    ],
)
def test_bad_values_are_named(name: str, value: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        load_settings({name: value})
