"""Errors of the bridges' HTTP edge: the hooks bridges push their events to.

These are vcorch's refusals of a pushed request, not a bridge's failures: the contract's own
tree (``BridgeError`` and its kinds, which adapters raise) is in :mod:`vcorch.mcu_adapter.base`.

- :class:`HookUnauthenticated`: the request does not carry the bridge's hook credentials.
- :class:`MalformedEvents`: the bridge's adapter cannot read the pushed body.
"""

from __future__ import annotations

from vcorch.errors import DomainError, InvalidInput


class HookUnauthenticated(DomainError):
    code = "hook-unauthenticated"


class MalformedEvents(InvalidInput):
    code = "malformed-events"
