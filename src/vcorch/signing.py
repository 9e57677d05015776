"""Signed, expiring, URL-safe tokens: the one scheme behind every link that is its own credential.

A token is readable but unforgeable::

    <version>.<field>...<field>.<expires unix seconds>.<mac>

``mac`` is the first 16 bytes of HMAC-SHA256(secret, everything before the last dot) in
unpadded base64url (128 bits: forging one is out of reach; the full 32 bytes would only make
the link longer).  Each purpose (browser join links, self check-in links...) has a
:class:`TokenFormat` of its own: its fields, and the label its secret is derived with
(:func:`derive_secret`), so a token of one purpose never passes for another's, nor for an
API token.  Tokens are not stored: rotating the signing key revokes them all.

Errors: :class:`SignedTokenError` and its kinds :class:`TokenMalformed` and
:class:`TokenForged` (both :class:`TokenInvalid`) and :class:`TokenExpired`; each link kind
translates them into its own documented domain errors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from vcorch.errors import VcorchError

MAC_BYTES = 16
MIN_SECRET_BYTES = 16
# Field patterns of database ids: 18 digits keep them below 2^63 and the token short.
POSITIVE_ID = "[1-9][0-9]{0,17}"
OPTIONAL_ID = "0|[1-9][0-9]{0,17}"
UNIX_SECONDS = "[0-9]{1,12}"
_MAC = "[A-Za-z0-9_-]{22}"


class SignedTokenError(VcorchError):
    """A token cannot be used; the kinds say why and never repeat the token."""


class TokenInvalid(SignedTokenError):
    """The token is not one this service signed for this purpose."""


class TokenMalformed(TokenInvalid):
    """The token does not have the purpose's shape (or another version's)."""


class TokenForged(TokenInvalid):
    """The shape is right but the MAC is not: altered, or signed with another key."""


class TokenExpired(SignedTokenError):
    """The token is genuine but its expiry is past."""

    def __init__(self, expires_at: datetime) -> None:
        super().__init__(f"expired at {expires_at.isoformat()}")
        self.expires_at = expires_at


@dataclass(frozen=True)
class TokenFormat:
    """The shape of one purpose's tokens: its name, secret label, version and field patterns."""

    name: str
    label: bytes
    fields: tuple[str, ...]
    version: str = "1"

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        fields = [f"(?P<f{index}>{field})" for index, field in enumerate(self.fields)]
        parts = [re.escape(self.version), *fields, f"(?P<expires>{UNIX_SECONDS})"]
        return re.compile(r"\.".join(parts) + rf"\.(?P<mac>{_MAC})")


@dataclass(frozen=True)
class SignedClaims:
    """What a verified token says: its fields (as written, in order) and its expiry (aware UTC)."""

    fields: tuple[str, ...]
    expires_at: datetime


def derive_secret(signing_key: str | bytes, label: bytes) -> bytes:
    """A purpose's signing secret: HMAC-SHA256(signing key, the purpose's label)."""
    key = signing_key.encode("utf-8") if isinstance(signing_key, str) else signing_key
    return hmac.new(key, label, hashlib.sha256).digest()


def expiry_seconds(expires_at: datetime) -> int:
    """``expires_at`` in unix seconds, rounded up: a token never dies before the moment it
    names."""
    return int(-(-expires_at.timestamp() // 1))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class SignedTokens:
    """Issues and verifies the tokens of one :class:`TokenFormat`; ``clock`` gives aware UTC now."""

    def __init__(
        self, token_format: TokenFormat, secret: bytes, clock: Callable[[], datetime]
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"the {token_format.name} secret must be at least {MIN_SECRET_BYTES} bytes"
            )
        self._format = token_format
        self._secret = secret
        self._clock = clock

    def _mac(self, claims_text: str) -> str:
        digest = hmac.new(self._secret, claims_text.encode("ascii"), hashlib.sha256).digest()
        return _b64(digest[:MAC_BYTES])

    def issue(self, fields: Sequence[int | str], expires_at: datetime) -> str:
        """A token carrying ``fields`` (written as given), valid until ``expires_at`` (aware)."""
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        if len(fields) != len(self._format.fields):
            raise ValueError(
                f"a {self._format.name} token has {len(self._format.fields)} fields, "
                f"not {len(fields)}"
            )
        parts = [self._format.version, *(str(field) for field in fields)]
        claims_text = ".".join([*parts, str(expiry_seconds(expires_at))])
        return f"{claims_text}.{self._mac(claims_text)}"

    def verify(self, token: str, *, allow_expired: bool = False) -> SignedClaims:
        """The claims of a genuine token; raises :class:`TokenMalformed`, :class:`TokenForged`
        or (unless ``allow_expired``) :class:`TokenExpired`."""
        match = self._format.pattern.fullmatch(token)
        if match is None:
            raise TokenMalformed(f"not a {self._format.name} token")
        claims_text = token[: match.start("mac") - 1]
        # Compared as text, not decoded bytes: base64's spare bits would otherwise let
        # several spellings of one MAC pass.
        if not hmac.compare_digest(match["mac"], self._mac(claims_text)):
            raise TokenForged(f"the {self._format.name} token's signature does not match")
        expires_at = datetime.fromtimestamp(int(match["expires"]), UTC)
        if not allow_expired and self._clock() >= expires_at:
            raise TokenExpired(expires_at)
        fields = tuple(match[f"f{index}"] for index in range(len(self._format.fields)))
        return SignedClaims(fields=fields, expires_at=expires_at)
