"""No secret in any response or log line, over a whole scenario.

The service runs with everything that has a secret: a Cisco Meeting Server bridge (the
emulator) with an API password and a CDR hook secret, a TURN secret, an SMTP account,
a signing key.  The SMTP server offers AUTH and refuses the account (535), so the password
is really sent and the failure must be recorded without it.  The scenario logs in (right
and wrong passwords), makes an integration client and uses it, makes a calendar feed and
reads it, books and launches a meeting on the bridge, hands a site a browser link and opens
it, takes CDRs through the hook (right and wrong secrets), sends mail, and makes a self
check-in link.  Every log record (DEBUG and up, access lines included, with the production
access logger), every response body and the recorded mail failure are then searched for
each secret, in the forms it could leak in.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from tests.api import PASSWORD, Api, FakeClock, make_settings
from tests.emulators.cisco_cms import CmsEmulator
from tests.smtp import RefusingSmtpServer
from tests.world import World, build_world
from vcorch.app import create_app
from vcorch.attendance.links import derive_secret as checkin_secret
from vcorch.auth.models import Client, User
from vcorch.cli import CHATTY_LIBRARIES, quiet_chatty_libraries
from vcorch.config import Settings
from vcorch.join.links import derive_secret as join_secret
from vcorch.mail.models import OutboxMail
from vcorch.orchestration.routes import ORCHESTRATOR
from vcorch.web.access_log import PathOnlyAccessLogger
from vcorch.web.keys import OUTBOX, SESSIONS

SIGNING_KEY = "signing-key-of-the-secrets-test-0123456789abcdef"
MCU_PASSWORD = "cms-api-password-7f3a9c"
HOOK_SECRET = "cms-cdr-hook-secret-b41d20"
TURN_SECRET = "turn-rest-secret-5e8c1f77"
SMTP_PASSWORD = "smtp-account-password-c0ffee"
WRONG_PASSWORD = "doan-sai-mat-khau-8812"


class ProductionLogServer(TestServer):
    """The test server with the access logger ``vcorch serve`` uses."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return web.AppRunner(self.app, access_log_class=PathOnlyAccessLogger, **kwargs)


@pytest.fixture
async def emulator() -> Any:
    cms = CmsEmulator(password=MCU_PASSWORD)
    await cms.start()
    yield cms
    await cms.stop()


