"""Throttles stop guessers, not owners (issue 16, findings 4, 5 and 10):

- a stranger's failed logins from another address never make the owner's correct password
  answer 429, for a user's password and for an integration client's secret;
- failures from one address slow that address and that (account, address) pair, with waits
  that grow and are capped, and end when the waits have passed;
- behind a trusted reverse proxy every user has an address of their own (the right-most
  ``X-Forwarded-For`` hop that is not a trusted proxy); from anyone else the header is not
  read, so it cannot be used to step around a throttle;
- the audit log records that same address;
- self check-ins are counted per address.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import PASSWORD, Api, FakeClock, make_settings
from tests.world import World
from vcorch.config import Settings
from vcorch.web.addresses import _networks, forwarded_client

PROXY = "127.0.0.1"  # the test client's peer: the reverse proxy in front of the service
STRANGER = "203.0.113.7"
OWNER = "198.51.100.2"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, trusted_proxies=[PROXY], checkin_max_per_address=3)


async def login(api: Api, address: str | None, **form: str) -> tuple[int, Any, dict[str, str]]:
    headers = {"X-Forwarded-For": address} if address else {}
    response = await api.client.post("/api/auth/token", data=form, headers=headers)
    return response.status, await response.json(), dict(response.headers)


def password(username: str, secret: str) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": secret}


async def test_a_strangers_guesses_never_lock_the_owner_out(api: Api, world: World) -> None:
    for _ in range(12):
        status, _, _ = await login(api, STRANGER, **password("laocai_op", "doan-mo"))
        assert status in (400, 429)
    # The stranger is slowed ...
    status, _, headers = await login(api, STRANGER, **password("laocai_op", PASSWORD))
    assert status == 429 and int(headers["Retry-After"]) >= 1
    # ... the owner, from their own address, is not.
    status, body, _ = await login(api, OWNER, **password("laocai_op", PASSWORD))
    assert status == 200, body


async def test_a_strangers_guesses_never_lock_an_integration_client_out(
    api: Api, world: World
) -> None:
    admin = api.as_(world.tokens["admin"])
    status, client = await admin.post(
        "/api/clients", {"name": "Cổng tỉnh", "unit_id": world.units["lao-cai"]}
    )
    assert status == 201, client

    def grant(secret: str) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": secret,
        }

    for _ in range(12):
        status, _, _ = await login(api, STRANGER, **grant("sai"))
        assert status in (400, 429)
    status, _, _ = await login(api, STRANGER, **grant(client["client_secret"]))
    assert status == 429
    status, body, _ = await login(api, OWNER, **grant(client["client_secret"]))
    assert status == 200, body


async def test_failures_wait_longer_each_time_up_to_a_cap(
    api: Api, world: World, clock: FakeClock
) -> None:
    for _ in range(5):  # the free failures of one account from one address
        status, _, _ = await login(api, STRANGER, **password("laocai_op", "doan-mo"))
        assert status == 400
    waits = []
    for _ in range(10):
        status, _, headers = await login(api, STRANGER, **password("laocai_op", "doan-mo"))
        assert status == 429
        waits.append(int(headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
        status, _, _ = await login(api, STRANGER, **password("laocai_op", "doan-mo"))
        assert status == 400  # the wait is over: one more try
    # Two seconds at first (not a quarter of an hour), doubling each time, then held at
    # the five-minute cap: reached, and not passed.
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300], waits
    # The owner logs in after the last wait; that clears the pair.
    status, _, headers = await login(api, STRANGER, **password("laocai_op", PASSWORD))
    clock.advance(seconds=int(headers.get("Retry-After", "0")))
    status, body, _ = await login(api, STRANGER, **password("laocai_op", PASSWORD))
    assert status == 200, body


async def test_invented_usernames_slow_only_their_address(api: Api, world: World) -> None:
    for index in range(20):
        status, _, _ = await login(api, STRANGER, **password(f"khong-co-{index}", "doan-mo"))
        assert status == 400
    status, _, _ = await login(api, STRANGER, **password("admin", PASSWORD))
    assert status == 429
    # Every other user behind the same proxy still logs in.
    status, body, _ = await login(api, OWNER, **password("admin", PASSWORD))
    assert status == 200, body
    status, body, _ = await login(api, "198.51.100.3", **password("laocai_op", PASSWORD))
    assert status == 200, body


async def test_the_right_most_untrusted_hop_is_the_client(api: Api, world: World) -> None:
    for index in range(20):
        # The client wrote the left part itself; the proxy appended what it saw.
        forwarded = f"10.9.9.{index}, {STRANGER}"
        status, _, _ = await login(api, forwarded, **password(f"khong-co-{index}", "x"))
        assert status == 400
    status, _, _ = await login(api, f"192.0.2.99, {STRANGER}", **password("admin", PASSWORD))
    assert status == 429


def test_forwarded_for_is_read_only_from_trusted_proxies() -> None:
    proxies = _networks(("10.0.0.0/8", "127.0.0.1"))
    assert forwarded_client("192.0.2.1", ["198.51.100.9"], proxies) == "192.0.2.1"
    assert forwarded_client("127.0.0.1", ["198.51.100.9"], proxies) == "198.51.100.9"
    assert forwarded_client("10.0.0.2", ["1.2.3.4, 198.51.100.9, 10.0.0.7"], proxies) == (
        "198.51.100.9"
    )
    assert forwarded_client("10.0.0.2", ["1.2.3.4", "198.51.100.9"], proxies) == "198.51.100.9"
    assert forwarded_client("10.0.0.2", [], proxies) == "10.0.0.2"
    assert forwarded_client("10.0.0.2", ["junk, 10.0.0.3"], proxies) == "10.0.0.3"
    assert forwarded_client("10.0.0.2", ["[2001:db8::1]:443"], proxies) == "2001:db8::1"
    assert forwarded_client("10.0.0.2", ["192.0.2.5:5060"], proxies) == "192.0.2.5"
    assert forwarded_client("::ffff:127.0.0.1", ["192.0.2.5"], proxies) == "192.0.2.5"
    assert forwarded_client("127.0.0.1", ["192.0.2.5"], ()) == "127.0.0.1"


@pytest.mark.parametrize("trusted", [[], ["192.0.2.0/24"]])
async def test_without_a_trusted_peer_the_header_is_ignored(
    database_url: str, aiohttp_client: Any, clock: FakeClock, trusted: list[str]
) -> None:
    from tests.world import build_world
    from vcorch.app import create_app

    app = create_app(
        make_settings(database_url, trusted_proxies=trusted), clock=clock, background=False
    )
    client = await aiohttp_client(app)
    api = Api(client)
    await build_world(client.server.app, api)
    for index in range(20):
        status, _, _ = await login(api, f"198.51.100.{index}", **password(f"khong-{index}", "x"))
        assert status == 400
    # Every request came from 127.0.0.1, whatever it claimed.
    status, _, _ = await login(api, "198.51.100.200", **password("admin", PASSWORD))
    assert status == 429


async def test_the_audit_log_records_the_client_address(api: Api, world: World) -> None:
    admin = api.as_(world.tokens["admin"])
    status, room = await admin.post(
        "/api/rooms",
        {"unit_id": world.units["lao-cai"], "name": "Phòng mới"},
        headers={"X-Forwarded-For": f"192.0.2.1, {OWNER}"},
    )
    assert status == 201, room
    status, page = await admin.get(f"/api/audit?entity=room&entity_id={room['id']}")
    assert status == 200, page
    assert [entry["address"] for entry in page["items"]] == [OWNER]


async def test_self_check_ins_are_counted_per_address(api: Api, world: World) -> None:
    public = api.as_(None)
    body = {"full_name": "Nguyễn Văn An"}
    for _ in range(3):
        status, problem = await public.post(
            "/api/checkin/khong-phai-lien-ket", body, headers={"X-Forwarded-For": STRANGER}
        )
        assert status in (400, 403), problem
    status, problem = await public.post(
        "/api/checkin/khong-phai-lien-ket", body, headers={"X-Forwarded-For": STRANGER}
    )
    assert status == 429, problem
    assert problem["type"] == "urn:vcorch:problem:too-many-attempts"
    status, problem = await public.post(
        "/api/checkin/khong-phai-lien-ket", body, headers={"X-Forwarded-For": OWNER}
    )
    assert status in (400, 403), problem


def test_trusted_proxies_are_addresses_or_networks() -> None:
    from vcorch.config import ConfigError, load_settings

    env = {"VCORCH_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16,2001:db8::/64"}
    assert load_settings(env).trusted_proxies == ["10.0.0.5", "10.1.0.0/16", "2001:db8::/64"]
    assert load_settings({"VCORCH_TRUSTED_PROXIES": '["127.0.0.1"]'}).trusted_proxies == [
        "127.0.0.1"
    ]
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings({"VCORCH_TRUSTED_PROXIES": "proxy.example.vn"})
