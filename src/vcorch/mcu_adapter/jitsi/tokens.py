"""Jitsi Meet room tokens: JWTs signed with the app secret (HS256), as prosody's
``mod_auth_token`` checks them (``aud`` and ``iss`` = app id, ``sub`` = the XMPP domain or
``*``, ``room`` = the room name, ``exp``, and ``context.user`` shown to the others)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime

import jwt
from jwt.warnings import InsecureKeyLengthWarning


@dataclass(frozen=True)
class RoomUser:
    user_id: str
    name: str
    email: str | None = None


def room_token(
    *,
    secret: str,
    app_id: str,
    subject: str,
    room: str,
    user: RoomUser,
    expires_at: datetime,
    not_before: datetime | None = None,
) -> str:
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be an aware datetime")
    claims: dict[str, object] = {
        "aud": app_id,
        "iss": app_id,
        "sub": subject,
        "room": room,
        "exp": int(expires_at.timestamp()),
        "context": {
            "user": {
                key: value
                for key, value in (("id", user.user_id), ("name", user.name), ("email", user.email))
                if value is not None
            }
        },
    }
    if not_before is not None:
        claims["nbf"] = int(not_before.timestamp())
    with warnings.catch_warnings():
        # Short app secrets are common in Jitsi installs; the adapter warns once at start.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm="HS256")


def secret_is_short(secret: str) -> bool:
    """RFC 7518 §3.2: an HS256 key should have at least 256 bits."""
    return len(secret.encode("utf-8")) < 32
