"""Errors of the WebRTC-to-SIP gateway; the join service translates them for the browser.

- :class:`GatewayUnavailable`: Janus cannot be reached, refused the request, or timed out.
- :class:`GatewayBusy`: the gateway carries its ``max_calls`` already.
- :class:`CallRejected`: the far end (the MCU) refused or ended the call before answering
  (a SIP final response such as 486 Busy Here, 404, 603), with its SIP ``code``.
- :class:`CallTimedOut`: nobody answered within the gateway's ``answer_timeout_seconds``.
- :class:`OfferNotUsable`: Janus' SIP plugin cannot use the browser's SDP offer.

They derive from :class:`~vcorch.errors.VcorchError` directly: none reaches the HTTP edge
(``join`` maps each to a problem of its own).
"""

from __future__ import annotations

from vcorch.errors import VcorchError


class GatewayError(VcorchError):
    """The root: ``gateway`` names the configured gateway, ``reason`` what happened."""

    def __init__(self, gateway: str, reason: str) -> None:
        super().__init__(f"{gateway}: {reason}")
        self.gateway = gateway
        self.reason = reason


class GatewayUnavailable(GatewayError):
    """Janus' HTTP API failed (connection, timeout, 5xx, an error answer of the core)."""


class GatewayBusy(GatewayError):
    """The gateway is at its ``max_calls``."""


class CallRejected(GatewayError):
    """The SIP side refused the call (``code`` is the SIP status, 0 when none was given)."""

    def __init__(self, gateway: str, reason: str, code: int = 0) -> None:
        super().__init__(gateway, reason)
        self.code = code


class CallTimedOut(GatewayError):
    """The call was not answered in time (it has been hung up)."""


class OfferNotUsable(GatewayError):
    """The SIP plugin refused the browser's offer (missing or unusable SDP)."""
