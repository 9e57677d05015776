"""The OPTIONS request vcorch sends and the parts of a response it reads (RFC 3261)."""

from __future__ import annotations

import re
from typing import NamedTuple

from vcorch.monitoring.probes.sip_uri import SipUri

# RFC 3261 section 8.1.1.7: a branch starting with the magic cookie marks an RFC 3261
# transaction, which is what lets servers and we match the response by branch alone.
BRANCH_COOKIE = "z9hG4bK"

_STATUS_LINE = re.compile(rb"SIP/2\.0[ \t]+([1-6][0-9][0-9])[ \t]*([^\r\n]*)\r?\n")
_BRANCH = re.compile(rb";[ \t]*branch[ \t]*=[ \t]*([^;, \t\r\n]+)", re.IGNORECASE)
# Call-ID has the compact form "i" (RFC 3261 section 7.3.3).
_CALL_ID = re.compile(rb"\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?\n", re.IGNORECASE)
_TOKEN = re.compile(rb"[^;, \t\r\n]+")
_CONTENT_LENGTH = re.compile(rb"\n(?:content-length|l)[ \t]*:[ \t]*([0-9]+)", re.IGNORECASE)


class ResponseHead(NamedTuple):
    """What a probe needs from a SIP response: the status and the transaction keys.

    A named tuple rather than a dataclass because a sweep makes one per answer and a
    tuple is several times cheaper to build.
    """

    status: int
    reason: str
    branch: bytes | None
    call_id: bytes | None

    @property
    def is_final(self) -> bool:
        return self.status >= 200

    @property
    def summary(self) -> str:
        return f"{self.status} {self.reason}".rstrip()


def format_host(host: str) -> str:
    """A host as written in a Via or URI: IPv6 literals in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def build_options(
    uri: SipUri,
    *,
    transport: str,
    local_host: str,
    local_port: int,
    branch: str,
    call_id: str,
    tag: str,
) -> bytes:
    """An OPTIONS request for ``uri``; ``transport`` is the Via token (``UDP``/``TCP``).

    ``rport`` (RFC 3581) asks the endpoint to answer to the port the request came from,
    so the answer reaches us even when ``local_host`` is not what the endpoint sees.
    """
    ruri = uri.request_uri
    host = format_host(local_host)
    return (
        f"OPTIONS {ruri} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {host}:{local_port};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:vcorch-monitor@{host}>;tag={tag}\r\n"
        f"To: <{ruri}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"Contact: <sip:vcorch-monitor@{host}:{local_port}>\r\n"
        "Accept: application/sdp\r\n"
        "User-Agent: vcorch-monitor\r\n"
        "Content-Length: 0\r\n"
        "\r\n"
    ).encode("ascii")


def parse_response(data: bytes) -> ResponseHead | None:
    """The head of a SIP response, or None when ``data`` is not one (a request, noise).

    The usual spelling (one space after the version, ``;branch=``, ``Call-ID: ``) is found
    with plain byte searches; anything else falls back to the regular expressions.  This
    runs once per answer of a sweep, ten thousand times a minute.
    """
    if data.startswith(b"SIP/2.0 ") and data[8:11].isdigit() and data[11:12] in (b" ", b"\r"):
        status = int(data[8:11])
        end = data.find(b"\r\n", 11)
        if end < 0:
            return None
        reason = data[12:end].strip().decode("utf-8", "replace")
    else:
        match = _STATUS_LINE.match(data)
        if match is None:
            return None
        status = int(match[1])
        reason = match[2].decode("utf-8", "replace")
    return ResponseHead(status, reason, find_branch(data), _call_id(data))


def _call_id(data: bytes) -> bytes | None:
    start = data.find(b"\r\nCall-ID: ")
    if start >= 0:
        start += 11
        end = data.find(b"\r\n", start)
        if end > start:
            return data[start:end].rstrip()
    match = _CALL_ID.search(data)
    return match[1] if match else None


def find_branch(data: bytes) -> bytes | None:
    """The first Via branch in a message (also in the copy an ICMP error quotes back)."""
    start = data.find(b";branch=")
    if start >= 0:
        value = _TOKEN.match(data, start + 8)
        if value is not None:
            return value[0]
    match = _BRANCH.search(data)
    return match[1] if match else None


def content_length(head: bytes) -> int:
    """The Content-Length of a message head; 0 when absent (a stream needs it, RFC 18.3)."""
    match = _CONTENT_LENGTH.search(head)
    return int(match[1]) if match else 0
