"""Signed browser links for one site of one meeting run (the WebRTC fallback).

A link is ``{public_url}/join/{token}``; the token *is* the credential, so it is signed and
expires at the meeting's end.  Its shape is compact and URL-safe, readable but unforgeable
(the scheme is :mod:`vcorch.signing`'s)::

    1.<run_site_id>.<meeting_id>.<expires unix seconds>.<mac>

The secret is derived from the service's signing key with a label of its own
(:func:`derive_secret`), so a join token can never pass for an API token or the reverse.
Links are not stored: revoking them all means rotating the signing key.

Errors: :class:`~vcorch.join.errors.JoinLinkError` and its two kinds,
:class:`~vcorch.join.errors.LinkExpired` (410 at the HTTP edge) and
:class:`~vcorch.join.errors.LinkInvalid` (403: malformed, forged, or signed with another key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vcorch import signing
from vcorch.join.errors import JoinLinkError, LinkExpired, LinkInvalid

__all__ = [
    "SECRET_LABEL",
    "TOKEN_FORMAT",
    "JoinClaims",
    "JoinLinkError",
    "JoinLinks",
    "LinkExpired",
    "LinkInvalid",
    "derive_secret",
    "join_url",
]

SECRET_LABEL = b"vcorch join-links v1"
TOKEN_FORMAT = signing.TokenFormat(
    name="join-link",
    label=SECRET_LABEL,
    fields=(signing.POSITIVE_ID, signing.POSITIVE_ID),  # run site, meeting
)


@dataclass(frozen=True)
class JoinClaims:
    """What a verified link says: which run site, of which meeting, until when (aware UTC)."""

    run_site_id: int
    meeting_id: int
    expires_at: datetime


def derive_secret(signing_key: str | bytes) -> bytes:
    """The link-signing secret: HMAC-SHA256(signing key, a label of its own)."""
    return signing.derive_secret(signing_key, SECRET_LABEL)


def join_url(public_url: str, token: str) -> str:
    """The link as people receive it: ``{public_url}/join/{token}``."""
    return f"{public_url.rstrip('/')}/join/{token}"


class JoinLinks:
    """Issues and verifies join tokens; ``clock`` gives aware UTC now."""

    def __init__(self, secret: bytes, clock: Callable[[], datetime]) -> None:
        self._tokens = signing.SignedTokens(TOKEN_FORMAT, secret, clock)

    def issue(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str:
        """A token for ``run_site_id`` of ``meeting_id`` valid until ``expires_at`` (aware)."""
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        if run_site_id <= 0 or meeting_id <= 0:
            raise ValueError("ids must be positive")
        return self._tokens.issue((run_site_id, meeting_id), expires_at)

    def verify(self, token: str, *, allow_expired: bool = False) -> JoinClaims:
        """The claims of a genuine, unexpired token; raises :class:`LinkInvalid` or
        :class:`LinkExpired`.  ``allow_expired`` is for leaving a call after the end."""
        try:
            claims = self._tokens.verify(token, allow_expired=allow_expired)
        except signing.TokenMalformed as err:
            raise LinkInvalid("this is not a join link of this service") from err
        except signing.TokenForged as err:
            raise LinkInvalid("the link was altered or was not issued by this service") from err
        except signing.TokenExpired as err:
            raise LinkExpired("the link expired when its meeting ended") from err
        site, meeting = claims.fields
        return JoinClaims(
            run_site_id=int(site), meeting_id=int(meeting), expires_at=claims.expires_at
        )
