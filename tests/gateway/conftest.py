"""A real Janus with its SIP plugin (the gateway) and a real SIP party (baresip), per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.sip_party import SipParty, sip_party
from tests.janus_harness.server import JanusProcess, JanusSettings, build_shim, require_janus

API_SECRET = "gateway-api-secret-for-tests"


@pytest.fixture(scope="module")
def janus_sip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusProcess]:
    require_janus()
    if not (Path("/usr/lib/x86_64-linux-gnu/janus/plugins") / "libjanus_sip.so").exists():
        from tests.services import missing_service

        missing_service("Janus' SIP plugin is missing (apt-get install -y janus)")
    process = JanusProcess(
        tmp_path_factory.mktemp("janus-sip"), JanusSettings(sip=True, api_secret=API_SECRET)
    )
    process.start(shim=build_shim())
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def party(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SipParty]:
    with sip_party(tmp_path_factory.mktemp("baresip")) as started:
        yield started
