"""Wires the mail outbox: its SMTP relay (when configured), the delivery loop of every process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from vcorch.config import Settings
from vcorch.mail.mailer import SmtpSettings
from vcorch.mail.outbox import OutboxWorker
from vcorch.runtime import Runtime
from vcorch.web import OUTBOX

__all__ = ["setup", "smtp_settings"]


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    if not settings.smtp_host:
        return None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_sender,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_use_tls,
        timeout_seconds=settings.smtp_timeout_seconds,
    )


def setup(
    runtime: Runtime,
    *,
    message_id_domain: str,
    before_each: Callable[[], Awaitable[object]] | None = None,
) -> OutboxWorker:
    outbox = OutboxWorker(
        runtime.sessions,
        smtp_settings(runtime.settings),
        runtime.clock,
        message_id_domain=message_id_domain,
    )
    runtime.provide(OUTBOX, outbox)
    # Every process delivers: on PostgreSQL rows are claimed with SKIP LOCKED.
    runtime.process_work["mail-outbox"] = lambda: outbox.run_forever(
        runtime.settings.mail_poll_seconds, before_each=before_each
    )
    return outbox
