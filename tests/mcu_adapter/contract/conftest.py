"""Runs every contract test once per registered harness (see harness.py)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.mcu_adapter.contract.harness import HARNESSES, Harness
from vcorch.mcu_adapter.base import Bridge

for _module in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if _module.name.startswith("harness_"):
        importlib.import_module(f"{__package__}.{_module.name}")


@pytest.fixture(params=sorted(HARNESSES))
async def started(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Harness, Bridge]]:
    made = HARNESSES[request.param](tmp_path)
    try:
        bridge = await made.start()
        yield made, bridge
    finally:
        await made.stop()


@pytest.fixture
def harness(started: tuple[Harness, Bridge]) -> Harness:
    return started[0]


@pytest.fixture
def bridge(started: tuple[Harness, Bridge]) -> Bridge:
    return started[1]
