"""The one place that wires concrete objects: database, services, routes, background work."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.attendance.links import CheckInLinks
from vcorch.attendance.links import derive_secret as checkin_secret
from vcorch.attendance.outcome import AttendancePolicy
from vcorch.attendance.routes import ATTENDANCE
from vcorch.attendance.routes import routes as attendance_routes
from vcorch.attendance.service import AttendanceService
from vcorch.auth.passwords import SecretHasher
from vcorch.auth.routes import routes as auth_routes
from vcorch.auth.service import AuthService, ThrottlePolicy, account_references, signing_key
from vcorch.auth.tokens import TokenService
from vcorch.booking.placement_pool import PortPool
from vcorch.booking.routes import routes as conference_routes
from vcorch.booking.service import BookingPolicy, BookingService
from vcorch.bridge_events.store import EventStore
from vcorch.calendars.feed import CalendarService
from vcorch.calendars.invitations import InvitationListener, MailPolicy, queue_reminders
from vcorch.config import BridgeConfig, Settings
from vcorch.db.base import utcnow
from vcorch.db.engine import make_engine, make_sessionmaker
from vcorch.join.ice import IcePolicy
from vcorch.join.links import JoinLinks, derive_secret, join_url
from vcorch.join.routes import JOIN, JOIN_LINKS
from vcorch.join.routes import routes as join_routes
from vcorch.join.service import JoinService
from vcorch.mail.mailer import SmtpSettings
from vcorch.mail.outbox import OutboxWorker
from vcorch.mcu_adapter.base import BridgeContext
from vcorch.mcu_adapter.health import BridgeHealthCoordinator
from vcorch.mcu_adapter.registry import (
    BUILTIN_WEBRTC_NAME,
    BUILTIN_WEBRTC_PRIORITY,
    BUILTIN_WEBRTC_TYPE,
    load_bridges,
    with_builtin_webrtc,
    with_default_bridge,
)
from vcorch.mcu_adapter.routes import BRIDGE_HEALTH, EVENT_SINK, REGISTRY
from vcorch.mcu_adapter.routes import routes as bridge_routes
from vcorch.mcu_adapter.webrtc.adapter import builtin_config_options
from vcorch.monitoring.alerts import WebhookPolicy, WebhookWorker
from vcorch.monitoring.metrics import Metrics
from vcorch.monitoring.probes.sip_mux import SipUdpProber
from vcorch.monitoring.routes import mount_pages as mount_monitoring_pages
from vcorch.monitoring.routes import routes as monitoring_routes
from vcorch.monitoring.service import MonitoringService, default_probes, monitoring_policy
from vcorch.orchestration.hot_endpoints import MeetingSites
from vcorch.orchestration.live import LiveService
from vcorch.orchestration.orchestrator import OrchestrationPolicy, Orchestrator
from vcorch.orchestration.routes import LIVE
from vcorch.orchestration.routes import routes as live_routes
from vcorch.rooms.models import Unit
from vcorch.rooms.routes import routes as rooms_routes
from vcorch.rooms.service import RoomsService
from vcorch.scheduler.leader import Leadership
from vcorch.scheduler.planning import SchedulePolicy
from vcorch.scheduler.routes import LEADERSHIP, SCHEDULER
from vcorch.scheduler.routes import routes as scheduler_routes
from vcorch.scheduler.service import SchedulerService
from vcorch.stats.routes import STATS
from vcorch.stats.routes import mount_pages as mount_stats_pages
from vcorch.stats.routes import routes as stats_routes
from vcorch.stats.service import StatsService, stats_policy
from vcorch.web import metrics_route, ops, pages
from vcorch.web.api import ApiRoutes
from vcorch.web.keys import (
    AUTH,
    BOOKING,
    CALENDAR,
    ENGINE,
    METRICS,
    MONITORING,
    OUTBOX,
    PRINCIPAL_RESOLVER,
    ROOMS,
    SESSIONS,
    SETTINGS,
)
from vcorch.web.middleware import problems_middleware
from vcorch.web.openapi import build_openapi

log = logging.getLogger("vcorch")

ROUTE_TABLES: tuple[ApiRoutes, ...] = (
    auth_routes,
    rooms_routes,
    conference_routes,
    live_routes,
    bridge_routes,
    monitoring_routes,
    join_routes,
    attendance_routes,
    scheduler_routes,
    stats_routes,
)
BRIDGE_HEALTH_SECONDS = 30.0
CLOCK = web.AppKey[Callable[[], datetime]]("clock")
BACKGROUND = web.AppKey("background", bool)
ORCHESTRATOR = web.AppKey("orchestrator", Orchestrator)


class RunMetrics:
    """The orchestrator's and scheduler's figures, written into the Prometheus metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def dial_result(self, result: str) -> None:
        self._metrics.dial_outs.labels(result=result).inc()

    def meetings_live(self, count: int) -> None:
        self._metrics.meetings_live.set(count)

    def scheduler_lag(self, seconds: float) -> None:
        self._metrics.scheduler_lag_seconds.set(seconds)


