"""Input that used to answer 500 answers a 4xx problem (issue 16, findings 8 and 10):

- a tampered list cursor (``{"after": true}``, ``{"after": 2**63}``, ``{"after": 2**31}``)
  on every list that takes one;
- room ids beyond the database's integers in availability;
- a bearer token that is no ASCII text (``Authorization: Bearer \\xe4``) on every route;
- a NUL character in a search, a text path part or a body;
- dates at the end of the calendar, where adding a meeting's length overflows;
- JSON nested 100,000 deep to the Janus and Jitsi hooks (checked against the API's limits,
  then kept unread as a rejected body);
- an unknown hook name answers exactly as a wrong secret (names cannot be enumerated).
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.api import Api, make_settings
from tests.booking.test_booking_api import meeting
from tests.world import World
from vcorch.config import Settings

HOOK_SECRET = "hook-secret-of-the-test-bridges"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    secret = tmp_path / "hook-secret"
    secret.write_text(HOOK_SECRET, encoding="utf-8")
    admin = tmp_path / "admin-secret"
    admin.write_text("janus-admin-secret", encoding="utf-8")
    hook = {"hook_secret_file": str(secret)}
    return make_settings(
        database_url,
        bridges=[
            {
                "name": "janus",
                "type": "janus",
                "url": "http://127.0.0.1:9/janus",
                "secret_file": str(admin),
                "options": hook,
            },
            {
                "name": "jitsi",
                "type": "jitsi",
                "url": "https://meet.example.vn",
                "secret_file": str(admin),
                "options": {
                    **hook,
                    "domain": "meet.example.vn",
                    "app_id": "vcorch",
                    "prosody_url": "http://127.0.0.1:9",
                    "jvb_url": "http://127.0.0.1:9",
                },
            },
        ],
    )


def cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


async def paths_with(api: Api, parameter: str) -> list[str]:
    _, document = await api.get("/api/openapi.json")
    found = []
    for path, item in document["paths"].items():
        get = item.get("get")
        if get and "{" not in path and parameter in {p["name"] for p in get.get("parameters", [])}:
            found.append(path)
    assert found, parameter
    return found


TAMPERED = [{"after": True}, {"after": 2**63}, {"after": 2**31}, {"after": 2**31 - 1 + 1}]


@pytest.mark.parametrize("payload", TAMPERED, ids=["true", "2^63", "2^31", "max+1"])
async def test_a_tampered_cursor_is_refused_on_every_list(
    api: Api, world: World, payload: object
) -> None:
    admin = api.as_(world.tokens["admin"])
    for path in await paths_with(api, "cursor"):
        status, problem = await admin.get(f"{path}?cursor={cursor(payload)}")
        assert status in (400, 422), (path, status, problem)
        assert problem["type"].startswith("urn:vcorch:problem:"), problem
    status, problem = await admin.get(f"/api/meetings/changes?since={cursor(payload)}")
    assert status in (400, 422), problem


@pytest.mark.parametrize("rooms", ["9223372036854775808", "2147483648", "1,99999999999999"])
async def test_room_ids_beyond_the_database_are_refused_in_availability(
    api: Api, world: World, rooms: str
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, problem = await sec.get(
        f"/api/availability?rooms={rooms}&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"
    )
    assert status == 422, problem
    assert problem["errors"][0]["field"] == "rooms", problem


async def raw_request(client: TestClient[Any, Any], method: str, path: str, header: bytes) -> bytes:
    """Send a request with the header's bytes as they are (latin-1 on the wire)."""
    host, port = client.server.host, client.server.port
    import asyncio

    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n".encode()
        + b"Authorization: "
        + header
        + b"\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


