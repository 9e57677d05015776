"""E-mail for meeting notifications: compose a safe message, hand it to an SMTP server.

Two pure-ish building blocks, with no database knowledge: the outbox worker calls
:func:`compose` when a notification is queued and :func:`send` when it is due, and decides
about retries from :attr:`MailDeliveryError.transient`.

Decisions:

- Header injection is impossible by construction: every subject, address and display name
  is refused (:class:`InvalidMailField`) if it holds a control character (CR, LF, NUL...)
  or a Unicode line/paragraph separator, and headers are then built by :mod:`email`'s
  header registry, which encodes non-ASCII text (RFC 2047) and quotes display names.
- Addresses are checked with ``email-validator`` without DNS, and written in their ASCII
  form (IDNA domain) because not every relay supports SMTPUTF8; a non-ASCII local part is
  refused for the same reason.
- The message is 7-bit ASCII on the wire (RFC 2047 headers, quoted-printable text,
  base64 calendar), so no relay needs 8BITMIME or SMTPUTF8.
- An invitation has the shape Gmail and Outlook send and expect::

      multipart/mixed
      ├── multipart/alternative
      │   ├── text/plain; charset=utf-8
      │   ├── text/html; charset=utf-8              (optional)
      │   └── text/calendar; method=REQUEST; charset=UTF-8   (what clients act on)
      └── application/ics; name=invite.ics          (attachment, for clients that ignore
                                                     the inline part)

  The calendar bytes are base64-encoded so their CRLF line ends and folding survive relays.
- :func:`send` bounds every SMTP step by ``timeout_seconds`` and the whole exchange by
  :data:`_WHOLE_EXCHANGE_STEPS` times that; it makes no retry of its own (the outbox
  retries with backoff).
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from vcorch.errors import FieldProblem, InvalidInput
from vcorch.mail.errors import (
    InvalidMailField,
    MailDeliveryError,
    PartialDelivery,
)

CALENDAR_FILENAME = "invite.ics"

_CALENDAR_METHODS = frozenset({"REQUEST", "CANCEL", "PUBLISH"})
# Each SMTP step (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA...) has its own timeout; a
# healthy exchange takes a fraction of one.  This caps the whole exchange, so a server that
# answers every step just before its timeout cannot hold a worker for ever.
_WHOLE_EXCHANGE_STEPS = 6
_NAMED_MAILBOX = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<address>[^<>]*)>\s*$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_SCRUBBED = "***"

# Python 3.11's folder loses the space between two encoded words when it splits a long
# non-ASCII header ("Phòng họp" arrives as "Phònghọp").  Headers up to RFC 5322's 998
# characters are therefore left on one line; bodies wrap by their own encodings (76).
HEADER_POLICY = SMTP.clone(max_line_length=998)


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    """Where and how to hand messages over. ``password`` never appears in repr or str."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    use_tls: bool = False
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        problems: list[FieldProblem] = []
        if not self.host or _unsafe_char(self.host) is not None:
            problems.append(FieldProblem("host", "must be a host name or address"))
        if not 0 < self.port < 65536:
            problems.append(FieldProblem("port", "must be between 1 and 65535"))
        if self.starttls and self.use_tls:
            problems.append(FieldProblem("use_tls", "choose STARTTLS or implicit TLS, not both"))
        if self.password is not None and self.username is None:
            problems.append(FieldProblem("username", "a password needs a user name"))
        if not self.timeout_seconds > 0:
            problems.append(FieldProblem("timeout_seconds", "must be positive"))
        if problems:
            raise InvalidInput("SMTP settings refused", problems=problems)


