"""Pytest fixtures: one real Janus per test module, its event receiver, adapters and peers.

A test module loads them with ``pytest_plugins = ["tests.janus_harness.fixtures"]`` and
takes its helper types from ``tests.janus_harness.wiring``.  Janus missing: the fixtures
skip, or fail under ``VCORCH_TEST_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.janus_harness.peer import AudioBridgePeer
from tests.janus_harness.receiver import EventReceiver
from tests.janus_harness.server import require_janus
from tests.janus_harness.wiring import (
    HOOK_SECRET,
    JanusInstance,
    PeerFactory,
    bridge_config,
    start_janus,
    utc_now,
)
from vcorch.mcu_adapter.base import BridgeContext
from vcorch.mcu_adapter.janus import JanusBridge


@pytest.fixture(scope="module")
def janus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusInstance]:
    """A Janus for the whole test module; its event handler posts to a live receiver."""
    require_janus()
    receiver = EventReceiver()
    receiver.start()
    folder = tmp_path_factory.mktemp("janus")
    try:
        process = start_janus(folder, receiver)
    except BaseException:
        receiver.stop()
        raise
    try:
        yield JanusInstance(process, receiver, HOOK_SECRET, folder)
    finally:
        process.stop()
        receiver.stop()


@pytest.fixture
async def janus_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def janus_bridge(
    janus: JanusInstance, tmp_path: Path, janus_http: aiohttp.ClientSession
) -> AsyncIterator[JanusBridge]:
    config = bridge_config(
        tmp_path,
        api_url=janus.process.http_url,
        admin_url=janus.process.admin_url,
        admin_secret=janus.admin_secret,
    )
    bridge = JanusBridge(config, BridgeContext(http=janus_http, clock=utc_now))
    await bridge.start()
    yield bridge
    await bridge.close()


@pytest.fixture
async def join_peer(
    janus: JanusInstance, janus_http: aiohttp.ClientSession
) -> AsyncIterator[PeerFactory]:
    """``await join_peer(room=..., participant_id=..., display=...)``: a joined aiortc peer.

    Every peer is closed at the end of the test, joined or not.
    """
    peers: list[AudioBridgePeer] = []

    async def join(**kwargs: Any) -> AudioBridgePeer:
        peer = AudioBridgePeer(janus_http, janus.process.http_url, **kwargs)
        peers.append(peer)
        try:
            await peer.join()
        except Exception as err:
            # Janus says why (ICE, DTLS, plugin) only in its own log.
            raise AssertionError(
                f"join failed: {err!r}; Janus log:\n{janus.process.log_tail()}"
            ) from err
        return peer

    yield join
    for peer in peers:
        await peer.close()
