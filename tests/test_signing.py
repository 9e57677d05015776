"""The one signed-token scheme: wire format, tampering, expiry, purposes kept apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcorch.signing import (
    OPTIONAL_ID,
    POSITIVE_ID,
    UNIX_SECONDS,
    SignedTokens,
    TokenExpired,
    TokenForged,
    TokenFormat,
    TokenInvalid,
    TokenMalformed,
    derive_secret,
    expiry_seconds,
)

KEY = "golden-signing-key-of-sufficient-length-0123456789"
NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
PAIR = TokenFormat(name="pair", label=b"vcorch join-links v1", fields=(POSITIVE_ID, POSITIVE_ID))
TRIPLE = TokenFormat(
    name="triple",
    label=b"vcorch attendance check-in v1",
    fields=(POSITIVE_ID, UNIX_SECONDS, OPTIONAL_ID),
)


def tokens(fmt: TokenFormat = PAIR, now: datetime = NOW, key: str = KEY) -> SignedTokens:
    return SignedTokens(fmt, derive_secret(key, fmt.label), lambda: now)


# Issued by the two link modules before they shared this scheme: they must keep verifying.
GOLDEN = [
    (PAIR, "1.41.7.1796117401.Y4vpBzjwBRnDRvTUSTJBIw", ("41", "7"), 1796117401),
    (
        TRIPLE,
        "1.12.1796090400.7.1796101200.rTQ80LIj0Z1a5rOs2aXdHg",
        ("12", "1796090400", "7"),
        1796101200,
    ),
    (
        TRIPLE,
        "1.12.1796090400.0.1796101200.jEkl-KvERSU7cGsH__WQtg",
        ("12", "1796090400", "0"),
        1796101200,
    ),
]


@pytest.mark.parametrize(("fmt", "token", "fields", "expires"), GOLDEN)
def test_the_wire_format_is_unchanged(
    fmt: TokenFormat, token: str, fields: tuple[str, ...], expires: int
) -> None:
    claims = tokens(fmt).verify(token)
    assert claims.fields == fields
    assert claims.expires_at == datetime.fromtimestamp(expires, UTC)
    # Issuing the same claims gives the same token, byte for byte.
    assert tokens(fmt).issue(fields, claims.expires_at) == token


def test_the_secrets_are_the_ones_the_links_derived() -> None:
    assert derive_secret(KEY, PAIR.label).hex() == (
        "9c9f88e51f532740888ab1c4ccd9344ef52ff351425bcc6af31f4c8d5ee20abf"
    )
    assert derive_secret(KEY.encode(), PAIR.label) == derive_secret(KEY, PAIR.label)
    assert derive_secret(KEY, PAIR.label) != derive_secret(KEY, TRIPLE.label)


@pytest.mark.parametrize(
    ("after_now", "seconds_after_now"),
    [
        (timedelta(0), 0),
        (timedelta(microseconds=1), 1),  # rounded up: a token never dies before its moment
        (timedelta(seconds=1), 1),
        (timedelta(seconds=1, milliseconds=500), 2),
    ],
)
def test_expiry_is_rounded_up_to_the_second(after_now: timedelta, seconds_after_now: int) -> None:
    assert expiry_seconds(NOW + after_now) == int(NOW.timestamp()) + seconds_after_now


@pytest.mark.parametrize(
    ("now", "allow_expired", "passes"),
    [
        (NOW + timedelta(minutes=59, seconds=59), False, True),
        (NOW + timedelta(hours=1), False, False),  # the expiry itself is already too late
        (NOW + timedelta(days=3), True, True),
    ],
)
def test_expiry(now: datetime, allow_expired: bool, passes: bool) -> None:
    token = tokens().issue((1, 2), NOW + timedelta(hours=1))
    if passes:
        assert tokens(now=now).verify(token, allow_expired=allow_expired).fields == ("1", "2")
    else:
        with pytest.raises(TokenExpired) as raised:
            tokens(now=now).verify(token)
        assert raised.value.expires_at == NOW + timedelta(hours=1)


def test_tampering_and_other_keys_are_forged_and_bad_shapes_malformed() -> None:
    token = tokens().issue((12, 34), NOW + timedelta(hours=1))
    version, first, second, expires, mac = token.split(".")
    forged = [
        f"{version}.13.{second}.{expires}.{mac}",
        f"{version}.{first}.{second}.{int(expires) + 1}.{mac}",
        f"{version}.{first}.{second}.{expires}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
    ]
    for candidate in forged:
        with pytest.raises(TokenForged):
            tokens().verify(candidate)
    with pytest.raises(TokenForged):
        tokens(key=KEY + "-other").verify(token)
    malformed = ["", "x", token + "x", "2" + token[1:], f"{version}.0.{second}.{expires}.{mac}"]
    malformed.append(tokens(TRIPLE).issue((1, 2, 3), NOW + timedelta(hours=1)))
    for candidate in malformed:
        with pytest.raises(TokenMalformed):
            tokens().verify(candidate)
    assert issubclass(TokenForged, TokenInvalid) and issubclass(TokenMalformed, TokenInvalid)


def test_a_token_of_one_purpose_never_passes_for_another() -> None:
    same_shape = TokenFormat(name="other", label=b"another purpose", fields=PAIR.fields)
    token = tokens(same_shape).issue((1, 2), NOW + timedelta(hours=1))
    with pytest.raises(TokenForged):
        tokens().verify(token)


def test_unusable_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        SignedTokens(PAIR, b"short", lambda: NOW)
    with pytest.raises(ValueError, match="aware"):
        tokens().issue((1, 2), datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="2 fields"):
        tokens().issue((1, 2, 3), NOW)
