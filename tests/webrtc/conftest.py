"""Settings for the WebRTC fallback tests: the built-in bridge on loopback, TURN configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from vcorch.config import Settings

TURN_SECRET = "turn-shared-secret-for-tests-0123"
PUBLIC_URL = "https://vcorch.example.gov.vn"


@pytest.fixture
def settings(database_url: str) -> Settings:
    from tests.api import make_settings

    return make_settings(
        database_url,
        public_url=PUBLIC_URL,
        webrtc_host_addresses=["127.0.0.1"],
        # Handed to browsers only (the test peers use none): never contacted here.
        webrtc_stun_urls=["stun:127.0.0.1:3478"],
        webrtc_turn_urls=["turn:127.0.0.1:3478?transport=udp"],
        webrtc_turn_secret=TURN_SECRET,
        webrtc_turn_ttl_seconds=3600,
        webrtc_max_per_conference=3,
    )