@pytest.fixture
def settings(
    database_url: str,
    emulator: CmsEmulator,
    refusing_smtp: RefusingSmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.setenv("VCORCH_TEST_CMS_PASSWORD", MCU_PASSWORD)
    monkeypatch.setenv("VCORCH_TEST_CMS_HOOK", HOOK_SECRET)
    return make_settings(
        database_url,
        secret_key=SIGNING_KEY,
        bridges=[
            {
                "name": "cms",
                "type": "cisco_cms",
                "url": emulator.url,
                "username": emulator.username,
                "password_env": "VCORCH_TEST_CMS_PASSWORD",
                "ports": 50,
                "timeout_seconds": 2,
                "options": {"hook_secret_env": "VCORCH_TEST_CMS_HOOK"},
            }
        ],
        webrtc_turn_urls=["turn:127.0.0.1:3478"],
        webrtc_turn_secret=TURN_SECRET,
        smtp_host="127.0.0.1",
        smtp_port=refusing_smtp.port,
        smtp_username="vcorch",
        smtp_password=SMTP_PASSWORD,
        dial_attempts=1,
    )


class Recording(Api):
    """The API client, keeping every response body (as text)."""

    bodies: list[tuple[str, str]]

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        sent = dict(kw.pop("headers", None) or {})
        if self.token and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        response = await self.client.request(method, path, headers=sent, **kw)
        text = await response.text()
        self.bodies.append((f"{method} {path}", text + str(dict(response.headers))))
        body: Any = text
        if response.content_type in ("application/json", "application/problem+json"):
            body = await response.json()
        return response.status, body

    def as_(self, token: str | None) -> Recording:
        other = Recording(self.client, token)
        other.bodies = self.bodies
        return other


def forms(secret: str | bytes) -> Iterator[str]:
    """The shapes a secret could be written in."""
    raw = secret.encode() if isinstance(secret, str) else secret
    if isinstance(secret, str):
        yield secret
    yield raw.hex()
    yield base64.b64encode(raw).decode().rstrip("=")
    yield base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_no_secret_in_any_response_or_log_line(
    aiohttp_client: Any,
    settings: Settings,
    clock: FakeClock,
    emulator: CmsEmulator,
    refusing_smtp: RefusingSmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Logging as `vcorch serve` sets it up, at its most verbose.
    chatty = {name: logging.getLogger(name).level for name in CHATTY_LIBRARIES}
    quiet_chatty_libraries()
    caplog.set_level(logging.DEBUG)
    try:
        await scenario(aiohttp_client, settings, clock, emulator, refusing_smtp, caplog)
    finally:
        for name, level in chatty.items():
            logging.getLogger(name).setLevel(level)


async def scenario(
    aiohttp_client: Any,
    settings: Settings,
    clock: FakeClock,
    emulator: CmsEmulator,
    refusing_smtp: RefusingSmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await aiohttp_client(
        ProductionLogServer(create_app(settings, clock=clock, background=False))
    )
    app = client.server.app
    plain = Api(client)
    world: World = await build_world(app, plain)
    api = Recording(client)
    api.bodies = []
    shown_once: dict[str, str] = {}  # secret -> the one response allowed to carry it

    # Logins, right and wrong; an integration client and its token.
    assert (await api.call("POST", "/api/auth/token", data=_login("laocai_sec", PASSWORD)))[
        0
    ] == 200
    assert (await api.call("POST", "/api/auth/token", data=_login("laocai_sec", WRONG_PASSWORD)))[
        0
    ] == 400
    admin = api.as_(world.tokens["admin"])
    status, created = await admin.post(
        "/api/clients", {"name": "Cổng tỉnh", "unit_id": world.units["lao-cai"]}
    )
    assert status == 201
    client_secret = created["client_secret"]
    shown_once[client_secret] = "POST /api/clients"
    status, grant = await api.call(
        "POST",
        "/api/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": client_secret,
        },
    )
    assert status == 200
    await api.call(
        "POST",
        "/api/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": client_secret[::-1],
        },
    )
    portal = api.as_(grant["access_token"])
    assert (await portal.get("/api/meetings"))[0] == 200

    # A calendar feed, read with its token in the query string.
    status, feed = await api.as_(world.tokens["laocai_sec"]).post(
        "/api/calendar-tokens", {"unit_id": world.units["lao-cai"]}
    )
    assert status == 201
    shown_once[feed["token"]] = "POST /api/calendar-tokens"
    assert (await api.get(f"/api/calendar/lao-cai.ics?token={feed['token']}"))[0] == 200

    # A meeting launched on the bridge; a site handed a browser link, which is opened.
    sec = api.as_(world.tokens["central_sec"])
    start = clock.now.replace(microsecond=0)
    status, meeting = await sec.post(
        "/api/meetings",
        {
            "title": "Họp trực tuyến có mật khẩu",
            "kind": "meeting",
            "mode": "online",
            "organizer_unit_id": world.units["central"],
            "start": (start + _minutes(5)).isoformat(),
            "end": (start + _minutes(65)).isoformat(),
            "host_room_id": world.rooms["central"],
            "sites": [{"room_id": world.rooms[c]} for c in ("central", "lao-cai")],
            "invited": [{"email": "lanh.dao@example.org"}],
        },
    )
    assert status == 201, meeting
    assert (await sec.post(f"/api/meetings/{meeting['id']}/start"))[0] == 202
    for _ in range(3):
        await app[ORCHESTRATOR].step_all()
    assert emulator.calls, "the bridge was never reached with its credentials"
    status, live = await sec.get(f"/api/meetings/{meeting['id']}/live")
    site = live["sites"][0]["site_id"]
    status, link = await sec.post(f"/api/meetings/{meeting['id']}/sites/{site}/link")
    assert status in (200, 201), link
    join_token = link["url"].rsplit("/", 1)[-1]
    assert (await api.get(f"/api/join/{join_token}"))[0] in (200, 409)
    assert (await api.get(f"/join/{join_token}"))[0] == 200
    await sec.get("/api/bridges")
    await sec.get("/api/bridges/cms")

    # CDRs through the hook: with the secret as a query parameter, as a header, and wrong.
    cdr = (
        '<?xml version="1.0"?><records session="s-1"><record type="callLegUpdate"'
        ' time="2026-12-01T02:00:09Z" recordIndex="1" correlatorIndex="1">'
        '<callLeg id="leg-1"><state>connected</state><call>c-1</call></callLeg></record>'
        "</records>"
    )
    xml = {"Content-Type": "text/xml"}
    assert (await api.call("POST", f"/api/hooks/cms?token={HOOK_SECRET}", data=cdr, headers=xml))[
        0
    ] == 200
    assert (
        await api.call(
            "POST",
            "/api/hooks/cms",
            data=cdr,
            headers={**xml, "X-Vcorch-Hook-Secret": HOOK_SECRET},
        )
    )[0] == 200
    assert (await api.call("POST", f"/api/hooks/cms?token={HOOK_SECRET}x", data=cdr, headers=xml))[
        0
    ] == 401

    # Self check-in link, opened; mail sent through an SMTP account the server refuses.
    status, checkin = await sec.post(
        f"/api/meetings/{meeting['id']}/checkin-links", {"room_id": world.rooms["lao-cai"]}
    )
    assert status in (200, 201), checkin
    checkin_token = checkin["url"].rsplit("/", 1)[-1]
    await api.get(f"/api/checkin/{checkin_token}")
    await app[OUTBOX].run_once()
    # The login really happened with the account's password, and was refused: the mail
    # stays undelivered, and the failure is recorded (in words an operator can act on).
    assert ("vcorch", SMTP_PASSWORD) in [
        (login.decode(), password.decode()) for _, login, password in refusing_smtp.attempts.offered
    ], refusing_smtp.attempts.offered
    assert refusing_smtp.inbox.messages == []
    async with app[SESSIONS]() as session:
        errors = list(
            (await session.execute(select(OutboxMail.last_error, OutboxMail.status))).all()
        )
    assert errors, "no mail was queued"
    assert all(
        error is not None and "authentication refused" in error and status != "sent"
        for error, status in errors
    ), errors
    recorded = " ".join(error for error, _ in errors if error)
    assert not [form for form in forms(SMTP_PASSWORD) if form in recorded], recorded
    await admin.get("/api/audit")
    await admin.get("/api/users")

    async with app[SESSIONS]() as session:
        hashes = list((await session.execute(select(User.password_hash))).scalars())
        hashes += list((await session.execute(select(Client.secret_hash))).scalars())
    assert hashes
    everywhere = {
        "API password of the bridge": [MCU_PASSWORD],
        "hook secret": [HOOK_SECRET],
        "TURN secret": [TURN_SECRET],
        "SMTP password": [SMTP_PASSWORD],
        "signing key": [SIGNING_KEY],
        "join-link secret": list(forms(join_secret(SIGNING_KEY))),
        "check-in-link secret": list(forms(checkin_secret(SIGNING_KEY))),
        "a password": [PASSWORD, WRONG_PASSWORD],
        "a password hash": hashes,
        "client secret": [client_secret],
        "feed token": [feed["token"]],
    }
    # Links are delivered in responses (that is what they are for), never logged.
    in_logs_only = {"join link": [join_token], "check-in link": [checkin_token]}

    lines = [_record_text(record) for record in caplog.records]
    assert any(r.name == "aiohttp.access" for r in caplog.records), "no access log captured"
    assert any("/join/" in line for line in lines)
    found = []
    for what, secrets in {**everywhere, **in_logs_only}.items():
        for secret in secrets:
            for line in lines:
                if secret in line:
                    found.append(f"{what} in the log: {line[:300]}")
    for what, secrets in everywhere.items():
        for secret in secrets:
            for where, text in api.bodies:
                if secret in text and shown_once.get(secret) != where:
                    found.append(f"{what} in the answer to {where}")
    assert not found, "\n".join(found)


def _record_text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text += " " + repr(record.exc_info[1])
    if record.exc_text:
        text += " " + record.exc_text
    return f"{record.name}: {text}"


def _login(username: str, password: str) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": password}


def _minutes(count: int) -> Any:
    from datetime import timedelta

    return timedelta(minutes=count)
