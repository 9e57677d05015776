"""A bridge's event handler must never be answered an error for an authenticated body.

Janus' sample event handler retries only when the connection fails (janus-gateway
``events/janus_sampleevh.c``: a 4xx/5xx answer is logged and the events are dropped), and a
CMS resends a refused CDR batch for ever.  So whatever an authenticated sender posts is
either read or kept as a rejected body, and answered 200."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from tests.api import make_settings
from vcorch.bridge_events.models import RejectedHookBody
from vcorch.config import Settings
from vcorch.web.keys import SESSIONS

HOOK_SECRET = "hook-secret-of-the-test-bridges"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    secret = tmp_path / "hook-secret"
    secret.write_text(HOOK_SECRET, encoding="utf-8")
    admin = tmp_path / "admin-secret"
    admin.write_text("janus-admin-secret", encoding="utf-8")
    return make_settings(
        database_url,
        bridges=[
            {
                "name": "janus",
                "type": "janus",
                "url": "http://127.0.0.1:9/janus",
                "secret_file": str(admin),
                "options": {"hook_secret_file": str(secret)},
            }
        ],
    )


# Bodies a sender that knows the secret may post, none of which holds a readable event.
UNREADABLE = [
    b"not json at all",
    b'{"type": 1}',  # an event without a timestamp
    b"[" * 100_000 + b"]" * 100_000,  # beyond the API's JSON depth
    b'{"a":' * 40 + b"1" + b"}" * 40,
    b"\xff\xfe{}",  # not UTF-8
    # Shapes the parser does not expect in places it does not look first.
    json.dumps(
        [{"type": 2, "timestamp": 1, "handle_id": {"a": 1}, "event": {"name": "detached"}}]
    ).encode(),
    json.dumps(
        [{"type": 2, "timestamp": 1, "handle_id": [1], "event": {"name": "detached"}}]
    ).encode(),
]


async def rejected(app: Any) -> list[RejectedHookBody]:
    async with app[SESSIONS]() as session:
        return list((await session.scalars(select(RejectedHookBody))).all())


@pytest.mark.parametrize("body", UNREADABLE, ids=range(len(UNREADABLE)))
async def test_an_unreadable_janus_event_body_is_kept_and_answered_200(
    app_client: TestClient[Any, Any], body: bytes
) -> None:
    response = await app_client.post(
        f"/api/hooks/janus?token={HOOK_SECRET}",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    answer = await response.json()
    assert response.status == 200, answer
    assert answer["received"] == 0
    assert answer["rejected_id"] is not None and answer["rejected_reason"]
    (kept,) = await rejected(app_client.server.app)
    assert kept.bridge == "janus"


async def test_wrong_credentials_are_still_refused(app_client: TestClient[Any, Any]) -> None:
    response = await app_client.post(
        "/api/hooks/janus?token=sai", data=b"[]", headers={"Content-Type": "application/json"}
    )
    assert response.status == 401
    assert await rejected(app_client.server.app) == []
