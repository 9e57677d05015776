"""The caller's address, for throttles, the audit log and links: the peer, or, when the peer
is a trusted reverse proxy, the right-most ``X-Forwarded-For`` hop that is not one.

Only the right-most hops were written by proxies we trust; anything to their left came from
the client and could say anything, so it is never read past the first untrusted hop.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from aiohttp import web

from vcorch.web.keys import SETTINGS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
CLIENT_ADDRESS = web.RequestKey("client_address", str)
UNKNOWN = "unknown"


@cache
def _networks(configured: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in configured)


def _parse(hop: str) -> Address | None:
    text = hop.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def forwarded_client(peer: str | None, forwarded: list[str], networks: tuple[Network, ...]) -> str:
    """The client of a request from ``peer`` that carried ``forwarded`` (X-Forwarded-For
    values, in order)."""
    current = _parse(peer) if peer else None
    if current is None:
        return peer or UNKNOWN
    if not _trusted(current, networks):
        return str(current)
    hops = [hop for value in forwarded for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # A trusted proxy wrote something that is no address: the proxy is the client.
            break
        current = address
        if not _trusted(current, networks):
            break
    return str(current)


def client_address(request: web.Request) -> str:
    """The address the request came from, as the throttles and the audit log count it."""
    known: str | None = request.get(CLIENT_ADDRESS)
    if known is not None:
        return known
    settings = request.app.get(SETTINGS)
    networks = _networks(tuple(settings.trusted_proxies)) if settings is not None else ()
    forwarded = request.headers.getall("X-Forwarded-For", [])
    found = forwarded_client(request.remote, forwarded, networks)
    request[CLIENT_ADDRESS] = found
    return found
