"""Fixtures of the security tests: an estate of objects in two provinces."""

from __future__ import annotations

import pytest

from tests.api import Api
from tests.security.estate import Estate, build_estate
from tests.world import World


@pytest.fixture
async def estate(api: Api, world: World) -> Estate:
    return await build_estate(api, world)
