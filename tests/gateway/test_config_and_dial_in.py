"""Configuring gateways, and the conferences' SIP addresses a gateway calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.emulators.cisco_cms import CmsEmulator
from tests.gateway.test_janus_sip_client import NOW
from tests.mcu_adapter.test_cisco_cms import Setup
from vcorch.config import BridgeConfig, ConfigError, GatewayConfig, load_settings
from vcorch.mcu_adapter.base import BridgeContext, ConferenceRef, ConferenceSpec, NotSupported
from vcorch.mcu_adapter.cisco_cms import CiscoCmsBridge
from vcorch.mcu_adapter.simulated.adapter import SimulatedBridge


def test_gateways_come_from_the_toml_file_and_keep_their_secret_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "vcorch.toml"
    config.write_text(
        """
[[gateways]]
name = "cong-sip-1"
api_url = "http://10.0.5.20:8088/janus"
api_secret_env = "JANUS_API_SECRET"
sip_domain = "vcorch.example.gov.vn"
proxy = "sip:10.0.5.1:5060"
bridges = ["mcu-trung-uong"]
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("JANUS_API_SECRET", "bí mật")
    settings = load_settings({"VCORCH_CONFIG": str(config)})
    (gateway,) = settings.gateways
    assert gateway.read_secret() == "bí mật"
    assert gateway.serves("mcu-trung-uong")
    assert not gateway.serves("mo-phong")
    assert (gateway.max_calls, gateway.retries) == (20, 2)
    assert "bí mật" not in repr(gateway)
    monkeypatch.delenv("JANUS_API_SECRET")
    with pytest.raises(ConfigError, match="JANUS_API_SECRET is not set"):
        GatewayConfig.model_validate(gateway.model_dump()).read_secret()


def test_gateway_names_are_unique_and_urls_checked(tmp_path: Path) -> None:
    config = tmp_path / "vcorch.toml"
    config.write_text(
        """
[[gateways]]
name = "g"
api_url = "http://127.0.0.1:8088/janus"
sip_domain = "a.example"
[[gateways]]
name = "g"
api_url = "ftp://127.0.0.1/janus"
sip_domain = "a.example"
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings({"VCORCH_CONFIG": str(config)})
    assert "gateways.1.api_url" in str(caught.value)


async def test_the_simulated_mcu_has_a_sip_address_only_when_configured() -> None:
    plain = SimulatedBridge(
        BridgeConfig(name="mo-phong", type="simulated"), BridgeContext(http=None, clock=lambda: NOW)
    )
    with_sip = SimulatedBridge(
        BridgeConfig(
            name="mo-phong-2",
            type="simulated",
            options={"dial_in": "sip:{conference}@127.0.0.1:5090"},
        ),
        BridgeContext(http=None, clock=lambda: NOW),
    )
    try:
        assert not plain.capabilities.sip_dial_in
        assert with_sip.capabilities.sip_dial_in
        # The kind's own capabilities are untouched: one instance's option is its own.
        assert not SimulatedBridge.capabilities.sip_dial_in
        ref = ConferenceRef(bridge="mo-phong-2", conference_id="sim-7")
        assert await with_sip.dial_in_uri(ref) == "sip:sim-7@127.0.0.1:5090"
        with pytest.raises(NotSupported):
            await plain.dial_in_uri(ConferenceRef(bridge="mo-phong", conference_id="sim-7"))
    finally:
        await plain.close()
        await with_sip.close()
    with pytest.raises(ConfigError, match="dial_in"):
        SimulatedBridge(
            BridgeConfig(name="x", type="simulated", options={"dial_in": "http://x"}),
            BridgeContext(http=None, clock=lambda: NOW),
        )


@pytest.fixture
async def emulator() -> AsyncIterator[CmsEmulator]:
    emulated = CmsEmulator(ring_delay=0.02, ring_timeout=0.1)
    await emulated.start()
    yield emulated
    await emulated.stop()


async def test_a_cms_cospace_is_dialled_at_its_uri_in_the_sip_domain(
    tmp_path: Path, emulator: CmsEmulator
) -> None:
    async with aiohttp.ClientSession() as http:
        setup = Setup(http, tmp_path)
        plain: CiscoCmsBridge = setup.bridge(emulator.url)
        assert not plain.capabilities.sip_dial_in
        bridge = setup.bridge(
            emulator.url,
            name="cms-sip",
            options={"retry_base_delay": 0.01, "sip_domain": "vc.example.gov.vn"},
        )
        assert bridge.capabilities.sip_dial_in
        ref = await bridge.create_conference(
            ConferenceSpec(key="meeting-42", title="Giao ban", expected_sites=3)
        )
        uri = await bridge.dial_in_uri(ref)
        assert uri == f"sip:{bridge.cospace_uri('meeting-42')}@vc.example.gov.vn"
        with pytest.raises(NotSupported):
            await plain.dial_in_uri(ref)
