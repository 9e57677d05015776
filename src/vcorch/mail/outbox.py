"""Delivering the mail outbox: claim due messages, send, retry with backoff, give up loudly."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.errors import InvalidInput
from vcorch.mail.errors import MailDeliveryError, MailError
from vcorch.mail.mailer import SmtpSettings, compose, send
from vcorch.mail.models import OutboxMail

log = logging.getLogger("vcorch.mail")


@dataclass(frozen=True)
class OutboxPolicy:
    batch: int = 20
    max_attempts: int = 12
    first_retry: timedelta = timedelta(seconds=30)
    max_retry: timedelta = timedelta(hours=1)


def retry_delay(attempts: int, policy: OutboxPolicy, jitter: float) -> timedelta:
    """Exponential backoff capped at ``max_retry``; ``jitter`` in [0, 1) spreads retries."""
    base: timedelta = min(policy.first_retry * (2 ** max(attempts - 1, 0)), policy.max_retry)
    return base * (1 + 0.2 * jitter)


Sender = Callable[[EmailMessage, SmtpSettings], Awaitable[None]]


class OutboxWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        smtp: SmtpSettings | None,
        clock: Callable[[], datetime],
        *,
        message_id_domain: str,
        policy: OutboxPolicy | None = None,
        sender: Sender = send,
    ) -> None:
        self._sessions = sessions
        self._smtp = smtp
        self._clock = clock
        self._domain = message_id_domain
        self._policy = policy or OutboxPolicy()
        self._send = sender
        self._warned = False

    async def run_once(self) -> int:
        """Deliver what is due; returns how many messages were handed to SMTP."""
        if self._smtp is None:
            if not self._warned:
                log.warning("no SMTP server configured (VCORCH_SMTP_HOST): mail stays queued")
                self._warned = True
            return 0
        now = self._clock()
        async with self._sessions.begin() as session:
            query = (
                select(OutboxMail)
                .where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now)
                .order_by(OutboxMail.id)
                .limit(self._policy.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                # Several processes may run the worker; each message goes to one of them.
                query = query.with_for_update(skip_locked=True)
            due = list((await session.execute(query)).scalars())
            delivered = 0
            for mail in due:
                delivered += await self._deliver(mail, now)
        return delivered

    async def _deliver(self, mail: OutboxMail, now: datetime) -> int:
        assert self._smtp is not None
        mail.attempts += 1
        try:
            message = compose(
                sender=self._smtp.sender,
                to=mail.recipients,
                subject=mail.subject,
                text_body=mail.body,
                calendar=mail.calendar.encode("utf-8") if mail.calendar else None,
                method=mail.method,
                message_id_domain=self._domain,
                date=now,
            )
            await self._send(message, self._smtp)
        except InvalidInput as err:
            mail.status, mail.last_error = "failed", f"refused: {err.detail}"[:500]
            log.error("mail %s can never be sent: %s", mail.id, err.detail)
            return 0
        except MailDeliveryError as err:
            mail.last_error = str(err)[:500]
            if not err.transient or mail.attempts >= self._policy.max_attempts:
                mail.status = "failed"
                log.error(
                    "mail %s failed for good after %s attempt(s): %s", mail.id, mail.attempts, err
                )
            else:
                mail.next_attempt_at = now + retry_delay(
                    mail.attempts,
                    self._policy,
                    random.random(),  # noqa: S311 - jitter, not security
                )
                if mail.attempts == 1:
                    log.warning("mail %s deferred: %s", mail.id, err)
            return 0
        except MailError as err:
            mail.last_error = str(err)[:500]
            mail.next_attempt_at = now + retry_delay(mail.attempts, self._policy, random.random())  # noqa: S311 - jitter, not security
            return 0
        mail.status, mail.sent_at, mail.last_error = "sent", now, None
        return 1

    async def run_forever(
        self, interval: float, before_each: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        while True:
            try:
                if before_each is not None:
                    await before_each()
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The loop must outlive a database hiccup; the next round retries.
                log.exception("mail outbox round failed")
            await asyncio.sleep(interval)