@pytest.mark.parametrize("header", [b"Bearer \xe4", b"Bearer \xc3\xa4", b"Bearer a\xe4.b.c"])
async def test_a_token_that_is_not_ascii_is_an_invalid_token(
    app_client: TestClient[Any, Any], api: Api, world: World, header: bytes
) -> None:
    _, document = await api.get("/api/openapi.json")
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]*\}", "1", path)
        for method, operation in item.items():
            answer = await raw_request(app_client, method.upper(), concrete, header)
            status = int(answer.split(b" ", 2)[1])
            assert status < 500, (method, path, answer[:300])
            if operation.get("security") != []:
                assert status == 401, (method, path, answer[:300])
                assert b"urn:vcorch:problem:invalid-token" in answer, answer
    # The hooks read the header themselves (basic auth, a bridge's own token).
    for bridge in ("janus", "jitsi"):
        for scheme in (b"Basic ", b"Bearer ", b""):
            answer = await raw_request(app_client, "POST", f"/api/hooks/{bridge}", scheme + header)
            assert answer.split(b" ", 2)[1] == b"401", answer[:300]


async def test_a_nul_character_is_refused_not_a_crash(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    for path in await paths_with(api, "q"):
        status, problem = await admin.get(f"{path}?q=%00")
        assert status in (200, 422), (path, status, problem)
        if status == 200:
            assert problem["items"] == [], path
    for path in ("/api/users/admin%00", "/api/calendar/lao-cai%00.ics"):
        status, problem = await admin.patch(path, {"disabled": True})
        assert status in (400, 404, 405, 422), (path, status, problem)
    sec = api.as_(world.tokens["central_sec"])
    status, problem = await sec.post("/api/meetings", meeting(world, description="a\u0000b"))
    assert status == 422, problem


@pytest.mark.parametrize("start", ["9999-12-31T22:00:00Z", "9999-12-31T23:59:59Z"])
async def test_a_date_at_the_end_of_the_calendar_is_refused(
    api: Api, world: World, start: str
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    status, problem = await sec.post(
        "/api/meetings", meeting(world, start=start, end="9999-12-31T23:59:59Z")
    )
    assert status == 422, problem
    status, problem = await sec.post(
        "/api/meetings", meeting(world, start="0001-01-01T00:00:00Z", end="0001-01-01T01:00:00Z")
    )
    assert status == 422, problem
    room = world.rooms["central"]
    status, problem = await sec.get(
        f"/api/availability?rooms={room}&from=9999-12-31T00:00:00Z&to=9999-12-31T23:59:59Z"
    )
    assert status == 422, problem
    status, problem = await sec.get(f"/api/meetings?from={start}")
    assert status in (200, 422), problem


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize("bridge", ["janus", "jitsi"])
async def test_deep_json_to_a_hook_is_kept_unread(
    app_client: TestClient[Any, Any], world: World, bridge: str
) -> None:
    # Checked against the API's depth limit before any parser recurses into it; from an
    # authenticated sender it is kept as a rejected body and answered 200 (issue 17: an
    # event handler answered 4xx/5xx drops or resends, never lose a record).
    for body in (deep(100_000), b'{"a":' * 40 + b"1" + b"}" * 40):
        response = await app_client.post(
            f"/api/hooks/{bridge}?token={HOOK_SECRET}",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        answer = await response.json()
        assert response.status == 200, answer
        assert answer["received"] == 0 and "nested deeper" in answer["rejected_reason"], answer


async def test_hooks_share_the_apis_size_limit(
    app_client: TestClient[Any, Any], world: World, settings: Settings
) -> None:
    response = await app_client.post(
        f"/api/hooks/janus?token={HOOK_SECRET}",
        data=io.BytesIO(b"[" + b"0," * settings.max_body_bytes + b"0]"),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413


async def test_an_unknown_hook_answers_as_a_wrong_secret(
    app_client: TestClient[Any, Any], world: World
) -> None:
    answers = []
    for path in ("/api/hooks/janus?token=sai", "/api/hooks/khong-co?token=sai", "/api/hooks/x/y"):
        response = await app_client.post(path, json=[])
        body = await response.json()
        answers.append((response.status, {k: v for k, v in body.items() if k != "instance"}))
    assert answers[0][0] == 401, answers
    assert all(answer == answers[0] for answer in answers), answers
