"""Typed application keys: how handlers reach the objects app.py wired."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vcorch.auth.principal import Principal
from vcorch.auth.service import AuthService
from vcorch.booking.service import BookingService
from vcorch.calendars.feed import CalendarService
from vcorch.config import Settings
from vcorch.mail.outbox import OutboxWorker
from vcorch.monitoring.metrics import Metrics
from vcorch.monitoring.service import MonitoringService
from vcorch.rooms.service import RoomsService

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey[async_sessionmaker[AsyncSession]]("sessions")
PRINCIPAL_RESOLVER = web.AppKey[Callable[[str], Awaitable[Principal]]]("principal_resolver")
AUTH = web.AppKey("auth", AuthService)
ROOMS = web.AppKey("rooms", RoomsService)
BOOKING = web.AppKey("booking", BookingService)
OUTBOX = web.AppKey("outbox", OutboxWorker)
CALENDAR = web.AppKey("calendar", CalendarService)
METRICS = web.AppKey("metrics", Metrics)
MONITORING = web.AppKey("monitoring", MonitoringService)
