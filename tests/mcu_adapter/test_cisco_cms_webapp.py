"""Cisco Meeting Server: a fallen-back site's browser joins the meeting's own coSpace in the
CMS web app, when the bridge says where the web app is (``options.webapp_url``)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.emulators.cisco_cms import CmsEmulator
from tests.mcu_adapter.test_cisco_cms import NOW, Setup, emulator, setup  # noqa: F401
from vcorch.config import ConfigError
from vcorch.mcu_adapter.base import ConferenceSpec, DialTarget, NotSupported

SITE = DialTarget(
    site_id="42", kind="webrtc", address="vcorch-site-42", display_name="Phòng họp Lào Cai"
)
WEBAPP = "https://join.cms.example.gov.vn"


async def test_the_link_is_the_web_app_guest_link_of_the_meetings_space(
    setup: Setup,  # noqa: F811
    emulator: CmsEmulator,  # noqa: F811
) -> None:
    bridge = setup.bridge(
        emulator.url, options={"retry_base_delay": 0.01, "webapp_url": WEBAPP + "/"}
    )
    assert bridge.capabilities.webrtc_join is True
    assert type(bridge).capabilities.webrtc_join is False  # the kind itself is unchanged
    ref = await bridge.create_conference(
        ConferenceSpec(key="meeting-7", title="Giao ban", expected_sites=3)
    )
    url = await bridge.webrtc_join_url(ref, SITE, NOW + timedelta(hours=2))
    space = emulator.cospaces[ref.extra["coSpace"]]
    # The coSpace had no callId: the adapter asked for one, and the link carries it.
    assert space.call_id.isdigit()
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == WEBAPP
    assert parts.path == f"/meeting/{space.call_id}"
    query = parse_qs(parts.query)
    assert query["secret"] == [space.secret]
    assert query["name"] == ["Phòng họp Lào Cai"]
    assert query["skipJoinOptions"] == ["true"]
    # Asking again gives the same link (same space, same callId).
    assert await bridge.webrtc_join_url(ref, SITE, NOW + timedelta(hours=2)) == url


async def test_without_the_web_app_browsers_are_not_taken(
    setup: Setup,  # noqa: F811
    emulator: CmsEmulator,  # noqa: F811
) -> None:
    bridge = setup.bridge(emulator.url)
    assert bridge.capabilities.webrtc_join is False
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=2))
    with pytest.raises(NotSupported):
        await bridge.webrtc_join_url(ref, SITE, NOW)
    with pytest.raises(ConfigError, match="webapp_url"):
        setup.bridge(emulator.url, options={"webapp_url": "join.example.vn"})
