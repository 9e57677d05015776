"""Wires the calendars: invitations on every booking change, reminders, the .ics feeds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlsplit

from vcorch.booking import BookingPolicy, BookingService
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


class Calendars:
    """What the calendars give the rest of the service: the feeds, the mail policy, reminders."""

    def __init__(
        self, feeds: CalendarService, policy: MailPolicy, reminders: Callable[[], Awaitable[int]]
    ):
        self.feeds = feeds
        self.policy = policy
        self.queue_reminders = reminders


def setup(
    runtime: Runtime,
    *,
    booking: BookingService,
    booking_policy: BookingPolicy,
) -> Calendars:
    policy = mail_policy(runtime.settings)
    booking.add_listener(InvitationListener(policy, runtime.clock))
    feeds = CalendarService(runtime.sessions, booking, policy, runtime.clock)
    runtime.provide(CALENDAR, feeds)

    async def reminders() -> int:
        return await queue_reminders(runtime.sessions, policy, booking_policy, runtime.clock())

    return Calendars(feeds, policy, reminders)
