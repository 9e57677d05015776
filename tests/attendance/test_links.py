"""Signed self check-in links: what they carry, and what they refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcorch.attendance.links import (
    CheckInLinkExpired,
    CheckInLinkInvalid,
    CheckInLinks,
    derive_secret,
    qr_svg,
)
from vcorch.join import links as join_links

KEY = "service-signing-key-of-sufficient-length-0123"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
OCCURRENCE = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def links(now: datetime = NOW, key: str = KEY) -> CheckInLinks:
    return CheckInLinks(derive_secret(key), "https://vcorch.example.vn/", lambda: now)


def test_a_link_carries_its_meeting_occurrence_site_and_expiry() -> None:
    token = links().issue(12, OCCURRENCE, 7, NOW + timedelta(hours=3, microseconds=1))
    claims = links().verify(token)
    assert (claims.meeting_id, claims.occurrence_key, claims.room_id) == (12, OCCURRENCE, 7)
    # Rounded up to the second: a link never dies before the moment it names.
    assert claims.expires_at == NOW + timedelta(hours=3, seconds=1)
    assert links().url(token) == f"https://vcorch.example.vn/checkin/{token}"
    whole_meeting = links().issue(12, OCCURRENCE, None, NOW + timedelta(hours=1))
    assert links().verify(whole_meeting).room_id is None


def test_any_change_or_another_key_is_refused() -> None:
    token = links().issue(12, OCCURRENCE, 7, NOW + timedelta(hours=3))
    for index, char in enumerate(token):
        if char == ".":
            continue
        changed = token[:index] + ("1" if char != "1" else "2") + token[index + 1 :]
        with pytest.raises(CheckInLinkInvalid):
            links().verify(changed)
    with pytest.raises(CheckInLinkInvalid):
        links(key="another-service-key-of-sufficient-length-99").verify(token)
    # A browser join link signed by the same service is not a check-in link.
    join = join_links.JoinLinks(join_links.derive_secret(KEY), lambda: NOW)
    with pytest.raises(CheckInLinkInvalid):
        links().verify(join.issue(5, 12, NOW + timedelta(hours=1)))
    with pytest.raises(CheckInLinkInvalid):
        links().verify("")


def test_an_expired_link_is_refused() -> None:
    token = links().issue(12, OCCURRENCE, 7, NOW + timedelta(minutes=5))
    with pytest.raises(CheckInLinkExpired):
        links(now=NOW + timedelta(minutes=5)).verify(token)


def test_the_qr_code_is_an_svg_document() -> None:
    svg = qr_svg("https://vcorch.example.vn/checkin/1.12.1796176800.7.1796187600.abc")
    assert svg.startswith(
        '<?xml version="1.0" encoding="utf-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"'
    )
    assert svg.rstrip().endswith("</svg>")


def test_links_issued_before_the_shared_scheme_still_open() -> None:
    # Issued by the check-in module as it was before vcorch.signing existed.
    key = "golden-signing-key-of-sufficient-length-0123456789"
    checkin = links(now=datetime(2026, 12, 1, tzinfo=UTC), key=key)
    for token, room in [
        ("1.12.1796090400.7.1796101200.rTQ80LIj0Z1a5rOs2aXdHg", 7),
        ("1.12.1796090400.0.1796101200.jEkl-KvERSU7cGsH__WQtg", None),
    ]:
        claims = checkin.verify(token)
        assert (claims.meeting_id, claims.occurrence_key, claims.room_id) == (12, OCCURRENCE, room)
        assert claims.expires_at == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
        assert checkin.issue(12, OCCURRENCE, room, claims.expires_at) == token


def test_refusals_keep_their_messages() -> None:
    token = links().issue(12, OCCURRENCE, 7, NOW + timedelta(minutes=5))
    with pytest.raises(CheckInLinkInvalid, match="not a check-in link of this service"):
        links().verify("1.2")
    with pytest.raises(CheckInLinkInvalid, match="altered"):
        links(key="another-service-key-of-sufficient-length-99").verify(token)
    with pytest.raises(CheckInLinkExpired, match="has expired"):
        links(now=NOW + timedelta(hours=1)).verify(token)
    with pytest.raises(ValueError, match="check-in secret must be at least 16 bytes"):
        CheckInLinks(b"short", "https://vcorch.example.vn", lambda: NOW)
    with pytest.raises(ValueError, match="aware"):
        links().issue(12, datetime(2026, 12, 1), 7, NOW)
