"""Errors a probe raises on purpose (everything about a down endpoint is a result instead)."""

from __future__ import annotations

from vcorch.errors import InvalidInput


class InvalidAddress(InvalidInput):
    """The endpoint's address cannot be parsed for this probe kind."""

    code = "invalid-endpoint-address"
