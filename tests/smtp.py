"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass
class Inbox:
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 OK"

    def parsed(self) -> list[tuple[list[str], EmailMessage]]:
        return [
            (to, message_from_bytes(raw, policy=policy.default))  # type: ignore[misc]
            for to, raw in self.messages
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port(), Inbox())
    server.start()
    yield server
    server.stop()


@dataclass
class AuthAttempts:
    """What clients offered to an SMTP server that refuses every login."""

    offered: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        login = getattr(auth_data, "login", b"") or b""
        password = getattr(auth_data, "password", b"") or b""
        self.offered.append((mechanism, bytes(login), bytes(password)))
        return AuthResult(success=False, handled=False)


@dataclass
class RefusingSmtpServer(SmtpServer):
    """An SMTP server that offers AUTH (PLAIN and LOGIN, without TLS) and refuses every
    credential with 535, as a server does when an account's password is wrong."""

    attempts: AuthAttempts = field(default_factory=AuthAttempts)

    def start(self) -> None:
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.attempts,
            auth_require_tls=False,
            auth_required=False,  # offered, not required: vcorch logs in because it has an account
        )
        self.controller.start()


@pytest.fixture
def refusing_smtp() -> Iterator[RefusingSmtpServer]:
    server = RefusingSmtpServer(free_port(), Inbox())
    server.start()
    yield server
    server.stop()
