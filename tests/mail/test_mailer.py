"""Invitation e-mails through a real SMTP server (aiosmtpd on 127.0.0.1), read back by a parser.

Servers: a recording one (answers 550 or 451 for chosen recipients), one requiring
AUTH LOGIN/PLAIN over plain text (test only: ``auth_require_tls=False``), a closed port
(SMTP down) and a listener that accepts connections but never speaks (SMTP hung).
"""

from __future__ import annotations

import email
import email.policy
import socket
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from vcorch.calendars.ical import IcsAttendee, IcsEvent, Method, build_calendar
from vcorch.errors import InvalidInput
from vcorch.mail.errors import (
    InvalidMailField,
    MailDeliveryError,
    MailError,
    PartialDelivery,
)
from vcorch.mail.mailer import SmtpSettings, compose, send

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
SENDER = "Hệ thống vcorch <no-reply@vcorch.example.vn>"
SUBJECT = "Mời họp: Hội nghị trực tuyến sơ kết Chương trình — tỉnh Lào Cai"
# The moment every composed message says it leaves (the Date header).
SENT = datetime(2025, 4, 2, 1, 30, tzinfo=UTC)
USER = "vcorch"
PASSWORD = "mật-khẩu-rất-bí-mật-42"
UNKNOWN = "khong-ton-tai@example.vn"
BUSY = "hop-thu-day@example.vn"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Recorder:
    """An aiosmtpd handler keeping what it accepted; refuses chosen recipients."""

    refusals: dict[str, str] = field(default_factory=dict)
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - the hook name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.refusals.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - the hook name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.mechanisms.append(mechanism)
        if (
            isinstance(data, LoginPassword)
            and data.login == USER.encode()
            and data.password == PASSWORD.encode()
        ):
            return AuthResult(success=True)
        # A careless server echoing what it got: the error text must still not show it.
        echoed = data.password.decode() if isinstance(data, LoginPassword) else "?"
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad password {echoed}")


@dataclass
class Server:
    recorder: Recorder
    port: int
    mechanism: str | None = None

    def settings(self, **changes: Any) -> SmtpSettings:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "sender": SENDER,
            "timeout_seconds": 5.0,
        }
        values.update(changes)
        return SmtpSettings(**values)


def _run(recorder: Recorder, mechanism: str | None = None, **smtp_options: Any) -> Iterator[Server]:
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield Server(recorder, port, mechanism)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    recorder = Recorder(
        refusals={
            UNKNOWN: "550 5.1.1 <khong-ton-tai@example.vn>: user unknown",
            BUSY: "451 4.2.0 mailbox busy, try later",
        }
    )
    yield from _run(recorder)


@pytest.fixture(params=["PLAIN", "LOGIN"])
def auth_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    recorder = Recorder()
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[request.param]
    yield from _run(
        recorder,
        request.param,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=[other],
        authenticator=recorder.authenticate,
    )


def meeting(sequence: int = 0) -> IcsEvent:
    start = datetime(2025, 4, 10, 8, tzinfo=HCM)
    return IcsEvent(
        uid="meeting-42@vcorch.example.vn",
        sequence=sequence,
        summary="Hội nghị trực tuyến sơ kết Chương trình",
        start=start,
        end=start + timedelta(hours=3),
        zone="Asia/Ho_Chi_Minh",
        last_modified=datetime(2025, 4, 1, 2, tzinfo=UTC) + timedelta(minutes=sequence),
        organizer_email="no-reply@vcorch.example.vn",
        organizer_name="Hệ thống vcorch",
        attendees=(IcsAttendee(email="lao-cai@example.vn", name="Sở Dân tộc tỉnh Lào Cai"),),
    )


def invitation(
    to: list[str], *, method: Method = "REQUEST", sequence: int = 0, subject: str = SUBJECT
) -> EmailMessage:
    return compose(
        sender=SENDER,
        to=to,
        subject=subject,
        text_body="Kính gửi Sở Dân tộc tỉnh Lào Cai,\nmời tham dự hội nghị.",
        html_body="<p>Kính gửi <b>Sở Dân tộc tỉnh Lào Cai</b></p>",
        calendar=build_calendar([meeting(sequence)], method=method),
        method=method,
        message_id_domain="vcorch.example.vn",
        date=SENT,
    )


