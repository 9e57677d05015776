"""Turning a host name into a socket address, within a time limit."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

SockAddr = tuple[Any, ...]


class ResolutionError(Exception):
    """The name did not resolve in time; ``str()`` is the detail shown to operators."""


def literal_address(host: str, port: int) -> tuple[int, SockAddr] | None:
    """The family and socket address of an IP literal, or None for a host name."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 6:
        return socket.AF_INET6, (host, port, 0, 0)
    return socket.AF_INET, (host, port)


async def resolve(
    host: str,
    port: int,
    timeout: float,  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
    *,
    kind: socket.SocketKind,
) -> tuple[int, SockAddr]:
    """First address of ``host`` (IPv4 or IPv6), or :class:`ResolutionError`."""
    literal = literal_address(host, port)
    if literal is not None:
        return literal
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host, port, type=kind)
    except TimeoutError as err:
        raise ResolutionError(f"dns: {host} did not resolve within {timeout:g} s") from err
    except OSError as err:
        raise ResolutionError(f"dns: {host}: {err.strerror or err}") from err
    if not infos:
        raise ResolutionError(f"dns: {host}: no address")
    family, _type, _proto, _name, sockaddr = infos[0]
    return int(family), tuple(sockaddr)
