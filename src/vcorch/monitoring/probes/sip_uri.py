"""SIP URIs as endpoints are written in vcorch: ``sip:user@host:port;transport=tcp``."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from vcorch.monitoring.probes.errors import InvalidAddress

SipTransport = Literal["udp", "tcp"]

DEFAULT_SIP_PORT = 5060

# RFC 3261 section 19.1.1 (SIP-URI); the user part may hold a password after ':' which is
# kept out of what is sent.  Headers after '?' are dropped: they mean nothing to OPTIONS.
_URI = re.compile(
    r"""^(?P<scheme>[A-Za-z]+):
        (?:(?P<user>[^@:;?]+)(?::[^@]*)?@)?
        (?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)
        (?::(?P<port>[0-9]{1,5}))?
        (?P<params>;[^?]*)?
        (?:\?.*)?$""",
    re.VERBOSE,
)
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$"
)


@dataclass(frozen=True, slots=True)
class SipUri:
    """A parsed SIP URI: where to send an OPTIONS and what to put in its request line."""

    user: str | None
    host: str  # without IPv6 brackets
    port: int
    transport: SipTransport
    # AF_INET or AF_INET6 for an IP literal, 0 for a host name that needs resolving.
    family: int
    # The request-URI: user (if any) at host:port, without the transport parameter.
    request_uri: str

    @property
    def sockaddr(self) -> tuple[str, int] | tuple[str, int, int, int]:
        """The socket address of an IP literal (meaningless for a host name)."""
        if self.family == socket.AF_INET6:
            return (self.host, self.port, 0, 0)
        return (self.host, self.port)


@lru_cache(maxsize=65_536)
def parse_sip_uri(text: str) -> SipUri:
    """Parse ``text`` or raise :class:`InvalidAddress` saying what is wrong.

    Cached: sweeps parse the same addresses every minute.  No DNS SRV/NAPTR lookup is
    done (RFC 3263): a URI without a port means port 5060, which is how room systems are
    registered in practice.
    """
    match = _URI.match(text.strip())
    if match is None:
        raise InvalidAddress(f"not a SIP URI: {text!r}")
    scheme = match["scheme"].lower()
    if scheme == "sips":
        raise InvalidAddress(f"sips (TLS) URIs are not probed yet: {text!r}")
    if scheme != "sip":
        raise InvalidAddress(f"not a SIP URI (scheme {scheme!r}): {text!r}")
    host = match["host"]
    family = 0
    if host.startswith("["):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as err:
            raise InvalidAddress(f"bad IPv6 address in {text!r}") from err
        family = socket.AF_INET6
    else:
        try:
            ipaddress.IPv4Address(host)
            family = socket.AF_INET
        except ValueError:
            if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
                raise InvalidAddress(f"bad host in {text!r}") from None
    port = int(match["port"]) if match["port"] else DEFAULT_SIP_PORT
    if not 0 < port < 65_536:
        raise InvalidAddress(f"port out of range in {text!r}")
    transport: SipTransport = "udp"
    for param in (match["params"] or "").split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "transport":
            value = value.strip().lower()
            if value == "tcp":
                transport = "tcp"
            elif value != "udp":
                raise InvalidAddress(f"transport {value!r} is not probed: {text!r}")
    user = match["user"]
    host_text = f"[{host}]" if family == socket.AF_INET6 else host
    request_uri = f"sip:{user}@{host_text}:{port}" if user else f"sip:{host_text}:{port}"
    return SipUri(user, host, port, transport, family, request_uri)