def read(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize(("method", "sequence"), [("REQUEST", 0), ("CANCEL", 1)])
async def test_invitation_arrives_and_calendar_clients_can_read_it(
    smtp_server: Server, method: Method, sequence: int
) -> None:
    to = ["Nguyễn Văn An <lao-cai@example.vn>", "bat-xat@example.vn"]
    await send(invitation(to, method=method, sequence=sequence), smtp_server.settings())

    [(mail_from, rcpt_tos, raw)] = smtp_server.recorder.received
    assert raw.isascii()  # 7-bit clean: any relay passes it unchanged
    assert mail_from == "no-reply@vcorch.example.vn"
    assert sorted(rcpt_tos) == ["bat-xat@example.vn", "lao-cai@example.vn"]
    received = read(raw)
    assert received["Subject"] == SUBJECT
    assert received["From"].addresses[0].display_name == "Hệ thống vcorch"
    assert [a.display_name for a in received["To"].addresses] == ["Nguyễn Văn An", ""]
    assert received.get_content_type() == "multipart/mixed"
    plain = received.get_body(("plain",))
    assert plain is not None and "Sở Dân tộc tỉnh Lào Cai" in plain.get_content()
    html = received.get_body(("html",))
    assert html is not None and "<b>Sở Dân tộc tỉnh Lào Cai</b>" in html.get_content()

    inline = [part for part in received.walk() if part.get_content_type() == "text/calendar"]
    [attachment] = [part for part in received.walk() if part.get_filename() == "invite.ics"]
    [part] = inline
    assert part.get_param("method") == method
    assert str(part.get_param("charset")).upper() == "UTF-8"
    assert part.get_content_disposition() is None  # inline alternative, not an attachment
    assert attachment.get_content_disposition() == "attachment"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert attachment.get_payload(decode=True) == payload
    assert b"\r\n" in payload

    calendar = Calendar.from_ical(payload)
    assert str(calendar["METHOD"]) == method
    [vevent] = calendar.events
    booked = meeting(sequence)
    assert str(vevent["UID"]) == booked.uid
    assert int(vevent["SEQUENCE"]) == sequence
    assert vevent["DTSTART"].dt == booked.start
    assert vevent["DTEND"].dt == booked.end
    assert vevent["DTSTART"].params["TZID"] == "Asia/Ho_Chi_Minh"
    assert str(vevent["SUMMARY"]) == booked.summary
    assert str(vevent["STATUS"]) == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")


async def test_plain_message_without_calendar_is_delivered(smtp_server: Server) -> None:
    message = compose(
        sender=SENDER,
        to=["lao-cai@example.vn"],
        subject="Nhắc lịch: họp sau 1 giờ",
        text_body="Cuộc họp bắt đầu lúc 08:00.",
        message_id_domain="vcorch.example.vn",
        date=SENT,
    )
    await send(message, smtp_server.settings())
    [(_, _, raw)] = smtp_server.recorder.received
    received = read(raw)
    assert received.get_content_type() == "text/plain"
    assert received["Subject"] == "Nhắc lịch: họp sau 1 giờ"
    # The caller's time, not the wall's: a message sent from a fake clock says so.
    assert received["Date"].datetime == SENT


# aiosmtpd warns about AUTH without TLS; plain text is what this local test server is for.
PLAIN_TEXT_AUTH = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)


@PLAIN_TEXT_AUTH
async def test_authenticated_delivery_without_tls(auth_server: Server) -> None:
    settings = auth_server.settings(username=USER, password=PASSWORD)
    await send(invitation(["lao-cai@example.vn"]), settings)
    assert len(auth_server.recorder.received) == 1
    assert auth_server.recorder.mechanisms == [auth_server.mechanism]


