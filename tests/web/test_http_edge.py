"""The HTTP edge: problem+json for every failure, limits, the OpenAPI document, health."""

from __future__ import annotations

import io
import json
from typing import Any

from aiohttp.test_utils import TestClient

from tests.api import Api
from tests.world import World


async def raw_post(
    client: TestClient[Any, Any], token: str, body: bytes, content_type: str = "application/json"
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/api/units",
        data=io.BytesIO(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    assert response.content_type == "application/problem+json"
    return response.status, await response.json()


async def test_unknown_route_and_method_answer_problems(api: Api, world: World) -> None:
    response = await api.client.get("/api/nothing-here")
    assert response.status == 404 and response.content_type == "application/problem+json"
    response = await api.client.put(
        "/api/units", headers={"Authorization": f"Bearer {world.tokens['admin']}"}
    )
    assert response.status == 405
    assert (await response.json())["type"] == "urn:vcorch:problem:method-not-allowed"


async def test_huge_body_is_refused_before_parsing(api: Api, world: World) -> None:
    big = json.dumps({"code": "x", "name": "a" * 2_000_000}).encode()
    status, body = await raw_post(api.client, world.tokens["admin"], big)
    assert status == 413 and body["type"] == "urn:vcorch:problem:payload-too-large"


async def test_invalid_utf8_deep_json_and_garbage_are_400(api: Api, world: World) -> None:
    token = world.tokens["admin"]
    status, body = await raw_post(api.client, token, b'{"code": "\xff\xfe", "name": "x"}')
    assert status == 400 and "UTF-8" in body["detail"]
    status, body = await raw_post(api.client, token, b"[" * 5000 + b"]" * 5000)
    assert status == 400 and "nested" in body["detail"]
    status, body = await raw_post(api.client, token, b'{"a": ' * 40 + b"1" + b"}" * 40)
    assert status == 400 and "nested" in body["detail"]
    status, body = await raw_post(api.client, token, b"{not json")
    assert status == 400 and body["errors"][0]["field"] == "body"
    status, body = await raw_post(api.client, token, b"[1, 2]")
    assert status == 400
    status, body = await raw_post(api.client, token, b"code=x", "application/x-www-form-urlencoded")
    assert status == 415


async def test_path_and_query_garbage_are_4xx(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    assert (await admin.get("/api/units/1%27%20OR%201=1"))[0] == 404
    assert (await admin.get("/api/units/99999999999999999999999"))[0] == 404
    status, body = await admin.get("/api/units?limit=0")
    assert status == 422 and body["errors"][0]["field"] == "limit"
    status, body = await admin.get("/api/units?cursor=%00%00")
    assert status == 422 and body["errors"][0]["field"] == "cursor"
    status, body = await admin.get("/api/units?q=%25%27%3B%20DROP%20TABLE%20units")
    assert status == 200 and body["items"] == []
    assert (await admin.get("/api/units"))[0] == 200


async def test_openapi_documents_every_route_with_its_models(api: Api) -> None:
    status, document = await api.get("/api/openapi.json")
    assert status == 200 and document["openapi"] == "3.1.0"
    paths = document["paths"]
    for path, method in [
        ("/api/auth/token", "post"),
        ("/api/units", "post"),
        ("/api/units", "get"),
        ("/api/rooms/{id}", "patch"),
        ("/api/endpoints", "post"),
        ("/api/audit", "get"),
    ]:
        assert method in paths[path], (path, method)
    create_unit = paths["/api/units"]["post"]
    schema_ref = create_unit["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"code", "name", "level"}
    assert schema["additionalProperties"] is False
    token_form = paths["/api/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token_form
    assert paths["/api/auth/token"]["post"]["security"] == []
    status, page = await api.get("/api/docs")
    assert status == 200 and "/api/units" in page


async def test_health_and_readiness(api: Api) -> None:
    assert await api.get("/healthz") == (200, {"status": "ok"})
    status, body = await api.get("/readyz")
    assert status == 200 and body["checks"] == {"database": "ok", "migrations": "ok"}


async def test_readiness_fails_when_migrations_are_behind(api: Api) -> None:
    from sqlalchemy import text

    from vcorch.web.keys import ENGINE

    engine = api.client.server.app[ENGINE]
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    status, body = await api.get("/readyz")
    assert status == 503 and "vcorch db upgrade" in body["checks"]["migrations"]