class FallbackLinkMaker:
    """Browser links for fallen-back sites: signed tokens under the public URL."""

    def __init__(self, links: JoinLinks, public_url: str) -> None:
        self._links = links
        self._public_url = public_url

    def url_for(self, run_site_id: int, meeting_id: int, expires_at: datetime) -> str:
        return join_url(self._public_url, self._links.issue(run_site_id, meeting_id, expires_at))


def process_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def attendance_policy(settings: Settings) -> AttendancePolicy:
    return AttendancePolicy(
        late_after=timedelta(minutes=settings.attendance_late_after_minutes),
        left_early=timedelta(minutes=settings.attendance_left_early_minutes),
        present_share=settings.attendance_present_share,
        reconnect_grace=timedelta(seconds=settings.attendance_reconnect_grace_seconds),
    )


def orchestration_policy(settings: Settings) -> OrchestrationPolicy:
    return OrchestrationPolicy(
        dial_attempts=settings.dial_attempts,
        retry_base=timedelta(seconds=settings.dial_retry_base_seconds),
        retry_max=timedelta(seconds=settings.dial_retry_max_seconds),
        ring_timeout=timedelta(seconds=settings.ring_timeout_seconds),
        failover_after=settings.failover_after,
        dial_concurrency=settings.dial_concurrency,
    )


def schedule_policy(settings: Settings) -> SchedulePolicy:
    return SchedulePolicy(
        reminder_offsets=tuple(timedelta(minutes=m) for m in settings.reminder_offsets_minutes),
        preflight_before=timedelta(minutes=settings.preflight_before_minutes),
        launch_before=timedelta(minutes=settings.launch_before_minutes),
        end_warning_before=timedelta(minutes=settings.end_warning_minutes),
        launch_grace=timedelta(minutes=settings.launch_grace_minutes),
    )


def builtin_webrtc_config(settings: Settings) -> BridgeConfig:
    """vcorch's own browser bridge, always there (unless a ``webrtc`` bridge is configured)."""
    return BridgeConfig(
        name=BUILTIN_WEBRTC_NAME,
        type=BUILTIN_WEBRTC_TYPE,
        ports=settings.webrtc_max_participants,
        priority=BUILTIN_WEBRTC_PRIORITY,
        options=builtin_config_options(
            max_per_conference=settings.webrtc_max_per_conference,
            video_width=settings.webrtc_video_max_width,
            video_height=settings.webrtc_video_max_height,
            video_fps=settings.webrtc_video_max_fps,
            host_addresses=settings.webrtc_host_addresses,
            stun_urls=settings.webrtc_bridge_stun_urls,
        ),
    )


