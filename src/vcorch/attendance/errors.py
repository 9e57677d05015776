"""Errors of the attendance package (the HTTP statuses are in ``docs/errors.md``).

- :class:`CheckInLinkError`: a self check-in link cannot be used; :class:`CheckInLinkExpired`
  (genuine, but past its expiry) or :class:`CheckInLinkInvalid` (malformed, altered, or signed
  with another key).
- Other refusals use the shared roots of :mod:`vcorch.errors` (``NotFound``, ``InvalidInput``,
  ``Conflict``, ``PermissionDenied``).
"""

from __future__ import annotations

from vcorch.errors import DomainError


class CheckInLinkError(DomainError):
    code = "checkin-link"


class CheckInLinkExpired(CheckInLinkError):
    """Genuine, but past its expiry."""

    code = "checkin-link-expired"


class CheckInLinkInvalid(CheckInLinkError):
    """Malformed, altered, or signed by another key."""

    code = "checkin-link-invalid"
