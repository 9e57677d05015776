"""Tokens: issued by both OAuth2 grants, refused when expired, forged, revoked or disabled."""

from __future__ import annotations

import jwt

from tests.api import PASSWORD, Api, FakeClock
from tests.world import World


async def test_no_token_is_refused_with_a_bearer_challenge(api: Api, world: World) -> None:
    response = await api.client.get("/api/rooms")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.content_type == "application/problem+json"


async def test_expired_token_is_refused(api: Api, world: World, clock: FakeClock) -> None:
    token = world.tokens["laocai_sec"]
    assert (await api.as_(token).get("/api/rooms"))[0] == 200
    clock.advance(seconds=3601)
    status, body = await api.as_(token).get("/api/rooms")
    assert status == 401 and "expired" in body["detail"]


async def test_forged_tokens_are_refused(api: Api, world: World) -> None:
    genuine = jwt.decode(world.tokens["laocai_sec"], options={"verify_signature": False})
    forged_claims = {**genuine, "sub": "user:1"}
    forgeries = [
        jwt.encode(forged_claims, "a-guessed-signing-key-that-is-long-enough!", algorithm="HS256"),
        jwt.encode(forged_claims, None, algorithm="none"),  # type: ignore[arg-type]
        world.tokens["laocai_sec"][:-4] + "AAAA",
        "not-a-token",
    ]
    for token in forgeries:
        status, _ = await api.as_(token).get("/api/rooms")
        assert status == 401


async def test_revoked_token_is_refused(api: Api, world: World) -> None:
    token = world.tokens["laocai_sec"]
    assert (await api.as_(token).post("/api/auth/revoke"))[0] == 204
    assert (await api.as_(token).get("/api/rooms"))[0] == 401


async def test_disabling_a_user_kills_its_tokens(api: Api, world: World) -> None:
    token = world.tokens["dienbien_op"]
    status, user = await api.as_(world.tokens["admin"]).patch(
        "/api/users/dienbien_op", {"disabled": True}
    )
    assert status == 200 and user["disabled"] is True
    assert (await api.as_(token).get("/api/rooms"))[0] == 401
    status, body = await api.call(
        "POST",
        "/api/auth/token",
        data={"grant_type": "password", "username": "dienbien_op", "password": PASSWORD},
    )
    assert status == 400 and body["error"] == "invalid_grant"


async def test_client_credentials_grant_reads_with_its_unit_scope(api: Api, world: World) -> None:
    status, created = await api.as_(world.tokens["admin"]).post(
        "/api/clients", {"name": "Cổng thông tin Lào Cai", "unit_id": world.units["lao-cai"]}
    )
    assert status == 201
    status, token = await api.call(
        "POST",
        "/api/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert status == 200 and token["token_type"] == "bearer" and token["expires_in"] > 0
    portal = api.as_(token["access_token"])
    status, rooms = await portal.get("/api/rooms")
    assert {r["unit_id"] for r in rooms["items"]} <= {
        world.units["lao-cai"],
        world.units["lao-cai.bac-ha"],
    }
    assert (await portal.post("/api/rooms", {"unit_id": world.units["lao-cai"], "name": "x"}))[
        0
    ] == 403
    status, _ = await api.call(
        "POST",
        "/api/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": "wrong",
        },
    )
    assert status == 400


async def test_failed_logins_are_throttled_per_account(
    api: Api, world: World, clock: FakeClock
) -> None:
    async def attempt(password: str) -> tuple[int, object]:
        return await api.call(
            "POST",
            "/api/auth/token",
            data={"grant_type": "password", "username": "laocai_op", "password": password},
        )

    for _ in range(5):
        assert (await attempt("sai mật khẩu"))[0] == 400
    status, _ = await attempt(PASSWORD)
    assert status == 429
    response = await api.client.post(
        "/api/auth/token",
        data={"grant_type": "password", "username": "laocai_op", "password": PASSWORD},
    )
    assert int(response.headers["Retry-After"]) > 0
    clock.advance(seconds=901)
    assert (await attempt(PASSWORD))[0] == 200


async def test_token_request_without_credentials_names_the_fields(api: Api, world: World) -> None:
    status, body = await api.call("POST", "/api/auth/token", data={"grant_type": "password"})
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"username", "password"}
    status, body = await api.call("POST", "/api/auth/token", data={"grant_type": "implicit"})
    assert status == 422 and body["errors"][0]["field"] == "grant_type"


async def test_failed_logins_are_throttled_per_address(api: Api, world: World) -> None:
    async def attempt(username: str, password: str) -> int:
        status, _ = await api.call(
            "POST",
            "/api/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        return status

    # Spraying one guess over many accounts trips the per-address limit (20 by default).
    for index in range(20):
        assert await attempt(f"khong-co-{index}", "doan-mo") == 400
    assert await attempt("admin", PASSWORD) == 429