def ice_policy(settings: Settings) -> IcePolicy:
    return IcePolicy(
        stun_urls=tuple(settings.webrtc_stun_urls),
        turn_urls=tuple(settings.webrtc_turn_urls),
        turn_secret=(
            settings.webrtc_turn_secret.get_secret_value() if settings.webrtc_turn_secret else None
        ),
        turn_ttl=timedelta(seconds=settings.webrtc_turn_ttl_seconds),
    )


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
    rooms = RoomsService(sessions, [account_references], clock=clock)
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
    # The built-in browser bridge joins the registry but not the booking pools: it hosts
    # only what falls back.
    registry = load_bridges(
        with_builtin_webrtc(bridge_configs, builtin_webrtc_config(settings)),
        BridgeContext(http=http, clock=clock, emit=events.emit),
    )
    await registry.start()
    app[REGISTRY] = registry
    # The one poller of the bridges' health; the leader runs it, every reader shares it.
    bridge_health = BridgeHealthCoordinator(
        registry, clock=clock, max_age=timedelta(seconds=BRIDGE_HEALTH_SECONDS)
    )
    app[BRIDGE_HEALTH] = bridge_health
    # The WebRTC fallback: signed join links, the join page, WHIP on the built-in bridge.
    join_links = JoinLinks(derive_secret(key), clock)
    app[JOIN_LINKS] = join_links
    app[JOIN] = JoinService(sessions, registry, join_links, ice_policy(settings), clock)
    # Attendance: reports, check-ins and signed self check-in links; its record_poll is the
    # orchestrator's on_poll (fills gaps pushed events left).
    attendance = AttendanceService(
        sessions,
        policy=attendance_policy(settings),
        links=CheckInLinks(checkin_secret(key), settings.public_url, clock),
        default_zone=settings.timezone,
        clock=clock,
        checkin_grace=timedelta(minutes=settings.attendance_checkin_grace_minutes),
        builtin_bridges=frozenset(
            {BUILTIN_WEBRTC_NAME}
            | {c.name for c in settings.bridges if c.type == BUILTIN_WEBRTC_TYPE}
        ),
    )
    app[ATTENDANCE] = attendance
    # Online-share statistics: every write to the register keeps their per-occurrence table
    # (a booking listener, same transaction); the leader judges verification from the
    # bridges' records and refreshes the monthly summary (leader_work below).
    stats = StatsService(
        sessions,
        stats_policy(
            settings,
            attendance_policy(settings),
            frozenset(
                {BUILTIN_WEBRTC_NAME}
                | {c.name for c in settings.bridges if c.type == BUILTIN_WEBRTC_TYPE}
            ),
        ),
        clock,
        gauge=app[METRICS],
    )
    booking.add_listener(stats.listener)
    app[STATS] = stats
    # Endpoint health: every process answers the API and "probe now"; the leader sweeps.
    sip_udp = SipUdpProber()
    monitoring = MonitoringService(
        sessions,
        policy=monitoring_policy(settings),
        probes=default_probes(http, sip_udp, verify_tls=settings.monitoring_http_verify_tls),
        sip_udp=sip_udp,
        bridge_health=bridge_health,
        meetings=MeetingSites(),
        metrics=app[METRICS],
        clock=clock,
    )
    app[MONITORING] = monitoring
    metrics = app[METRICS]
    run_metrics = RunMetrics(metrics)
    orchestrator = Orchestrator(
        sessions,
        registry,
        clock,
        orchestration_policy(settings),
        links=FallbackLinkMaker(join_links, settings.public_url),
        metrics=run_metrics,
        on_poll=attendance.record_poll,
        health=bridge_health,
    )
    app[ORCHESTRATOR] = orchestrator
    app[LIVE] = LiveService(sessions, orchestrator, clock)
    scheduler = SchedulerService(
        sessions,
        orchestrator,
        bridge_health,
        clock,
        schedule_policy(settings),
        identity=process_identity(),
        horizon=timedelta(minutes=settings.scheduler_horizon_minutes),
        sync_seconds=settings.scheduler_sync_seconds,
        supervise_seconds=settings.supervise_seconds,
        metrics=run_metrics,
        roll_horizon=booking.roll_horizon,
        probe=monitoring.probe_now,
    )
    app[SCHEDULER] = scheduler
    booking.add_listener(scheduler)
    leadership = Leadership(engine, scheduler.identity, check_seconds=settings.leader_check_seconds)
    app[LEADERSHIP] = leadership
    # Work only the scheduler leader runs (one process of several on PostgreSQL): each entry
    # is a coroutine function run until cancelled.  Packages append to it above this line.
    leader_work: list[Callable[[], Awaitable[None]]] = [
        bridge_health.run_forever,
        scheduler.run_forever,
        scheduler.supervise_forever,
    ]
    if settings.monitoring_enabled:
        leader_work.append(monitoring.run_forever)
    leader_work.append(stats.run_forever)
    if settings.monitoring_webhook_url and settings.monitoring_webhook_secret:
        webhooks = WebhookWorker(
            sessions,
            http,
            settings.monitoring_webhook_url,
            settings.monitoring_webhook_secret,
            clock,
            policy=WebhookPolicy(
                timeout_seconds=settings.monitoring_webhook_timeout_seconds,
                max_attempts=settings.monitoring_webhook_max_attempts,
            ),
            metrics=app[METRICS],
        )
        leader_work.append(webhooks.run_forever)
    background: list[asyncio.Task[None]] = []
    if app[BACKGROUND]:
        background.append(asyncio.create_task(leadership.run(leader_work), name="leader-election"))
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
    sip_udp.close()
    await registry.close()
    # Bridges pushed their last events in close(); they are written before the engine goes.
    await events.close()
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
    app[METRICS] = Metrics()
    # Tests drive the background workers themselves, one round at a time.
    app[BACKGROUND] = background
    app.cleanup_ctx.append(_database)
    operations = []
    for table in ROUTE_TABLES:
        table.mount(app)
        operations.extend(table.operations)
    app[ops.OPENAPI] = build_openapi(operations)
    ops.mount(app)
    metrics_route.mount(app)
    pages.mount_static(app)
    mount_monitoring_pages(app)
    mount_stats_pages(app)
    return app
