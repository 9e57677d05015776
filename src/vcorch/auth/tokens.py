"""Expiring bearer tokens (JWT, HS256) and their validation."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from vcorch.auth.errors import InvalidToken

ISSUER = "vcorch"
AUDIENCE = "vcorch-api"


@dataclass(frozen=True)
class TokenClaims:
    kind: str
    subject_id: int
    token_version: int
    jti: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


# Tokens issued by a sibling process whose clock runs slightly ahead are still accepted.
IAT_LEEWAY_SECONDS = 60


class TokenService:
    def __init__(self, key: str, ttl_seconds: int, clock: Callable[[], datetime]) -> None:
        self._key = key
        self._ttl = ttl_seconds
        self._clock = clock

    def issue(self, kind: str, subject_id: int, token_version: int) -> IssuedToken:
        now = self._clock()
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"{kind}:{subject_id}",
            "tv": token_version,
            "jti": secrets.token_hex(16),
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self._ttl)).timestamp()),
        }
        return IssuedToken(jwt.encode(claims, self._key, algorithm="HS256"), self._ttl)

    def decode(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Expiry and issue time are checked below against our clock (which tests
                # can move), not the library's wall clock.
                options={
                    "require": ["exp", "iat", "sub", "jti"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as err:
            raise InvalidToken("the token is not valid") from err
        try:
            kind, raw_id = str(claims["sub"]).split(":", 1)
            subject_id = int(raw_id)
            version = int(claims.get("tv", 0))
        except (ValueError, TypeError) as err:
            raise InvalidToken("the token is not valid") from err
        now = self._clock().timestamp()
        if int(claims["exp"]) <= now:
            raise InvalidToken("the token has expired")
        if int(claims["iat"]) > now + IAT_LEEWAY_SECONDS:
            raise InvalidToken("the token is not valid yet")
        if kind not in ("user", "client"):
            raise InvalidToken("the token is not valid")
        expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=self._clock().tzinfo)
        return TokenClaims(kind, subject_id, version, str(claims["jti"]), expires_at)
