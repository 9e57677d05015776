"""Signed self check-in links for one occurrence of a meeting (shown at a site as a QR code).

A link is ``{public_url}/checkin/{token}``; the token is the credential, so it is signed and
expires (by default some time after the occurrence ends)::

    1.<meeting_id>.<occurrence key, unix seconds>.<room_id or 0>.<expires unix seconds>.<mac>

``mac`` is the first 16 bytes of HMAC-SHA256 over the rest, unpadded base64url.  The secret is
derived from the service's signing key (``auth.service.signing_key``: configured, or made once
and kept in the database) with a label of its own, so a check-in token never passes for an
API token or a join link, nor the reverse.  Tokens are not stored; rotating the signing key
revokes them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import segno

from vcorch.errors import DomainError

FORMAT_VERSION = "1"
MAC_BYTES = 16
SECRET_LABEL = b"vcorch attendance check-in v1"
_TOKEN = re.compile(
    r"(?P<version>1)\.(?P<meeting>[1-9][0-9]{0,17})\.(?P<occurrence>[0-9]{1,12})"
    r"\.(?P<room>0|[1-9][0-9]{0,17})\.(?P<expires>[0-9]{1,12})\.(?P<mac>[A-Za-z0-9_-]{22})"
)


class CheckInLinkError(DomainError):
    code = "checkin-link"


class CheckInLinkExpired(CheckInLinkError):
    """Genuine, but past its expiry."""

    code = "checkin-link-expired"


class CheckInLinkInvalid(CheckInLinkError):
    """Malformed, altered, or signed by another key."""

    code = "checkin-link-invalid"


@dataclass(frozen=True)
class CheckInClaims:
    meeting_id: int
    occurrence_key: datetime
    room_id: int | None
    expires_at: datetime


def derive_secret(signing_key: str | bytes) -> bytes:
    key = signing_key.encode("utf-8") if isinstance(signing_key, str) else signing_key
    return hmac.new(key, SECRET_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class CheckInLinks:
    def __init__(self, secret: bytes, public_url: str, clock: Callable[[], datetime]) -> None:
        if len(secret) < 16:
            raise ValueError("the check-in secret must be at least 16 bytes")
        self._secret = secret
        self._base = public_url.rstrip("/")
        self._clock = clock

    def _mac(self, claims_text: str) -> str:
        digest = hmac.new(self._secret, claims_text.encode("ascii"), hashlib.sha256).digest()
        return _b64(digest[:MAC_BYTES])

    def issue(
        self, meeting_id: int, occurrence_key: datetime, room_id: int | None, expires_at: datetime
    ) -> str:
        if expires_at.tzinfo is None or occurrence_key.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        expires = int(-(-expires_at.timestamp() // 1))
        occurrence = int(occurrence_key.timestamp())
        claims_text = f"{FORMAT_VERSION}.{meeting_id}.{occurrence}.{room_id or 0}.{expires}"
        return f"{claims_text}.{self._mac(claims_text)}"

    def url(self, token: str) -> str:
        return f"{self._base}/checkin/{token}"

    def verify(self, token: str) -> CheckInClaims:
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise CheckInLinkInvalid("this is not a check-in link of this service")
        claims_text = token[: match.start("mac") - 1]
        # Compared as text: base64's spare bits would otherwise let two spellings pass.
        if not hmac.compare_digest(match["mac"], self._mac(claims_text)):
            raise CheckInLinkInvalid("the link was altered or was not issued by this service")
        expires_at = datetime.fromtimestamp(int(match["expires"]), UTC)
        if self._clock() >= expires_at:
            raise CheckInLinkExpired("the check-in link has expired")
        room = int(match["room"])
        return CheckInClaims(
            meeting_id=int(match["meeting"]),
            occurrence_key=datetime.fromtimestamp(int(match["occurrence"]), UTC),
            room_id=room or None,
            expires_at=expires_at,
        )


def qr_svg(data: str) -> str:
    """A QR code of ``data`` as a standalone SVG document (error correction M, as most
    phone cameras read from a screen across a room)."""
    code = segno.make_qr(data, error="m")
    out = io.BytesIO()
    code.save(out, kind="svg", scale=6, border=4, dark="#000", light="#fff", xmldecl=True)
    return out.getvalue().decode("utf-8")
