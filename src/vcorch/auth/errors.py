"""Errors of the auth package.

- :class:`AuthenticationFailed`: wrong credentials, unknown or disabled account
  (not told apart).
- :class:`InvalidToken`: a bearer token that is missing, malformed, forged, expired or revoked.
- :class:`TooManyAttempts`: login or self check-in throttled; ``retry_after``
  seconds until the next try.
- :class:`~vcorch.errors.PermissionDenied`: a role or scope refusal (shared root class).
"""

from __future__ import annotations

from vcorch.errors import DomainError


class AuthError(DomainError):
    code = "auth-error"


class AuthenticationFailed(AuthError):
    code = "invalid-credentials"


class InvalidToken(AuthError):
    code = "invalid-token"


class TooManyAttempts(AuthError):
    code = "too-many-attempts"

    def __init__(self, retry_after: int, what: str = "failed logins") -> None:
        super().__init__(f"too many {what}; try again in {retry_after} s")
        self.retry_after = retry_after
