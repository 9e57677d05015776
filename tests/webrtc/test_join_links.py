"""Join tokens: signed, compact, URL-safe, expiring, and bound to this service's key."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.api import FakeClock
from vcorch.join.links import (
    JoinLinkError,
    JoinLinks,
    LinkExpired,
    LinkInvalid,
    derive_secret,
    join_url,
)

KEY = "test-signing-key-of-sufficient-length-0123456789"


@pytest.fixture
def links(clock: FakeClock) -> JoinLinks:
    return JoinLinks(derive_secret(KEY), clock)


def test_a_token_round_trips_and_is_url_safe(links: JoinLinks, clock: FakeClock) -> None:
    end = clock.now + timedelta(hours=2)
    token = links.issue(41, 7, end)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", token) and len(token) < 64
    claims = links.verify(token)
    assert (claims.run_site_id, claims.meeting_id) == (41, 7)
    # Expiry is kept to the second, never earlier than asked.
    assert end <= claims.expires_at < end + timedelta(seconds=1)
    assert join_url("https://vcorch.example.gov.vn/", token) == (
        f"https://vcorch.example.gov.vn/join/{token}"
    )


def test_it_expires_at_the_meetings_end(links: JoinLinks, clock: FakeClock) -> None:
    token = links.issue(1, 2, clock.now + timedelta(minutes=30))
    clock.advance(minutes=29)
    links.verify(token)
    clock.advance(minutes=2)
    with pytest.raises(LinkExpired):
        links.verify(token)
    # Leaving a call after the end is still allowed with a genuine link.
    assert links.verify(token, allow_expired=True).run_site_id == 1


def test_any_change_is_refused(links: JoinLinks, clock: FakeClock) -> None:
    token = links.issue(12, 34, clock.now + timedelta(hours=1))
    version, site, meeting, expires, mac = token.split(".")
    far_future = str(int(expires) + 86_400 * 365)
    forged = [
        f"{version}.13.{meeting}.{expires}.{mac}",  # another site
        f"{version}.{site}.35.{expires}.{mac}",  # another meeting
        f"{version}.{site}.{meeting}.{far_future}.{mac}",  # a longer life
        f"{version}.{site}.{meeting}.{expires}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        f"{version}.{site}.{meeting}.{expires}",
        "",
        "janus",
        token + "x",
        "2" + token[1:],
    ]
    for candidate in forged:
        with pytest.raises(LinkInvalid):
            links.verify(candidate)
    other_key = JoinLinks(derive_secret(KEY + "-other"), clock)
    with pytest.raises(LinkInvalid):
        other_key.verify(token)
    assert issubclass(LinkExpired, JoinLinkError) and issubclass(LinkInvalid, JoinLinkError)


def test_the_secret_is_not_the_signing_key_itself() -> None:
    secret = derive_secret(KEY)
    assert len(secret) == 32 and secret != KEY.encode()
    assert derive_secret(KEY) == secret  # every process derives the same one


def test_naive_or_nonsense_input_is_refused(links: JoinLinks) -> None:
    with pytest.raises(ValueError, match="aware"):
        links.issue(1, 1, datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        links.issue(0, 1, datetime(2030, 1, 1, tzinfo=UTC))


def test_links_issued_before_the_shared_scheme_still_open() -> None:
    # Issued by the join-link module as it was before vcorch.signing existed.
    key = "golden-signing-key-of-sufficient-length-0123456789"
    token = "1.41.7.1796117401.Y4vpBzjwBRnDRvTUSTJBIw"
    issued = datetime(2026, 12, 1, tzinfo=UTC)
    links = JoinLinks(derive_secret(key), lambda: issued)
    claims = links.verify(token)
    assert (claims.run_site_id, claims.meeting_id) == (41, 7)
    assert claims.expires_at == datetime(2026, 12, 1, 9, 30, 1, tzinfo=UTC)
    assert links.issue(41, 7, datetime(2026, 12, 1, 9, 30, 0, 500_000, tzinfo=UTC)) == token


def test_refusals_keep_their_messages(links: JoinLinks, clock: FakeClock) -> None:
    token = links.issue(1, 2, clock.now + timedelta(minutes=1))
    cases = [
        ("nonsense", LinkInvalid, "this is not a join link of this service"),
        (token[:-1] + ("A" if token[-1] != "A" else "B"), LinkInvalid, "altered"),
    ]
    for candidate, error, message in cases:
        with pytest.raises(error, match=message):
            links.verify(candidate)
    clock.advance(minutes=2)
    with pytest.raises(LinkExpired, match="expired when its meeting ended"):
        links.verify(token)
    with pytest.raises(ValueError, match="join-link secret must be at least 16 bytes"):
        JoinLinks(b"short", clock)
