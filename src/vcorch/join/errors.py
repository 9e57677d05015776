"""Errors of the WebRTC fallback's edge (the HTTP statuses are in ``docs/errors.md``).

- :class:`JoinLinkError`: a join link cannot be used; :class:`LinkExpired` (its meeting has
  ended) or :class:`LinkInvalid` (malformed, altered, or signed with another key).
- :class:`MeetingNotLive`: the link's meeting is not being held now.
- :class:`JoinElsewhere`: the link leads to the hosting bridge's own page.
- :class:`BridgeFull`, :class:`BuiltinBridgeMissing`: the built-in bridge cannot take the
  browser (at its cap; not running in this process).
- :class:`OfferRejected`: the browser's SDP offer cannot be answered.
- :class:`GatewayUnavailable`: the WebRTC-to-SIP gateway cannot bring the browser into the
  meeting's conference now (gateway down or full, the MCU refused or did not answer).
"""

from __future__ import annotations

from vcorch.errors import Conflict, DomainError, InvalidInput


class JoinLinkError(DomainError):
    """A join link cannot be used. Subclasses say why; ``detail`` never repeats the token."""

    code = "join-link"


class LinkExpired(JoinLinkError):
    """The link was genuine but its meeting has ended (its expiry is past)."""

    code = "link-expired"


class LinkInvalid(JoinLinkError):
    """The link is malformed, altered or was not signed by this service."""

    code = "link-invalid"


class MeetingNotLive(Conflict):
    """The link's meeting is not being held now (not started yet, ended, or failed)."""

    code = "meeting-not-live"


class JoinElsewhere(Conflict):
    """The link leads to the hosting bridge's own page, not to the built-in bridge."""

    code = "join-elsewhere"


class BridgeFull(DomainError):
    """The built-in bridge is at its participant cap; nobody already in is affected."""

    code = "bridge-full"


class BuiltinBridgeMissing(DomainError):
    """No built-in bridge is loaded in this process (disabled, or it failed to start)."""

    code = "builtin-bridge-missing"


class OfferRejected(InvalidInput):
    """The SDP offer cannot be answered (malformed, no audio...)."""

    code = "invalid-offer"


class GatewayUnavailable(DomainError):
    """The WebRTC-to-SIP gateway could not place the call into the meeting's conference."""

    code = "gateway-unavailable"
