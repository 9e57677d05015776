"""The one place that wires concrete objects: database, services, routes, background work."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from aiohttp import web

from vcorch.auth.passwords import SecretHasher
from vcorch.auth.routes import routes as auth_routes
from vcorch.auth.service import AuthService, ThrottlePolicy, signing_key
from vcorch.auth.tokens import TokenService
from vcorch.config import Settings
from vcorch.db.base import utcnow
from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.rooms.routes import routes as rooms_routes
from vcorch.rooms.service import RoomsService
from vcorch.web import ops
from vcorch.web.api import ApiRoutes
from vcorch.web.keys import AUTH, ENGINE, PRINCIPAL_RESOLVER, ROOMS, SESSIONS, SETTINGS
from vcorch.web.middleware import problems_middleware
from vcorch.web.openapi import build_openapi

log = logging.getLogger("vcorch")

ROUTE_TABLES: tuple[ApiRoutes, ...] = (auth_routes, rooms_routes)
CLOCK = web.AppKey[Callable[[], datetime]]("clock")


def make_hasher(settings: Settings) -> SecretHasher:
    return SecretHasher(settings.password_time_cost, settings.password_memory_kib)


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
    app[ROOMS] = RoomsService(sessions)
    yield
    await engine.dispose()


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[problems_middleware]
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app.cleanup_ctx.append(_database)
    operations = []
    for table in ROUTE_TABLES:
        table.mount(app)
        operations.extend(table.operations)
    app[ops.OPENAPI] = build_openapi(operations)
    ops.mount(app)
    return app
