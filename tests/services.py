"""How tests find the real services they need, and what happens when one is missing."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_SERVICES = os.environ.get("VCORCH_TEST_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get("VCORCH_TEST_POSTGRES_URL")


def missing_service(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where every service must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing_service(f"{name} is not installed")
        raise AssertionError("unreachable")
    return path
