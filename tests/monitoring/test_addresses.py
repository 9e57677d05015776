"""Parsing endpoint addresses and SIP responses."""

from __future__ import annotations

import socket

import pytest

from vcorch.monitoring.probes.errors import InvalidAddress
from vcorch.monitoring.probes.h323 import parse_h323_address
from vcorch.monitoring.probes.sip_message import content_length, parse_response
from vcorch.monitoring.probes.sip_uri import parse_sip_uri


@pytest.mark.parametrize(
    ("text", "user", "host", "port", "transport", "family", "request_uri"),
    [
        (
            "sip:bot@127.0.0.1",
            "bot",
            "127.0.0.1",
            5060,
            "udp",
            socket.AF_INET,
            "sip:bot@127.0.0.1:5060",
        ),
        (
            "sip:bot@127.0.0.1:5062;transport=tcp",
            "bot",
            "127.0.0.1",
            5062,
            "tcp",
            socket.AF_INET,
            "sip:bot@127.0.0.1:5062",
        ),
        (
            "SIP:room1@10.0.0.7:5070;Transport=UDP",
            "room1",
            "10.0.0.7",
            5070,
            "udp",
            socket.AF_INET,
            "sip:room1@10.0.0.7:5070",
        ),
        (
            "sip:[2001:db8::5]:5080",
            None,
            "2001:db8::5",
            5080,
            "udp",
            socket.AF_INET6,
            "sip:[2001:db8::5]:5080",
        ),
        (
            "sip:alice@[::1];transport=tcp",
            "alice",
            "::1",
            5060,
            "tcp",
            socket.AF_INET6,
            "sip:alice@[::1]:5060",
        ),
        (
            "sip:cr.tinh-lai-chau.vn",
            None,
            "cr.tinh-lai-chau.vn",
            5060,
            "udp",
            0,
            "sip:cr.tinh-lai-chau.vn:5060",
        ),
        (
            "sip:bot:secret@host.example:5061;lr?subject=x",
            "bot",
            "host.example",
            5061,
            "udp",
            0,
            "sip:bot@host.example:5061",
        ),
        (
            "  sip:bot@127.0.0.1  ",
            "bot",
            "127.0.0.1",
            5060,
            "udp",
            socket.AF_INET,
            "sip:bot@127.0.0.1:5060",
        ),
    ],
)
def test_sip_uris_parse(
    text: str, user: str | None, host: str, port: int, transport: str, family: int, request_uri: str
) -> None:
    uri = parse_sip_uri(text)
    assert (uri.user, uri.host, uri.port, uri.transport, uri.family) == (
        user,
        host,
        port,
        transport,
        family,
    )
    assert uri.request_uri == request_uri


@pytest.mark.parametrize(
    "text",
    [
        "",
        "bot@127.0.0.1",
        "tel:+84241234567",
        "sips:bot@127.0.0.1",  # TLS is not probed yet: said so, not silently sent over UDP
        "sip:bot@127.0.0.1;transport=ws",
        "sip:bot@[not-ipv6]",
        "sip:bot@127.0.0.1:70000",
        "sip:bot@300.1.1.1",
        "sip:bot@host_with space",
    ],
)
def test_bad_sip_uris_are_rejected(text: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_sip_uri(text)


@pytest.mark.parametrize(
    ("text", "alias", "host", "port"),
    [
        ("h323:room@10.1.2.3", "room", "10.1.2.3", 1720),
        ("h323:10.1.2.3:1721", None, "10.1.2.3", 1721),
        ("H323:[2001:db8::9]", None, "2001:db8::9", 1720),
        ("h323:hoi-truong@mcu.example.vn:11720", "hoi-truong", "mcu.example.vn", 11720),
    ],
)
def test_h323_addresses_parse(text: str, alias: str | None, host: str, port: int) -> None:
    address = parse_h323_address(text)
    assert (address.alias, address.host, address.port) == (alias, host, port)


@pytest.mark.parametrize("text", ["sip:room@10.1.2.3", "h323:", "h323:host:0", "10.1.2.3"])
def test_bad_h323_addresses_are_rejected(text: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_h323_address(text)


RESPONSE = (
    b"SIP/2.0 404 Not Found\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bKabc123;rport=4000;received=127.0.0.1\r\n"
    b"From: <sip:vcorch-monitor@127.0.0.1>;tag=abc\r\n"
    b"To: <sip:nobody@127.0.0.1:5060>;tag=xyz\r\n"
    b"Call-ID: abc123@vcorch\r\n"
    b"CSeq: 1 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)


@pytest.mark.parametrize(
    "data",
    [
        RESPONSE,
        # Compact header names, other spacing and case (RFC 3261 sections 7.3.1, 7.3.3).
        RESPONSE.replace(b"Call-ID: ", b"i:").replace(b";branch=", b" ; BRANCH = "),
        RESPONSE.replace(b"Call-ID: ", b"call-id :  ").replace(b"Via:", b"v:"),
    ],
)
def test_responses_parse_in_every_spelling(data: bytes) -> None:
    head = parse_response(data)
    assert head is not None
    assert (head.status, head.reason, head.branch, head.call_id) == (
        404,
        "Not Found",
        b"z9hG4bKabc123",
        b"abc123@vcorch",
    )
    assert head.is_final
    assert head.summary == "404 Not Found"


@pytest.mark.parametrize(
    "data",
    [
        b"OPTIONS sip:bot@127.0.0.1 SIP/2.0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"SIP/2.0 2x0 OK\r\n",
        b"",
    ],
)
def test_requests_and_noise_are_not_responses(data: bytes) -> None:
    assert parse_response(data) is None


def test_provisional_response_is_not_final() -> None:
    head = parse_response(RESPONSE.replace(b"404 Not Found", b"100 Trying"))
    assert head is not None
    assert not head.is_final


@pytest.mark.parametrize(
    ("head", "length"),
    [
        (RESPONSE, 0),
        (RESPONSE.replace(b"Content-Length: 0", b"l: 42"), 42),
        (b"SIP/2.0 200 OK\r\n\r\n", 0),
    ],
)
def test_content_length(head: bytes, length: int) -> None:
    assert content_length(head) == length
