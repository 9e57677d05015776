"""A thin client for API tests: tokens, JSON in, (status, body) out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from vcorch.access.principal import Actor, Principal, Role
from vcorch.config import Settings

TEST_ACTOR = Actor(Principal("user", 0, "test-setup", Role.ADMIN, 0, "/"))
PASSWORD = "mật-khẩu-thử-nghiệm-1"


class FakeClock:
    """The service's clock, movable by tests (tokens, throttling windows)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": "test-signing-key-of-sufficient-length-0123456789",
        # Cheap hashing keeps the suite fast; production defaults are argon2's RFC 9106 ones.
        "password_time_cost": 1,
        "password_memory_kib": 8,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@dataclass
class Api:
    client: TestClient[Any, Any]
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def as_(self, token: str | None) -> Api:
        return Api(self.client, token)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        if self.token and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        response = await self.client.request(method, path, json=json, data=data, headers=sent)
        body: Any
        if response.content_type in ("application/json", "application/problem+json"):
            body = await response.json()
        else:
            body = await response.text()
        return response.status, body

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("POST", path, json=json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("PATCH", path, json=json, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("DELETE", path, **kw)

    async def login(self, username: str, password: str = PASSWORD) -> str:
        status, body = await self.call(
            "POST",
            "/api/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        assert status == 200, body
        token: str = body["access_token"]
        return token
