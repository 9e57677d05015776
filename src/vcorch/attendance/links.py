"""Signed self check-in links for one occurrence of a meeting (shown at a site as a QR code).

A link is ``{public_url}/checkin/{token}``; the token is the credential, so it is signed and
expires (by default some time after the occurrence ends)::

    1.<meeting_id>.<occurrence key, unix seconds>.<room_id or 0>.<expires unix seconds>.<mac>

The scheme (the ``mac``, the expiry, the checks) is :mod:`vcorch.signing`'s.  The secret is
derived from the service's signing key (``auth.service.signing_key``: configured, or made once
and kept in the database) with a label of its own, so a check-in token never passes for an
API token or a join link, nor the reverse.  Tokens are not stored; rotating the signing key
revokes them all.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import segno

from vcorch import signing
from vcorch.attendance.errors import CheckInLinkError, CheckInLinkExpired, CheckInLinkInvalid

__all__ = [
    "SECRET_LABEL",
    "TOKEN_FORMAT",
    "CheckInClaims",
    "CheckInLinkError",
    "CheckInLinkExpired",
    "CheckInLinkInvalid",
    "CheckInLinks",
    "derive_secret",
    "qr_svg",
]

SECRET_LABEL = b"vcorch attendance check-in v1"
TOKEN_FORMAT = signing.TokenFormat(
    name="check-in",
    label=SECRET_LABEL,
    # meeting, occurrence key (unix seconds), room (0: the whole meeting)
    fields=(signing.POSITIVE_ID, signing.UNIX_SECONDS, signing.OPTIONAL_ID),
)


@dataclass(frozen=True)
class CheckInClaims:
    meeting_id: int
    occurrence_key: datetime
    room_id: int | None
    expires_at: datetime


def derive_secret(signing_key: str | bytes) -> bytes:
    return signing.derive_secret(signing_key, SECRET_LABEL)


class CheckInLinks:
    def __init__(self, secret: bytes, public_url: str, clock: Callable[[], datetime]) -> None:
        self._tokens = signing.SignedTokens(TOKEN_FORMAT, secret, clock)
        self._base = public_url.rstrip("/")

    def issue(
        self, meeting_id: int, occurrence_key: datetime, room_id: int | None, expires_at: datetime
    ) -> str:
        if expires_at.tzinfo is None or occurrence_key.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        occurrence = int(occurrence_key.timestamp())
        return self._tokens.issue((meeting_id, occurrence, room_id or 0), expires_at)

    def url(self, token: str) -> str:
        return f"{self._base}/checkin/{token}"

    def verify(self, token: str) -> CheckInClaims:
        try:
            claims = self._tokens.verify(token)
        except signing.TokenMalformed as err:
            raise CheckInLinkInvalid("this is not a check-in link of this service") from err
        except signing.TokenForged as err:
            raise CheckInLinkInvalid(
                "the link was altered or was not issued by this service"
            ) from err
        except signing.TokenExpired as err:
            raise CheckInLinkExpired("the check-in link has expired") from err
        meeting, occurrence, room = claims.fields
        return CheckInClaims(
            meeting_id=int(meeting),
            occurrence_key=datetime.fromtimestamp(int(occurrence), UTC),
            room_id=int(room) or None,
            expires_at=claims.expires_at,
        )


def qr_svg(data: str) -> str:
    """A QR code of ``data`` as a standalone SVG document (error correction M, as most
    phone cameras read from a screen across a room)."""
    code = segno.make_qr(data, error="m")
    out = io.BytesIO()
    code.save(out, kind="svg", scale=6, border=4, dark="#000", light="#fff", xmldecl=True)
    return out.getvalue().decode("utf-8")