def compose(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text_body: str,
    html_body: str | None = None,
    calendar: bytes | None = None,
    method: str | None = None,
    message_id_domain: str,
    date: datetime,
) -> EmailMessage:
    """Build one message; raise :class:`InvalidMailField` for anything unsafe.

    ``sender`` and each ``to`` entry are ``"addr@domain"`` or ``"Display Name <addr@domain>"``.
    ``calendar`` is an iCalendar document whose METHOD must equal ``method``.  ``date`` is
    the Date header: the caller's clock says when the message leaves.
    """
    from_address = _mailbox("sender", sender)
    if isinstance(to, str) or not to:
        raise InvalidMailField("to", "needs a list of at least one recipient")
    recipients = tuple(_mailbox(f"to[{index}]", entry) for index, entry in enumerate(to))
    subject = _header_text("subject", subject)
    text_body = _body("text_body", text_body)
    if html_body is not None:
        html_body = _body("html_body", html_body)
    _check_domain(message_id_domain)
    if calendar is not None:
        method = _check_calendar(calendar, method)
    elif method is not None:
        raise InvalidMailField("method", "a method needs a calendar")

    message = EmailMessage(policy=HEADER_POLICY)
    message["From"] = from_address
    message["To"] = recipients
    message["Subject"] = subject
    message["Date"] = format_datetime(date.astimezone(UTC))
    message["Message-ID"] = make_msgid(domain=message_id_domain)
    # RFC 3834: tells vacation responders not to answer a no-reply robot.
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable keeps the whole message 7-bit, so relays without 8BITMIME or
    # SMTPUTF8 pass it unchanged.
    message.set_content(text_body, cte="quoted-printable")
    if html_body is not None:
        message.add_alternative(html_body, subtype="html", cte="quoted-printable")
    if calendar is not None and method is not None:
        message.add_alternative(
            calendar,
            maintype="text",
            subtype="calendar",
            params={"method": method, "charset": "UTF-8"},
        )
        message.add_attachment(
            calendar,
            maintype="application",
            subtype="ics",
            filename=CALENDAR_FILENAME,
            # Older Outlook versions name attachments from Content-Type's name parameter.
            params={"name": CALENDAR_FILENAME},
        )
    return message


async def send(message: EmailMessage, settings: SmtpSettings) -> None:
    """Hand ``message`` to the SMTP server; raise :class:`MailDeliveryError` if it is not taken.

    Envelope sender and recipients come from the From and To/Cc/Bcc headers.
    """
    try:
        async with asyncio.timeout(settings.timeout_seconds * _WHOLE_EXCHANGE_STEPS):
            refused, _reply = await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=settings.password,
                use_tls=settings.use_tls,
                # False, not None: None would let aiosmtplib upgrade on its own, and a
                # configured plain connection should behave the same on every server.
                start_tls=settings.starttls,
                timeout=settings.timeout_seconds,
            )
    except (aiosmtplib.SMTPException, OSError) as err:
        raise _translate(err, settings) from err
    if refused:
        codes = {address: response.code for address, response in refused.items()}
        listing = ", ".join(f"{address} ({code})" for address, code in sorted(codes.items()))
        raise PartialDelivery(
            _scrub(f"some recipients were refused: {listing}", settings), refused=codes
        )


def _translate(err: BaseException, settings: SmtpSettings) -> MailDeliveryError:
    where = f"{settings.host}:{settings.port}"
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in err.recipients]
        detail = "; ".join(
            f"{refusal.recipient}: {refusal.code} {refusal.message}" for refusal in err.recipients
        )
        permanent = [code for code in codes if not _transient_code(code)]
        return MailDeliveryError(
            _scrub(f"every recipient was refused by {where}: {detail}", settings),
            transient=not permanent,
            smtp_code=permanent[0] if permanent else (codes[0] if codes else None),
        )
    if isinstance(err, aiosmtplib.SMTPResponseException):
        what = (
            "authentication refused"
            if isinstance(err, aiosmtplib.SMTPAuthenticationError)
            else "refused"
        )
        return MailDeliveryError(
            _scrub(f"SMTP {err.code} from {where} ({what}): {err.message}", settings),
            transient=_transient_code(err.code),
            smtp_code=err.code,
        )
    if isinstance(err, aiosmtplib.SMTPNotSupported):
        return MailDeliveryError(
            _scrub(f"{where} does not support what the settings ask: {err.message}", settings),
            transient=False,
        )
    if isinstance(err, TimeoutError):
        return MailDeliveryError(
            f"{where} did not answer within {settings.timeout_seconds:g} s", transient=True
        )
    if _certificate_problem(err):
        return MailDeliveryError(
            f"the TLS certificate of {where} was not accepted", transient=False
        )
    return MailDeliveryError(_scrub(f"could not talk to {where}: {err}", settings), transient=True)