@PLAIN_TEXT_AUTH
async def test_wrong_password_is_permanent_and_never_shown(auth_server: Server) -> None:
    settings = auth_server.settings(username=USER, password=PASSWORD + "-sai")
    with pytest.raises(MailDeliveryError) as caught:
        await send(invitation(["lao-cai@example.vn"]), settings)
    error = caught.value
    assert not error.transient
    assert error.smtp_code == 535
    assert "535" in str(error)
    for text in (str(error), repr(error), error.reason, str(settings), repr(settings)):
        assert PASSWORD not in text
    assert auth_server.recorder.received == []


async def test_unknown_recipient_550_is_permanent(smtp_server: Server) -> None:
    with pytest.raises(MailDeliveryError) as caught:
        await send(invitation([UNKNOWN]), smtp_server.settings())
    assert caught.value.transient is False
    assert caught.value.smtp_code == 550
    assert "550" in str(caught.value)
    assert isinstance(caught.value, MailError)
    assert smtp_server.recorder.received == []


async def test_temporary_refusal_4xx_is_transient(smtp_server: Server) -> None:
    with pytest.raises(MailDeliveryError) as caught:
        await send(invitation([BUSY]), smtp_server.settings())
    assert caught.value.transient is True
    assert caught.value.smtp_code == 451


async def test_some_recipients_refused_is_reported_with_who(smtp_server: Server) -> None:
    with pytest.raises(PartialDelivery) as caught:
        await send(invitation(["lao-cai@example.vn", UNKNOWN]), smtp_server.settings())
    assert caught.value.refused == {UNKNOWN: 550}
    assert caught.value.transient is False
    [(_, rcpt_tos, _)] = smtp_server.recorder.received
    assert rcpt_tos == ["lao-cai@example.vn"]


async def test_smtp_down_is_transient_and_quick() -> None:
    port = free_port()  # nothing listens there any more
    settings = SmtpSettings(host="127.0.0.1", port=port, sender=SENDER, timeout_seconds=5.0)
    started = time.monotonic()
    with pytest.raises(MailDeliveryError) as caught:
        await send(invitation(["lao-cai@example.vn"]), settings)
    assert caught.value.transient is True
    assert caught.value.smtp_code is None
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert time.monotonic() - started < 5.0


async def test_silent_server_times_out_as_transient_within_the_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # the kernel accepts; nobody ever sends the 220 greeting
        port = listener.getsockname()[1]
        settings = SmtpSettings(host="127.0.0.1", port=port, sender=SENDER, timeout_seconds=0.5)
        started = time.monotonic()
        with pytest.raises(MailDeliveryError) as caught:
            await send(invitation(["lao-cai@example.vn"]), settings)
        elapsed = time.monotonic() - started
    assert caught.value.transient is True
    assert "0.5 s" in str(caught.value)
    assert 0.4 < elapsed < 2.0


INJECTIONS = [
    pytest.param({"subject": "Mời họp\r\nBcc: spy@evil.example"}, "subject", id="subject-crlf-bcc"),
    pytest.param({"subject": "Mời họp\nBcc: spy@evil.example"}, "subject", id="subject-lf"),
    pytest.param({"subject": "Mời họp\rX: y"}, "subject", id="subject-cr"),
    pytest.param({"subject": "Mời\x00họp"}, "subject", id="subject-nul"),
    pytest.param({"subject": "Mời\u2028họp"}, "subject", id="subject-line-separator"),
    pytest.param({"sender": "vcorch\r\nBcc: spy@evil.example <a@vcorch.vn>"}, "sender", id="from"),
    pytest.param(
        {"to": ["Nguyễn Văn\nBcc: spy@evil.example <lao-cai@example.vn>"]},
        "to[0]",
        id="display-name-newline",
    ),
    pytest.param({"to": ["lao-cai@example.vn\x00"]}, "to[0]", id="address-nul"),
    pytest.param(
        {"to": ["lao-cai@example.vn", "bat-xat@example.vn\r\nBcc: spy@evil.example"]},
        "to[1]",
        id="second-address-crlf",
    ),
    pytest.param({"to": ["lao-cai@example.vn, spy@evil.example"]}, "to[0]", id="two-in-one"),
    pytest.param({"to": ["<a@b.vn> <c@d.vn>"]}, "to[0]", id="two-brackets"),
    pytest.param({"to": ["không phải địa chỉ"]}, "to[0]", id="not-an-address"),
    pytest.param({"to": ["người-dùng@example.vn"]}, "to[0]", id="non-ascii-local-part"),
    pytest.param({"to": []}, "to", id="nobody"),
    pytest.param({"text_body": "a\x00b"}, "text_body", id="nul-in-body"),
    pytest.param({"message_id_domain": "x.vn\r\nBcc: a@b.vn"}, "message_id_domain", id="msgid"),
    pytest.param({"method": "CANCEL"}, "method", id="method-disagrees-with-calendar"),
    pytest.param({"method": "REQUEST;X=1"}, "method", id="method-not-a-method"),
    pytest.param({"calendar": None}, "method", id="method-without-calendar"),
]


