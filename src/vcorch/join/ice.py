"""ICE servers handed to a browser that joins: STUN as configured, TURN with REST credentials.

TURN credentials follow the "TURN REST API" convention that coturn checks with
``use-auth-secret`` + ``static-auth-secret``: the username is ``<unix expiry>:<name>`` and the
password is base64(HMAC-SHA1(shared secret, username)).  coturn refuses them after the
expiry; nothing is stored, and the shared secret itself never leaves vcorch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class IceServer:
    """One entry of ``RTCConfiguration.iceServers`` as the browser API spells it."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def as_json(self) -> dict[str, object]:
        entry: dict[str, object] = {"urls": list(self.urls)}
        if self.username is not None:
            entry["username"] = self.username
            entry["credential"] = self.credential
        return entry


@dataclass(frozen=True)
class IcePolicy:
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl: timedelta = timedelta(hours=12)


def turn_credentials(secret: str, name: str, expires_at: datetime) -> tuple[str, str]:
    """``(username, password)`` valid until ``expires_at`` for coturn's ``static-auth-secret``."""
    if ":" in name:
        # coturn reads the expiry up to the first colon; a second one would confuse readers.
        raise ValueError("the credential name must not contain ':'")
    username = f"{int(expires_at.timestamp())}:{name}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(policy: IcePolicy, name: str, now: datetime) -> list[IceServer]:
    """The servers for one joining browser.  TURN is left out when no secret is configured
    (coturn would refuse every allocation, and aiortc silently gathers nothing then)."""
    servers: list[IceServer] = []
    if policy.stun_urls:
        servers.append(IceServer(urls=tuple(policy.stun_urls)))
    if policy.turn_urls and policy.turn_secret:
        username, password = turn_credentials(policy.turn_secret, name, now + policy.turn_ttl)
        servers.append(
            IceServer(urls=tuple(policy.turn_urls), username=username, credential=password)
        )
    return servers


def urls_of(servers: Sequence[IceServer]) -> list[str]:
    return [url for server in servers for url in server.urls]