def _transient_code(code: int) -> bool:
    """4xx is a temporary refusal (RFC 5321 §4.2.1); anything but 5xx is worth another try."""
    return not 500 <= code < 600


def _certificate_problem(err: BaseException) -> bool:
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _scrub(text: str, settings: SmtpSettings) -> str:
    """Remove the password, also in the base64 forms AUTH PLAIN and LOGIN put on the wire."""
    password = settings.password
    if not password:
        return text
    user = settings.username or ""
    forms = [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
    ]
    for form in forms:
        text = text.replace(form, _SCRUBBED)
    return text


def _mailbox(name: str, value: str) -> Address:
    if not isinstance(value, str):
        raise InvalidMailField(name, "must be text")
    value = _header_text(name, value)
    match = _NAMED_MAILBOX.match(value)
    display, address = (
        ("", value.strip())
        if match is None
        else (
            match["name"],
            match["address"].strip(),
        )
    )
    if len(display) >= 2 and display[0] == display[-1] == '"':
        # A quoted name may hold anything (named_address writes them so): it is only a name.
        unquoted = _unquoted(display[1:-1])
        if unquoted is None:
            raise InvalidMailField(name, "a stray '\"' in the quoted display name")
        display = unquoted
    elif "<" in display or ">" in display:
        raise InvalidMailField(name, "more than one address, or a stray '<' or '>'")
    try:
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as err:
        raise InvalidMailField(name, f"not a usable e-mail address: {err}") from err
    ascii_address = valid.ascii_email
    if ascii_address is None:  # only possible with allow_smtputf8, kept for the type checker
        raise InvalidMailField(name, "needs an ASCII local part")
    local, _, domain = ascii_address.rpartition("@")
    return Address(display_name=display, username=local, domain=domain)


def named_address(display_name: str | None, address: str) -> str:
    """``address`` with ``display_name`` as a quoted string (RFC 5322 §3.2.4), so that no
    character of the name (``< > " , \\``) can be read as part of an address."""
    if not display_name:
        return address
    quoted = display_name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


def _unquoted(text: str) -> str | None:
    """The content of a quoted string; None if an unescaped quote ends it early."""
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return None
        else:
            out.append(char)
    return None if escaped else "".join(out)


def _header_text(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise InvalidMailField(name, "must be text")
    bad = _unsafe_char(value)
    if bad is not None:
        raise InvalidMailField(name, f"contains the control character U+{ord(bad):04X}")
    return unicodedata.normalize("NFC", value)


def _unsafe_char(value: str) -> str | None:
    """The first character that could end a header line or corrupt it, if any."""
    for char in value:
        if unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"}:
            return char
    return None


def _body(name: str, value: str) -> str:
    if not isinstance(value, str):
        raise InvalidMailField(name, "must be text")
    for char in value:
        # NUL is not allowed in SMTP data (RFC 5321 §4.1.4); surrogates cannot be encoded.
        if char == "\0" or unicodedata.category(char) == "Cs":
            raise InvalidMailField(name, f"contains the character U+{ord(char):04X}")
    return unicodedata.normalize("NFC", value)


def _check_domain(domain: str) -> None:
    if not isinstance(domain, str) or not _DOMAIN.match(domain):
        raise InvalidMailField("message_id_domain", "must be an ASCII domain name")


def _check_calendar(calendar: bytes, method: str | None) -> str:
    if method not in _CALENDAR_METHODS:
        raise InvalidMailField("method", "must be REQUEST, CANCEL or PUBLISH")
    try:
        text = calendar.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidMailField("calendar", "must be UTF-8") from err
    # Clients act on the Content-Type method and the document's METHOD; they must agree.
    if f"\r\nMETHOD:{method}\r\n" not in text:
        raise InvalidMailField("method", f"the calendar's METHOD is not {method}")
    return method
