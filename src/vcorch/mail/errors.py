"""Errors of the e-mail building blocks (:mod:`vcorch.mail.mailer`).

The tree::

    DomainError
    ├── MailError                   something went wrong with e-mail
    │   └── MailDeliveryError       the SMTP exchange failed; ``transient`` says whether a
    │       │                       later retry may succeed (outage, timeout, 4xx) or not
    │       │                       (5xx such as 550 unknown user, refused credentials)
    │       └── PartialDelivery     some recipients got the message, others were refused
    └── InvalidInput
        └── InvalidMailField        a subject, address or name is refused before anything is
                                    sent (header injection, malformed address); the
                                    FieldProblem names the field

No error text ever contains the SMTP password: reasons are built from SMTP codes and the
server's own reply, and the mailer scrubs the password from those too.
"""

from __future__ import annotations

from collections.abc import Mapping

from vcorch.errors import DomainError, FieldProblem, InvalidInput


class MailError(DomainError):
    """Base of the e-mail errors that are not about the caller's input."""

    code = "mail-error"


class InvalidMailField(InvalidInput):
    """A header field would be unsafe or malformed; nothing was sent."""

    code = "invalid-mail-field"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(
            f"e-mail field {field!r} refused: {reason}",
            problems=[FieldProblem(field, reason)],
        )
        self.field = field
        self.reason = reason


class MailDeliveryError(MailError):
    """The SMTP server could not be reached or did not take the message.

    ``smtp_code`` is the server's reply code when there was one (None for a connection
    failure or a timeout).
    """

    code = "mail-delivery-failed"

    def __init__(self, reason: str, *, transient: bool, smtp_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.smtp_code = smtp_code

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.reason!r}, transient={self.transient}, "
            f"smtp_code={self.smtp_code})"
        )


class PartialDelivery(MailDeliveryError):
    """The server took the message for some recipients and refused ``refused`` (address → code).

    Retrying the whole message would deliver it twice to the others; send one message per
    recipient to avoid this case altogether.  ``transient`` is true when every refusal was
    a 4xx.
    """

    code = "mail-partially-delivered"

    def __init__(self, reason: str, *, refused: Mapping[str, int]) -> None:
        transient = all(400 <= code < 500 for code in refused.values())
        super().__init__(reason, transient=transient)
        self.refused = dict(refused)
