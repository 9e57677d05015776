"""Alerts on endpoint state changes: e-mail to the room's operators and a signed webhook.

A change alerts when the endpoint's room takes part in a video meeting that overlaps the
next ``horizon`` (24 hours by default) or is running now.  Not every change does:

- ``unknown -> up`` (the first result after start-up or for a new endpoint) is no news;
- ``-> unknown`` (probing switched off) is an administrative act, not a fault.

Both the e-mails (table ``outbox_mail``, sent by the mail outbox worker) and the webhook
call (table ``webhook_outbox``, sent by :class:`WebhookWorker`) are queued in the
transaction that stores the change, so a change is never alerted twice nor lost.

The webhook body is JSON; its HMAC-SHA256 under the configured secret, in hex, is sent as
``X-Vcorch-Signature: sha256=<hex>`` (docs/monitoring.md shows how to check it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import Role
from vcorch.auth import User
from vcorch.mail import OutboxMail
from vcorch.monitoring.meetings import HotEndpointSource, SiteInMeeting
from vcorch.monitoring.metrics import Metrics
from vcorch.monitoring.models import WebhookDelivery
from vcorch.rooms import Endpoint, Room, Unit

log = logging.getLogger("vcorch.monitoring.alerts")

SIGNATURE_HEADER = "X-Vcorch-Signature"
EVENT_HEADER = "X-Vcorch-Event"
DELIVERY_HEADER = "X-Vcorch-Delivery"
HEALTH_EVENT = "endpoint.health_changed"

STATE_WORDS = {"up": "hoạt động", "down": "mất kết nối", "unknown": "chưa rõ"}
KIND_WORDS = {"sip": "SIP", "h323": "H.323", "webrtc": "WebRTC"}


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    horizon: timedelta = timedelta(hours=24)
    public_url: str = "http://127.0.0.1:8080"
    default_zone: str = "Asia/Ho_Chi_Minh"
    # Queue a webhook call for each alert (a URL and secret are configured).
    webhook: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """A stored state change, as alerting needs it."""

    transition_id: int
    endpoint_id: int
    previous: str
    current: str
    at: datetime
    detail: str
    latency_ms: float | None


def worth_alerting(previous: str, current: str) -> bool:
    return current != "unknown" and not (previous == "unknown" and current == "up")


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M ngày %d/%m/%Y")


@dataclass(frozen=True, slots=True)
class _Place:
    endpoint_name: str
    endpoint_kind: str
    room_id: int
    room_name: str
    unit_id: int
    unit_code: str
    unit_name: str
    unit_path: str
    zone: str | None


async def queue_alerts(
    session: AsyncSession,
    changes: Sequence[Change],
    now: datetime,
    policy: AlertPolicy,
    source: HotEndpointSource,
) -> set[int]:
    """Queue the e-mails and webhook calls ``changes`` call for; returns the alerted
    transition ids."""
    wanted = [change for change in changes if worth_alerting(change.previous, change.current)]
    if not wanted:
        return set()
    places: dict[int, _Place] = {}
    rows = await session.execute(
        select(
            Endpoint.id,
            Endpoint.name,
            Endpoint.kind,
            Room.id.label("room_id"),
            Room.name.label("room_name"),
            Unit.id.label("unit_id"),
            Unit.code,
            Unit.name.label("unit_name"),
            Unit.path,
            Unit.timezone,
        )
        .join(Room, Room.id == Endpoint.room_id)
        .join(Unit, Unit.id == Room.unit_id)
        .where(Endpoint.id.in_(sorted({change.endpoint_id for change in wanted})))
    )
    for row in rows:
        places[row.id] = _Place(
            row.name,
            row.kind,
            row.room_id,
            row.room_name,
            row.unit_id,
            row.code,
            row.unit_name,
            row.path,
            row.timezone,
        )
    rooms = {place.room_id for place in places.values()}
    meetings: dict[int, list[SiteInMeeting]] = {}
    for site in await source.sites_between(session, now, now + policy.horizon, rooms=rooms):
        listed = meetings.setdefault(site.room_id, [])
        if all(other.meeting_id != site.meeting_id for other in listed):
            listed.append(site)
    if not any(meetings.get(place.room_id) for place in places.values()):
        return set()
    operators = (
        await session.execute(
            select(User.email, User.full_name, Unit.path)
            .join(Unit, Unit.id == User.unit_id)
            .where(
                User.role == Role.OPERATOR.value,
                User.disabled.is_(False),
                User.email.is_not(None),
            )
            .order_by(User.id)
        )
    ).all()
    alerted: set[int] = set()
    for change in wanted:
        place = places.get(change.endpoint_id)
        if place is None:
            continue
        upcoming = meetings.get(place.room_id)
        if not upcoming:
            continue
        alerted.add(change.transition_id)
        zone = ZoneInfo(place.zone or policy.default_zone)
        subject, body = compose_mail(change, place, upcoming, zone, policy.public_url)
        seen: set[str] = set()
        for email, full_name, unit_path in operators:
            # An operator's scope is their unit's subtree; the room must lie inside it.
            if not email or not place.unit_path.startswith(unit_path):
                continue
            key = email.casefold()
            if key in seen:
                continue
            seen.add(key)
            session.add(
                OutboxMail(
                    dedupe_key=f"health-alert:{change.transition_id}:{key}"[:255],
                    meeting_id=upcoming[0].meeting_id,
                    recipients=[f"{full_name} <{email}>" if full_name else email],
                    subject=subject,
                    body=body,
                    calendar=None,
                    method=None,
                    status="pending",
                    next_attempt_at=now,
                )
            )
        if policy.webhook:
            event_id = f"endpoint-health-{change.transition_id}"
            session.add(
                WebhookDelivery(
                    dedupe_key=event_id,
                    event=HEALTH_EVENT,
                    body=webhook_body(event_id, change, place, upcoming),
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return alerted


def compose_mail(
    change: Change,
    place: _Place,
    upcoming: Sequence[SiteInMeeting],
    zone: ZoneInfo,
    public_url: str,
) -> tuple[str, str]:
    """Subject and plain-text body (Vietnamese) of the alert e-mail."""
    where = f"{place.endpoint_name} ({place.room_name})"
    kind = KIND_WORDS.get(place.endpoint_kind, place.endpoint_kind)
    if change.current == "down":
        subject = f"[Cảnh báo] {where} mất kết nối"
        news = "Thiết bị dưới đây vừa MẤT KẾT NỐI."
    else:
        subject = f"[Đã khôi phục] {where} hoạt động trở lại"
        news = "Thiết bị dưới đây đã HOẠT ĐỘNG TRỞ LẠI."
    previous = STATE_WORDS.get(change.previous, change.previous)
    current = STATE_WORDS.get(change.current, change.current)
    lines = [
        "Kính gửi cán bộ vận hành,",
        "",
        news,
        "",
        f"Thiết bị: {place.endpoint_name} ({kind})",
        f"Phòng họp: {place.room_name}, {place.unit_name}",
        f"Trạng thái: {previous} → {current}, lúc {_local(change.at, zone)}",
    ]
    if change.detail:
        lines.append(f"Chi tiết: {change.detail}")
    if change.latency_ms is not None:
        lines.append(f"Độ trễ: {change.latency_ms:.0f} ms")
    lines += ["", "Phòng họp này tham gia các cuộc họp sau:"]
    for site in upcoming:
        running = " (đang diễn ra)" if site.running else ""
        lines.append(
            f"- {site.title}: từ {_local(site.start, zone)} đến {_local(site.end, zone)}{running}"
        )
    lines += [
        "",
        f"Bảng theo dõi thiết bị: {public_url.rstrip('/')}/board",
        "",
        "Thư này được gửi tự động từ hệ thống vcorch; vui lòng không trả lời.",
    ]
    return subject, "\n".join(lines)


def webhook_body(
    event_id: str, change: Change, place: _Place, upcoming: Sequence[SiteInMeeting]
) -> str:
    """The JSON the webhook receives.  Addresses are left out: a SIP URI may hold a password."""
    payload = {
        "id": event_id,
        "event": HEALTH_EVENT,
        "occurred_at": _iso(change.at),
        "endpoint": {
            "id": change.endpoint_id,
            "name": place.endpoint_name,
            "kind": place.endpoint_kind,
        },
        "room": {"id": place.room_id, "name": place.room_name},
        "unit": {"id": place.unit_id, "code": place.unit_code, "name": place.unit_name},
        "previous": change.previous,
        "current": change.current,
        "detail": change.detail,
        "latency_ms": change.latency_ms,
        "meetings": [
            {
                "id": site.meeting_id,
                "title": site.title,
                "start": _iso(site.start),
                "end": _iso(site.end),
                "running": site.running,
            }
            for site in upcoming
        ],
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


# -- webhook delivery -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookPolicy:
    timeout_seconds: float = 10.0
    max_attempts: int = 8
    batch: int = 20
    first_retry: timedelta = timedelta(seconds=30)
    max_retry: timedelta = timedelta(hours=1)


class _Permanent(Exception):
    """The receiver refused the call in a way a retry will not change."""


def _retry_delay(attempts: int, policy: WebhookPolicy, jitter: float) -> timedelta:
    base: timedelta = min(policy.first_retry * (2 ** max(attempts - 1, 0)), policy.max_retry)
    return base * (1 + 0.2 * jitter)


class WebhookWorker:
    """Delivers queued webhook calls: signed, with a timeout, retried with backoff.

    Each due call is claimed first (its next attempt moved past the timeout, in a short
    transaction), then sent with no transaction open, then its outcome stored.  A 2xx
    answer delivers it; 4xx other than 408 and 429, or a redirect, fails it for good;
    anything else (5xx, timeout, refused) is retried until ``max_attempts``.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: aiohttp.ClientSession,
        url: str,
        secret: SecretStr,
        clock: Callable[[], datetime],
        *,
        policy: WebhookPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._url = url
        self._secret = secret
        self._clock = clock
        self._policy = policy or WebhookPolicy()
        self._metrics = metrics

    async def run_once(self) -> int:
        """Send what is due; returns how many calls were delivered."""
        now = self._clock()
        policy = self._policy
        lease = timedelta(seconds=policy.timeout_seconds + 30)
        async with self._sessions.begin() as session:
            query = (
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.id)
                .limit(policy.batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for delivery in (await session.execute(query)).scalars():
                delivery.attempts += 1
                delivery.next_attempt_at = now + lease
                claimed.append((delivery.id, delivery.event, delivery.body, delivery.attempts))
        if not claimed:
            return 0
        outcomes = await asyncio.gather(
            *(self._send(event, body) for _id, event, body, _attempts in claimed)
        )
        delivered = 0
        done = self._clock()
        async with self._sessions.begin() as session:
            for (delivery_id, _event, _body, attempts), error in zip(
                claimed, outcomes, strict=True
            ):
                found = await session.get(WebhookDelivery, delivery_id)
                if found is None:
                    continue
                delivery = found
                if error is None:
                    delivery.status, delivery.delivered_at, delivery.last_error = "sent", done, None
                    delivered += 1
                    self._count("sent")
                    continue
                delivery.last_error = str(error)[:500]
                if isinstance(error, _Permanent) or attempts >= policy.max_attempts:
                    delivery.status = "failed"
                    self._count("failed")
                    log.error(
                        "webhook call %s failed for good after %s attempt(s): %s",
                        delivery_id,
                        attempts,
                        error,
                    )
                else:
                    delivery.next_attempt_at = done + _retry_delay(
                        attempts,
                        policy,
                        random.random(),  # noqa: S311 - jitter, not security
                    )
                    self._count("retry")
                    log.warning(
                        "webhook call %s deferred (attempt %s of %s): %s",
                        delivery_id,
                        attempts,
                        policy.max_attempts,
                        error,
                    )
        return delivered

    async def _send(self, event: str, body: str) -> Exception | None:
        """None when delivered; otherwise the reason (never naming the URL or secret)."""
        raw = body.encode("utf-8")
        event_id = json.loads(body).get("id", "")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            EVENT_HEADER: event,
            DELIVERY_HEADER: str(event_id),
            SIGNATURE_HEADER: sign(self._secret.get_secret_value(), raw),
        }
        timeout = self._policy.timeout_seconds
        try:
            async with self._http.post(
                self._url,
                data=raw,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as response:
                status = response.status
        except TimeoutError:
            return TimeoutError(f"no answer within {timeout:g} s")
        except aiohttp.ClientConnectorError as err:
            return ConnectionError(
                f"cannot connect: {err.os_error.strerror or type(err.os_error).__name__}"
            )
        except aiohttp.ClientError as err:
            return ConnectionError(f"HTTP error: {type(err).__name__}")
        if 200 <= status < 300:
            return None
        if status in (408, 429) or status >= 500:
            return ConnectionError(f"answered HTTP {status}")
        return _Permanent(f"refused with HTTP {status}")

    def _count(self, result: str) -> None:
        if self._metrics is not None:
            self._metrics.alert_webhooks.labels(result).inc()

    async def run_forever(self, interval: float = 5.0) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A database hiccup must not end delivery; the next round retries.
                log.exception("webhook delivery round failed")
            await asyncio.sleep(interval)
