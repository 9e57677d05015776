"""Whether each gateway can take a call: its Janus answers ``/info`` with the SIP plugin loaded.

Polled by every process (each places its own calls) every ``health_interval_seconds``;
a gateway never polled yet is unknown, which counts as not healthy: a browser is then sent
to the built-in bridge rather than into a call that may not work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from vcorch.gateway.errors import GatewayUnavailable
from vcorch.gateway.janus_sip import SIP_PLUGIN, JanusSipClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayStatus:
    name: str
    healthy: bool | None  # None: not checked yet
    version: str | None
    checked_at: datetime | None
    last_error: str | None


class GatewayHealth:
    def __init__(self, clients: Sequence[JanusSipClient], clock: Callable[[], datetime]) -> None:
        self._clients = {client.name: client for client in clients}
        self._clock = clock
        self._status: dict[str, GatewayStatus] = {
            name: GatewayStatus(name, None, None, None, None) for name in self._clients
        }

    def healthy(self, name: str) -> bool:
        status = self._status.get(name)
        return bool(status and status.healthy)

    def statuses(self) -> list[GatewayStatus]:
        return [self._status[name] for name in sorted(self._status)]

    async def check(self, name: str) -> GatewayStatus:
        client = self._clients[name]
        healthy, version, error = False, None, None
        try:
            info = await client.info()
        except GatewayUnavailable as err:
            error = err.reason
        else:
            version = str(info.get("version_string") or info.get("version") or "") or None
            plugins = info.get("plugins")
            healthy = isinstance(plugins, dict) and SIP_PLUGIN in plugins
            if not healthy:
                error = "the SIP plugin is not loaded"
        before = self._status.get(name)
        if before is not None and before.healthy is not healthy:
            log.log(
                logging.INFO if healthy else logging.WARNING,
                "gateway %s is %s%s",
                name,
                "healthy" if healthy else "unhealthy",
                f" ({error})" if error else "",
            )
        status = GatewayStatus(name, healthy, version, self._clock(), error)
        self._status[name] = status
        return status

    async def check_all(self) -> list[GatewayStatus]:
        return list(await asyncio.gather(*(self.check(name) for name in self._clients)))

    async def run(self, interval: float) -> None:
        while True:
            await self.check_all()
            await asyncio.sleep(interval)
