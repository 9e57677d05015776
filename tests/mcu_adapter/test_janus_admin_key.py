"""A real Janus whose AudioBridge and VideoRoom only create rooms for holders of admin_key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim, require_janus
from tests.janus_harness.wiring import bridge_config, utc_now
from vcorch.config import ConfigError
from vcorch.mcu_adapter.base import BridgeContext, BridgeUnavailable, ConferenceSpec
from vcorch.mcu_adapter.janus import JanusBridge

PLUGIN_KEY = "plugin-admin-key-for-tests"

MakeBridge = Callable[..., Awaitable[JanusBridge]]


@pytest.fixture(scope="module")
def locked_janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusProcess]:
    require_janus()
    process = JanusProcess(
        tmp_path_factory.mktemp("janus-locked"), JanusSettings(plugin_admin_key=PLUGIN_KEY)
    )
    process.start(shim=build_shim())
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def make_bridge(locked_janus: JanusProcess, tmp_path: Path) -> AsyncIterator[MakeBridge]:
    async with aiohttp.ClientSession() as http:

        async def make(name: str, **options: object) -> JanusBridge:
            config = bridge_config(
                tmp_path,
                api_url=locked_janus.http_url,
                admin_url=locked_janus.admin_url,
                admin_secret=locked_janus.settings.admin_secret,
                name=name,
                **options,
            )
            bridge = JanusBridge(config, BridgeContext(http=http, clock=utc_now))
            await bridge.start()
            return bridge

        yield make


async def exists_on_janus(janus: JanusProcess, plugin: str, room: str) -> bool:
    """Asked of Janus directly, not through the adapter under test."""
    payload = {
        "janus": "message_plugin",
        "transaction": "check",
        "admin_secret": janus.settings.admin_secret,
        "plugin": f"janus.plugin.{plugin}",
        "request": {"request": "exists", "room": int(room)},
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(janus.admin_url, json=payload) as response,
    ):
        return bool((await response.json(content_type=None))["response"]["exists"])


def spec(key: str) -> ConferenceSpec:
    return ConferenceSpec(key=key, title="Giao ban tỉnh", expected_sites=3)


async def test_with_the_admin_key_a_conference_is_created_and_ended(
    make_bridge: MakeBridge, locked_janus: JanusProcess, tmp_path: Path
) -> None:
    key_file = tmp_path / "janus-admin-key"
    key_file.write_text(PLUGIN_KEY + "\n", encoding="utf-8")
    bridge = await make_bridge("janus-keyed", admin_key_file=str(key_file))

    ref = await bridge.create_conference(spec("meeting-keyed@2026-12-04T02:00Z"))
    again = await bridge.create_conference(spec("meeting-keyed@2026-12-04T02:00Z"))

    assert again == ref
    assert await exists_on_janus(locked_janus, "audiobridge", ref.conference_id)
    assert await exists_on_janus(locked_janus, "videoroom", ref.conference_id)
    assert await bridge.participants(ref) == []
    await bridge.end_conference(ref)
    assert not await exists_on_janus(locked_janus, "audiobridge", ref.conference_id)


async def test_without_the_admin_key_create_fails_saying_why(make_bridge: MakeBridge) -> None:
    bridge = await make_bridge("janus-keyless")

    with pytest.raises(BridgeUnavailable) as caught:
        await bridge.create_conference(spec("meeting-keyless@2026-12-04T02:00Z"))

    assert "admin_key" in caught.value.reason
    assert "options.admin_key_env" in caught.value.reason


async def test_a_wrong_admin_key_is_refused_and_not_repeated_back(
    make_bridge: MakeBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VCORCH_TEST_JANUS_KEY", "not-the-key")
    bridge = await make_bridge("janus-wrong", admin_key_env="VCORCH_TEST_JANUS_KEY")

    with pytest.raises(BridgeUnavailable) as caught:
        await bridge.create_conference(spec("meeting-wrong@2026-12-04T02:00Z"))

    assert "refused the admin_key" in caught.value.reason
    assert "not-the-key" not in str(caught.value)


def test_an_admin_key_env_that_is_not_set_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VCORCH_TEST_JANUS_KEY_UNSET", raising=False)
    config = bridge_config(
        tmp_path,
        api_url="http://127.0.0.1:9/janus",
        admin_url="http://127.0.0.1:9/admin",
        admin_secret="s",
        admin_key_env="VCORCH_TEST_JANUS_KEY_UNSET",
    )
    with pytest.raises(ConfigError, match="admin_key_env"):
        JanusBridge(config, BridgeContext(http=None, clock=utc_now))
