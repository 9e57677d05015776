"""H.323 probe: can a TCP connection be opened to the endpoint's call-signalling port?

That is as far as a probe can go without placing a call: an H.225 Setup would ring the
room.  The latency is the time the TCP handshake took.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
from dataclasses import dataclass

from vcorch.monitoring.probes.errors import InvalidAddress
from vcorch.monitoring.probes.resolve import ResolutionError, resolve
from vcorch.monitoring.probes.result import ProbeResult, down, healthy

DEFAULT_H323_PORT = 1720  # H.225.0 call signalling over TCP

# h323:[alias@]host[:port], the form of the H.323 URL scheme (RFC 3508) vcorch stores.
_ADDRESS = re.compile(
    r"""^h323:(?:(?P<alias>[^@]+)@)?
        (?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)
        (?::(?P<port>[0-9]{1,5}))?(?:;.*)?$""",
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class H323Address:
    alias: str | None
    host: str  # without IPv6 brackets
    port: int


def parse_h323_address(text: str) -> H323Address:
    """Parse ``h323:alias@host:port`` (alias and port optional) or raise InvalidAddress."""
    match = _ADDRESS.match(text.strip())
    if match is None:
        raise InvalidAddress(f"not an H.323 address: {text!r}")
    host = match["host"]
    if host.startswith("["):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as err:
            raise InvalidAddress(f"bad IPv6 address in {text!r}") from err
    port = int(match["port"]) if match["port"] else DEFAULT_H323_PORT
    if not 0 < port < 65_536:
        raise InvalidAddress(f"port out of range in {text!r}")
    return H323Address(match["alias"], host, port)


class H323Probe:
    """TCP connect to the call-signalling port; refused and timeout are down."""

    async def probe(self, target: str, timeout: float) -> ProbeResult:  # noqa: ASYNC109 -- the limit sizes retries and is named in the result
        address = parse_h323_address(target)
        loop = asyncio.get_running_loop()
        sock: socket.socket | None = None
        try:
            async with asyncio.timeout(timeout):
                family, sockaddr = await resolve(
                    address.host, address.port, timeout, kind=socket.SOCK_STREAM
                )
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setblocking(False)
                started = loop.time()
                await loop.sock_connect(sock, sockaddr)
                latency_ms = (loop.time() - started) * 1000.0
        except TimeoutError:
            return down(f"timeout after {timeout:g} s")
        except ResolutionError as err:
            return down(str(err))
        except ConnectionRefusedError:
            return down("refused")
        except OSError as err:
            return down(err.strerror or type(err).__name__)
        finally:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        return healthy(latency_ms, f"TCP {address.port} accepts connections")