@pytest.mark.parametrize(("changes", "field"), INJECTIONS)
def test_unsafe_fields_are_refused_with_the_field_named(
    changes: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {
        "sender": SENDER,
        "to": ["lao-cai@example.vn"],
        "subject": SUBJECT,
        "text_body": "Kính gửi",
        "calendar": build_calendar([meeting()], method="REQUEST"),
        "method": "REQUEST",
        "message_id_domain": "vcorch.example.vn",
        "date": SENT,
    }
    arguments.update(changes)
    with pytest.raises(InvalidMailField) as caught:
        compose(**arguments)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.field == field
    assert [problem.field for problem in caught.value.problems] == [field]


async def test_header_lookalikes_without_line_breaks_stay_harmless(smtp_server: Server) -> None:
    tricky_name = '"Bcc: spy@evil.example, x@evil.example"'
    message = compose(
        sender=SENDER,
        to=[f"{tricky_name} <lao-cai@example.vn>"],
        subject="Bcc: spy@evil.example",
        text_body="x",
        message_id_domain="vcorch.example.vn",
        date=SENT,
    )
    await send(message, smtp_server.settings())
    [(_, rcpt_tos, raw)] = smtp_server.recorder.received
    assert rcpt_tos == ["lao-cai@example.vn"]
    received = read(raw)
    assert received["Bcc"] is None
    assert received["Subject"] == "Bcc: spy@evil.example"
    assert [a.addr_spec for a in received["To"].addresses] == ["lao-cai@example.vn"]


def _unsafe_in_a_header(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0 or char in "\u2028\u2029" or 0xD800 <= code < 0xE000


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_any_subject_is_refused_or_survives_as_exactly_one_header(subject: str) -> None:
    def build() -> EmailMessage:
        return compose(
            sender=SENDER,
            to=["lao-cai@example.vn"],
            subject=subject,
            text_body="x",
            message_id_domain="vcorch.example.vn",
            date=SENT,
        )

    if any(_unsafe_in_a_header(char) for char in subject):
        with pytest.raises(InvalidMailField) as caught:
            build()
        assert caught.value.field == "subject"
        return
    received = read(build().as_bytes())
    assert len(received.get_all("Subject") or []) == 1
    assert received["Bcc"] is None
    assert str(received["Subject"]).split() == unicodedata.normalize("NFC", subject).split()


def test_settings_never_show_the_password() -> None:
    settings = SmtpSettings(
        host="smtp.example.vn",
        port=587,
        sender=SENDER,
        username=USER,
        password=PASSWORD,
        starttls=True,
    )
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    assert "smtp.example.vn" in repr(settings)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starttls": True, "use_tls": True}, "use_tls"),
        ({"port": 0}, "port"),
        ({"password": PASSWORD}, "username"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"host": "smtp.example.vn\r\n"}, "host"),
    ],
)
def test_inconsistent_settings_are_refused(changes: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"host": "smtp.example.vn", "port": 25, "sender": SENDER}
    values.update(changes)
    with pytest.raises(InvalidInput) as caught:
        SmtpSettings(**values)
    assert [problem.field for problem in caught.value.problems] == [field]
    assert PASSWORD not in str(caught.value)
