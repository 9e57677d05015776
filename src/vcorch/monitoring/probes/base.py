"""The contract every probe keeps."""

from __future__ import annotations

from typing import Protocol

from vcorch.monitoring.probes.result import ProbeResult


class Probe(Protocol):
    """Checks one endpoint address and says what it found.

    ``probe`` never raises because an endpoint is down, slow, refusing or unresolvable: that
    is a :class:`ProbeResult` with ``reachable=False``.  It raises only for programming
    errors, and :class:`~vcorch.monitoring.probes.errors.InvalidAddress` for an address
    that cannot be parsed, which is a configuration error to fix, not a health state.
    ``timeout`` (seconds) bounds the whole probe, name resolution included.
    """

    async def probe(self, target: str, timeout: float) -> ProbeResult: ...  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
