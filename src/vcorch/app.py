"""The one place that wires the service: each package's ``setup``, in dependency order.

A package's ``setup`` builds its service from the shared :class:`~vcorch.runtime.Runtime`
and what it needs of the packages set up before it (passed as parameters), provides it under
its own key and registers its background work and what to close.  Route tables are static
declarations, mounted when the application is created; services exist once the database is
open (the cleanup context below).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

import aiohttp
from aiohttp import web

import vcorch.metadata  # noqa: F401  (every table is mapped before the first query)
from vcorch import (
    attendance,
    auth,
    booking,
    bridge_events,
    calendars,
    demo,
    gateway,
    join,
    mail,
    mcu_adapter,
    monitoring,
    orchestration,
    rooms,
    scheduler,
    stats,
)
from vcorch.config import Settings
from vcorch.db import make_engine, make_sessionmaker, utcnow
from vcorch.problem_types import problem_for, problem_types
from vcorch.runtime import Runtime
from vcorch.web import (
    CLOCK,
    ENGINE,
    METRICS,
    PROBLEMS,
    SESSIONS,
    SETTINGS,
    ApiRoutes,
    ProblemDoc,
    build_openapi,
    metrics_route,
    ops,
    pages,
    problems_middleware,
)

__all__ = ["BACKGROUND", "create_app"]

ROUTE_TABLES: tuple[ApiRoutes, ...] = (
    auth.api_routes,
    rooms.api_routes,
    booking.api_routes,
    calendars.api_routes,
    orchestration.api_routes,
    mcu_adapter.api_routes,
    monitoring.api_routes,
    join.api_routes,
    gateway.api_routes,
    attendance.api_routes,
    attendance.checkin_api_routes,
    scheduler.api_routes,
    stats.api_routes,
)
BACKGROUND = web.AppKey("background", bool)
# Outgoing calls to bridges, probes and webhooks; each client sets tighter limits of its own.
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=30)


async def _open_runtime(app: web.Application) -> Runtime:
    settings = app[SETTINGS]
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine, app[CLOCK])
    app[ENGINE] = engine
    app[SESSIONS] = sessions
    runtime = Runtime(
        app=app,
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=app[CLOCK],
        http=aiohttp.ClientSession(timeout=HTTP_TIMEOUT),
        signing_key=await auth.signing_key(
            sessions, settings.secret_key.get_secret_value() if settings.secret_key else None
        ),
        background=app[BACKGROUND],
    )
    runtime.on_close(engine.dispose)
    runtime.on_close(runtime.http.close)
    return runtime


async def _services(app: web.Application, metrics: monitoring.Metrics) -> AsyncIterator[None]:
    runtime = await _open_runtime(app)
    settings = runtime.settings
    run_metrics = monitoring.RunMetrics(metrics)
    builtin = mcu_adapter.builtin_bridge_names(settings)

    auth.setup(runtime)
    organisation = rooms.setup(runtime, reference_finders=[auth.account_references])
    events = bridge_events.setup(runtime)
    bridges = await mcu_adapter.setup(runtime, emit=events.emit)
    register = await booking.setup(runtime, rooms=organisation, bridges=bridges.configured)
    calendar = calendars.setup(runtime, booking=register)
    mail.setup(
        runtime,
        message_id_domain=calendar.policy.uid_domain,
        before_each=calendar.queue_reminders,
    )
    gateways = gateway.setup(runtime)
    fallback_links = await demo.setup(
        runtime,
        booking=register,
        links=join.setup(runtime, registry=bridges.registry, gateways=gateways, emit=events.emit),
    )
    people = attendance.setup(runtime, builtin_bridges=builtin)
    stats.setup(
        runtime,
        booking=register,
        attendance=people.policy,
        builtin_bridges=builtin,
        metrics=metrics,
    )
    health = monitoring.setup(
        runtime,
        bridge_health=bridges.health,
        meetings=orchestration.MeetingSites(),
        metrics=metrics,
        bridges=bridges.configured,
        answer_endpoints=bridges.endpoint_answers.answer_with,
    )
    orchestrator = orchestration.setup(
        runtime,
        registry=bridges.registry,
        bridge_health=bridges.health,
        links=fallback_links,
        metrics=run_metrics,
        on_poll=people.record_poll,
        dial_in_notices=calendars.DialInMail(calendar.policy),
    )
    # Last: the leader's work is complete once every package has added its share.
    scheduler.setup(
        runtime,
        orchestrator=orchestrator,
        bridge_health=bridges.health,
        booking=register,
        probe=health.probe_now,
        metrics=run_metrics,
    )
    tasks = runtime.start_process_work()
    yield
    await runtime.close(tasks)


def create_app(
    settings: Settings, *, clock: Callable[[], datetime] = utcnow, background: bool = True
) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[problems_middleware]
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[PROBLEMS] = problem_for
    metrics = monitoring.Metrics()
    app[METRICS] = metrics
    # Tests drive the background workers themselves, one round at a time.
    app[BACKGROUND] = background
    app.cleanup_ctx.append(lambda app: _services(app, metrics))
    # Live streams end when the service stops, before in-flight requests are waited for.
    app.on_shutdown.append(orchestration.close_live_streams)
    operations = []
    for table in ROUTE_TABLES:
        table.mount(app)
        operations.extend(table.operations)
    app[ops.OPENAPI] = build_openapi(
        operations,
        problems=[
            ProblemDoc(problem.status, problem.type_uri, problem.title)
            for problem in problem_types()
        ],
    )
    ops.mount(app)
    metrics_route.mount(app)
    pages.mount_static(app)
    pages.mount_home(app)
    booking.mount_pages(app)
    orchestration.mount_pages(app)
    attendance.mount_pages(app)
    monitoring.mount_pages(app)
    stats.mount_pages(app)
    return app
