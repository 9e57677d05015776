"""Signed browser links for one site of one meeting run (the WebRTC fallback).

A link is ``{public_url}/join/{token}``; the token *is* the credential, so it is signed and
expires at the meeting's end.  Its shape is compact and URL-safe, readable but unforgeable::

    1.<run_site_id>.<meeting_id>.<expires unix seconds>.<mac>

``mac`` is the first 16 bytes of HMAC-SHA256(secret, "1.<run_site_id>.<meeting_id>.<expires>")
in unpadded base64url (128 bits: forging one is out of reach; the full 32 bytes would only
make the link longer).  The secret is derived from the service's signing key with a label of
its own (:func:`derive_secret`), so a join token can never pass for an API token or the
reverse.  Links are not stored: revoking them all means rotating the signing key.

Errors: :class:`JoinLinkError` and its two kinds, :class:`LinkExpired` (410 at the HTTP
edge) and :class:`LinkInvalid` (403: malformed, forged, or signed with another key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from vcorch.errors import DomainError

FORMAT_VERSION = "1"
MAC_BYTES = 16
SECRET_LABEL = b"vcorch join-links v1"
# Ids are database integers; 18 digits keep them below 2^63 and the token short.
_TOKEN = re.compile(
    r"(?P<version>1)\.(?P<site>[1-9][0-9]{0,17})\.(?P<meeting>[1-9][0-9]{0,17})"
    r"\.(?P<expires>[0-9]{1,12})\.(?P<mac>[A-Za-z0-9_-]{22})"
)


class JoinLinkError(DomainError):
    """A join link cannot be used. Subclasses say why; ``detail`` never repeats the token."""

    code = "join-link"


class LinkExpired(JoinLinkError):
    """The link was genuine but its meeting has ended (its expiry is past)."""

    code = "link-expired"


class LinkInvalid(JoinLinkError):
    """The link is malformed, altered or was not signed by this service."""

    code = "link-invalid"


@dataclass(frozen=True)
class JoinClaims:
    """What a verified link says: which run site, of which meeting, until when (aware UTC)."""

    run_site_id: int
    meeting_id: int
    expires_at: datetime


def derive_secret(signing_key: str | bytes) -> bytes:
    """The link-signing secret: HMAC-SHA256(signing key, a label of its own)."""
    key = signing_key.encode("utf-8") if isinstance(signing_key, str) else signing_key
    return hmac.new(key, SECRET_LABEL, hashlib.sha256).digest()


def join_url(public_url: str, token: str) -> str:
    """The link as people receive it: ``{public_url}/join/{token}``."""
    return f"{public_url.rstrip('/')}/join/{token}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class JoinLinks:
    """Issues and verifies join tokens; ``clock`` gives aware UTC now."""

    def __init__(self, secret: bytes, clock: Callable[[], datetime]) -> None:
        if len(secret) < 16:
            raise ValueError("the join-link secret must be at least 16 bytes")
        self._secret = secret
        self._clock = clock

    def _mac(self, claims_text: str) -> str:
        digest = hmac.new(self._secret, claims_text.encode("ascii"), hashlib.sha256).digest()
        return _b64(digest[:MAC_BYTES])

    def issue(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str:
        """A token for ``run_site_id`` of ``meeting_id`` valid until ``expires_at`` (aware)."""
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        if run_site_id <= 0 or meeting_id <= 0:
            raise ValueError("ids must be positive")
        # Rounded up so that a link never dies before the moment it names.
        expires = int(-(-expires_at.timestamp() // 1))
        claims_text = f"{FORMAT_VERSION}.{run_site_id}.{meeting_id}.{expires}"
        return f"{claims_text}.{self._mac(claims_text)}"

    def verify(self, token: str, *, allow_expired: bool = False) -> JoinClaims:
        """The claims of a genuine, unexpired token; raises :class:`LinkInvalid` or
        :class:`LinkExpired`.  ``allow_expired`` is for leaving a call after the end."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise LinkInvalid("this is not a join link of this service")
        claims_text = token[: match.start("mac") - 1]
        # Compared as text, not decoded bytes: base64's spare bits would otherwise let
        # several spellings of one MAC pass.
        if not hmac.compare_digest(match["mac"], self._mac(claims_text)):
            raise LinkInvalid("the link was altered or was not issued by this service")
        expires_at = datetime.fromtimestamp(int(match["expires"]), UTC)
        if not allow_expired and self._clock() >= expires_at:
            raise LinkExpired("the link expired when its meeting ended")
        return JoinClaims(
            run_site_id=int(match["site"]),
            meeting_id=int(match["meeting"]),
            expires_at=expires_at,
        )
