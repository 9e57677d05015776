"""The one place that wires concrete objects: database, services, routes, background work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.auth.passwords import SecretHasher
from vcorch.auth.routes import routes as auth_routes
from vcorch.auth.service import AuthService, ThrottlePolicy, signing_key
from vcorch.auth.tokens import TokenService
from vcorch.conference.booking import BookingPolicy, BookingService
from vcorch.conference.calendar_feed import CalendarService
from vcorch.conference.events import EventStore
from vcorch.conference.invitations import InvitationListener, MailPolicy, queue_reminders
from vcorch.conference.mailer import SmtpSettings
from vcorch.conference.outbox import OutboxWorker
from vcorch.conference.placement_pool import PortPool
from vcorch.conference.routes import routes as conference_routes
from vcorch.config import BridgeConfig, Settings
from vcorch.db.base import utcnow
from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.mcu_adapter.base import BridgeContext
from vcorch.mcu_adapter.registry import load_bridges, with_default_bridge
from vcorch.mcu_adapter.routes import EVENT_SINK, HEALTH_MAX_AGE, LAST_REFRESH, REGISTRY
from vcorch.mcu_adapter.routes import routes as bridge_routes
from vcorch.rooms.models import Unit
from vcorch.rooms.routes import routes as rooms_routes
from vcorch.rooms.service import RoomsService
from vcorch.web import ops
from vcorch.web.api import ApiRoutes
from vcorch.web.keys import (
    AUTH,
    BOOKING,
    CALENDAR,
    ENGINE,
    OUTBOX,
    PRINCIPAL_RESOLVER,
    ROOMS,
    SESSIONS,
    SETTINGS,
)
from vcorch.web.middleware import problems_middleware
from vcorch.web.openapi import build_openapi

log = logging.getLogger("vcorch")

ROUTE_TABLES: tuple[ApiRoutes, ...] = (auth_routes, rooms_routes, conference_routes, bridge_routes)
BRIDGE_HEALTH_SECONDS = 30.0
CLOCK = web.AppKey[Callable[[], datetime]]("clock")
BACKGROUND = web.AppKey("background", bool)


def mail_policy(settings: Settings) -> MailPolicy:
    host = urlsplit(settings.public_url).hostname or "vcorch.local"
    return MailPolicy(
        sender=settings.mail_sender,
        public_url=settings.public_url,
        uid_domain=host,
        reminder_offsets=tuple(timedelta(minutes=m) for m in settings.reminder_offsets_minutes),
    )


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


def make_hasher(settings: Settings) -> SecretHasher:
    return SecretHasher(settings.password_time_cost, settings.password_memory_kib)


async def _port_pools(
    sessions: async_sessionmaker[AsyncSession], bridges: list[BridgeConfig]
) -> list[PortPool]:
    """The configured bridges as booking counts them; unit codes become subtree paths."""
    async with sessions() as session:
        paths = dict((await session.execute(select(Unit.code, Unit.path))).all())
    pools = []
    for bridge in bridges:
        if not bridge.enabled:
            continue
        unknown = [code for code in bridge.units if code not in paths]
        if unknown:
            log.warning("bridge %s serves unknown units %s; ignoring them", bridge.name, unknown)
        served = tuple(paths[code] for code in bridge.units if code in paths)
        if bridge.units and not served:
            continue
        pools.append(PortPool(bridge.name, bridge.ports, served))
    return pools


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    app[ENGINE] = engine
    app[SESSIONS] = sessions
    clock = app[CLOCK]
    key = await signing_key(
        sessions, settings.secret_key.get_secret_value() if settings.secret_key else None
    )
    auth = AuthService(
        sessions,
        make_hasher(settings),
        TokenService(key, settings.token_ttl_seconds, clock),
        ThrottlePolicy(
            settings.login_max_failures_per_account,
            settings.login_max_failures_per_address,
            timedelta(seconds=settings.login_window_seconds),
        ),
        clock,
    )
    app[AUTH] = auth
    app[PRINCIPAL_RESOLVER] = auth.principal_for
    rooms = RoomsService(sessions)
    app[ROOMS] = rooms
    # With no bridge configured, vcorch runs on its in-process simulated MCU.
    bridge_configs = with_default_bridge(settings.bridges)
    pools = await _port_pools(sessions, bridge_configs)
    booking_policy = BookingPolicy(
        setup_buffer=timedelta(minutes=settings.booking_setup_buffer_minutes)
    )
    booking = BookingService(
        sessions,
        policy=booking_policy,
        pools=lambda: pools,
        default_zone=settings.timezone,
        clock=clock,
    )
    app[BOOKING] = booking
    rooms.add_reference_finder(booking.references)
    mails = mail_policy(settings)
    booking.add_listener(InvitationListener(mails, clock))
    outbox = OutboxWorker(
        sessions, smtp_settings(settings), clock, message_id_domain=mails.uid_domain
    )
    app[OUTBOX] = outbox
    app[CALENDAR] = CalendarService(sessions, booking, mails, clock)
    events = EventStore(sessions, clock)
    app[EVENT_SINK] = events.store
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    registry = load_bridges(bridge_configs, BridgeContext(http=http, clock=clock, emit=events.emit))
    await registry.start()
    app[REGISTRY] = registry
    app[HEALTH_MAX_AGE] = BRIDGE_HEALTH_SECONDS
    app[LAST_REFRESH] = []
    # Work only the scheduler leader runs (one process of several on PostgreSQL): each entry
    # is a coroutine function run until cancelled.  Packages append to it above this line.
    leader_work: list[Callable[[], Awaitable[None]]] = []
    background: list[asyncio.Task[None]] = []
    if app[BACKGROUND]:
        background.extend(
            asyncio.create_task(work(), name=getattr(work, "__qualname__", "leader-work"))
            for work in leader_work
        )
        background.append(
            asyncio.create_task(
                outbox.run_forever(
                    settings.mail_poll_seconds,
                    before_each=lambda: queue_reminders(sessions, mails, booking_policy, clock()),
                ),
                name="mail-outbox",
            )
        )
    yield
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await registry.close()
    await http.close()
    await engine.dispose()


def create_app(
    settings: Settings, *, clock: Callable[[], datetime] = utcnow, background: bool = True
) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[problems_middleware]
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    # Tests drive the background workers themselves, one round at a time.
    app[BACKGROUND] = background
    app.cleanup_ctx.append(_database)
    operations = []
    for table in ROUTE_TABLES:
        table.mount(app)
        operations.extend(table.operations)
    app[ops.OPENAPI] = build_openapi(operations)
    ops.mount(app)
    return app
