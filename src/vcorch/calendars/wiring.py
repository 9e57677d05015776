"""Wires the calendars: invitations on every booking change, reminders, the .ics feeds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from vcorch.booking import BookingService
from vcorch.calendars.feed import CalendarService
from vcorch.calendars.invitations import InvitationListener, MailPolicy, queue_reminders
from vcorch.calendars.routes import CALENDAR
from vcorch.config import Settings
from vcorch.runtime import Runtime

__all__ = ["Calendars", "mail_policy", "setup"]


def mail_policy(settings: Settings) -> MailPolicy:
    host = urlsplit(settings.public_url).hostname or "vcorch.local"
    return MailPolicy(
        sender=settings.mail_sender,
        public_url=settings.public_url,
        uid_domain=host,
        reminder_offsets=tuple(timedelta(minutes=m) for m in settings.reminder_offsets_minutes),
    )


@dataclass(frozen=True)
class Calendars:
    """What the calendars give the rest of the service: the mail policy and the reminder round
    the outbox runs before each delivery."""

    policy: MailPolicy
    queue_reminders: Callable[[], Awaitable[int]]


def setup(
    runtime: Runtime,
    *,
    booking: BookingService,
) -> Calendars:
    policy = mail_policy(runtime.settings)
    booking.add_listener(InvitationListener(policy, runtime.clock))
    feeds = CalendarService(runtime.sessions, booking, policy, runtime.clock)
    runtime.provide(CALENDAR, feeds)

    async def reminders() -> int:
        return await queue_reminders(runtime.sessions, policy, booking.policy, runtime.clock())

    return Calendars(policy, reminders)
