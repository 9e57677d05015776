"""The health API as operators, the secretariat and the leadership use it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.api import TEST_ACTOR, FakeClock
from tests.monitoring.conftest import Monitored
from vcorch.access.models import AuditEntry
from vcorch.auth.routes import AUTH
from vcorch.web.keys import SESSIONS


def _z(moment: object) -> str:
    from datetime import datetime

    assert isinstance(moment, datetime)
    return moment.isoformat().replace("+00:00", "Z")


async def test_never_probed_endpoints_are_unknown_in_the_contract_shape(
    monitored: Monitored,
) -> None:
    world = monitored.world
    status, page = await monitored.api.as_(world.tokens["laocai_op"]).get("/api/health/endpoints")
    assert status == 200, page
    assert page["next"] is None
    # An operator of Lào Cai sees the province and its commune, nothing else.
    assert [item["endpoint_id"] for item in page["items"]] == [
        world.endpoints["lao-cai"],
        world.endpoints["lao-cai.bac-ha"],
    ]
    for item in page["items"]:
        assert {"endpoint_id", "state", "since", "latency_ms"} <= set(item)
        assert item["state"] == "unknown"
        assert item["since"] is None and item["latency_ms"] is None
        assert item["probed"] is True and item["probe_enabled"] is True


async def test_states_after_a_sweep_and_the_filters(monitored: Monitored, clock: FakeClock) -> None:
    world = monitored.world
    await monitored.service.sweep_all(clock.now)
    leader = monitored.api.as_(world.tokens["leader"])
    status, page = await leader.get("/api/health/endpoints")
    assert status == 200
    by_id = {item["endpoint_id"]: item for item in page["items"]}
    central = by_id[world.endpoints["central"]]
    assert central["state"] == "up"
    assert central["since"] == _z(clock.now)
    assert central["latency_ms"] is not None and central["latency_ms"] >= 0
    assert central["status_code"] == 200 and central["probe_kind"] == "sip"
    refused = by_id[world.endpoints["dien-bien"]]
    assert refused["state"] == "down" and refused["detail"] == "refused"
    assert refused["latency_ms"] is None
    unknown_user = by_id[world.endpoints["lao-cai.bac-ha"]]
    # A 404 answers (reachable) but is not healthy: down, with the status to show why.
    assert unknown_user["state"] == "down" and unknown_user["status_code"] == 404
    assert unknown_user["unit_name"] == "Xã Bắc Hà"

    status, page = await leader.get("/api/health/endpoints?state=down")
    assert sorted(item["endpoint_id"] for item in page["items"]) == sorted(
        [world.endpoints["dien-bien"], world.endpoints["lao-cai.bac-ha"]]
    )
    status, page = await leader.get(f"/api/health/endpoints?unit={world.units['lao-cai']}")
    assert [item["endpoint_id"] for item in page["items"]] == [
        world.endpoints["lao-cai"],
        world.endpoints["lao-cai.bac-ha"],
    ]
    status, page = await leader.get(f"/api/health/endpoints?unit={world.units['lao-cai']}&state=up")
    assert [item["endpoint_id"] for item in page["items"]] == [world.endpoints["lao-cai"]]

    # Pages: one endpoint at a time, following the cursor.
    seen = []
    cursor = None
    for _ in range(10):
        query = "/api/health/endpoints?limit=1" + (f"&cursor={cursor}" if cursor else "")
        status, page = await leader.get(query)
        assert status == 200
        seen.extend(item["endpoint_id"] for item in page["items"])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == sorted(world.endpoints.values())


async def test_every_staff_role_reads_within_its_scope(monitored: Monitored) -> None:
    world = monitored.world
    for user in ("admin", "central_sec", "leader", "laocai_sec", "laocai_leader", "dienbien_op"):
        status, page = await monitored.api.as_(world.tokens[user]).get("/api/health/endpoints")
        assert status == 200, (user, page)
    status, page = await monitored.api.as_(world.tokens["dienbien_op"]).get("/api/health/endpoints")
    assert [item["endpoint_id"] for item in page["items"]] == [world.endpoints["dien-bien"]]
    # A unit outside one's scope is not found, whether it exists or not.
    status, problem = await monitored.api.as_(world.tokens["dienbien_op"]).get(
        f"/api/health/endpoints?unit={world.units['lao-cai']}"
    )
    assert status == 404 and problem["type"].endswith("not-found")
    status, _ = await monitored.api.get("/api/health/endpoints")
    assert status == 401
    # Integration clients read calendars and statistics, not the health of room systems.
    client, secret = await monitored.app[AUTH].create_client(
        TEST_ACTOR, name="Cổng tỉnh Lào Cai", unit_id=world.units["lao-cai"]
    )
    status, token = await monitored.api.call(
        "POST",
        "/api/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": secret,
        },
    )
    assert status == 200, token
    status, problem = await monitored.api.as_(token["access_token"]).get("/api/health/endpoints")
    assert status == 403, problem


async def test_bad_queries_are_named(monitored: Monitored) -> None:
    leader = monitored.api.as_(monitored.world.tokens["leader"])
    for query, field in (
        ("state=broken", "state"),
        ("unit=abc", "unit"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("kind=fax", "kind"),
        ("cursor=not-a-cursor", "cursor"),
    ):
        status, problem = await leader.get(f"/api/health/endpoints?{query}")
        assert status == 422, (query, problem)
        assert problem["errors"][0]["field"] == field, (query, problem)


async def test_history_and_uptime_over_a_period(monitored: Monitored, clock: FakeClock) -> None:
    world = monitored.world
    endpoint = world.endpoints["lao-cai"]
    start = clock.now
    await monitored.service.sweep_all(clock.now)  # unknown -> up at start
    # (Tokens last an hour of the fake clock too: the story fits in 50 minutes.)
    clock.advance(minutes=20)
    await monitored.point("lao-cai", monitored.refusing_address())
    for _ in range(3):  # three failures in a row take it down (hysteresis)
        await monitored.service.sweep_all(clock.now)
    went_down = clock.now
    clock.advance(minutes=20)
    operator = monitored.api.as_(world.tokens["laocai_op"])
    status, history = await operator.get(
        f"/api/endpoints/{endpoint}/health?from={_z(start - timedelta(minutes=10))}"
        f"&to={_z(clock.now)}"
    )
    assert status == 200, history
    assert history["state"] == "down" and history["since"] == _z(went_down)
    assert [(t["previous"], t["current"], t["at"]) for t in history["transitions"]] == [
        ("unknown", "up", _z(start)),
        ("up", "down", _z(went_down)),
    ]
    assert history["transitions"][1]["detail"] == "refused"
    assert history["transitions"][1]["cause"] == "sweep"
    # 10 minutes unknown, 20 up, 20 down: half of the known time was up.
    assert history["uptime"] == {
        "percent": 50.0,
        "up_seconds": 1200.0,
        "down_seconds": 1200.0,
        "unknown_seconds": 600.0,
    }
    assert history["from"] == _z(start - timedelta(minutes=10))

    # A period inside the outage: all down; the state at its start comes from before it.
    status, history = await operator.get(
        f"/api/endpoints/{endpoint}/health?from={_z(went_down + timedelta(minutes=5))}"
        f"&to={_z(went_down + timedelta(minutes=15))}"
    )
    assert history["transitions"] == []
    assert history["uptime"]["percent"] == 0.0 and history["uptime"]["down_seconds"] == 600.0

    # Default period: the last 24 hours; the future has no state.
    status, history = await operator.get(f"/api/endpoints/{endpoint}/health")
    assert status == 200
    assert history["uptime"]["up_seconds"] == 1200.0
    assert history["uptime"]["down_seconds"] == 1200.0


async def test_history_refuses_bad_periods_and_foreign_endpoints(monitored: Monitored) -> None:
    world = monitored.world
    operator = monitored.api.as_(world.tokens["laocai_op"])
    endpoint = world.endpoints["lao-cai"]
    cases = (
        ("from=2026-03-02T10:00:00Z&to=2026-03-02T09:00:00Z", 422, "from"),
        ("from=2026-03-02T10:00:00&to=2026-03-03T09:00:00Z", 422, "from"),
        ("from=2020-01-01T00:00:00Z&to=2026-03-03T09:00:00Z", 422, "from"),
        ("to=yesterday", 422, "to"),
    )
    for query, expected, field in cases:
        status, problem = await operator.get(f"/api/endpoints/{endpoint}/health?{query}")
        assert status == expected, (query, problem)
        assert problem["errors"][0]["field"] == field, (query, problem)
    status, _ = await operator.get(f"/api/endpoints/{world.endpoints['dien-bien']}/health")
    assert status == 404
    status, _ = await operator.get("/api/endpoints/999999/health")
    assert status == 404


async def test_probe_now_answers_and_counts_for_the_state(
    monitored: Monitored, clock: FakeClock
) -> None:
    world = monitored.world
    operator = monitored.api.as_(world.tokens["laocai_op"])
    endpoint = world.endpoints["lao-cai"]
    status, body = await operator.post(f"/api/endpoints/{endpoint}/probe")
    assert status == 200, body
    assert body["result"]["ok"] is True and body["result"]["status_code"] == 200
    assert body["result"]["latency_ms"] is not None
    assert body["health"]["state"] == "up" and body["health"]["since"] == _z(clock.now)
    assert body["probed_at"] == _z(clock.now)
    status, page = await operator.get("/api/health/endpoints?state=up")
    assert [item["endpoint_id"] for item in page["items"]] == [endpoint]
    # The probe is in the audit log, with who asked.
    async with monitored.app[SESSIONS]() as session:
        entries = list(
            (
                await session.execute(
                    select(AuditEntry).where(
                        AuditEntry.action == "probe", AuditEntry.entity_id == str(endpoint)
                    )
                )
            ).scalars()
        )
    assert [entry.actor for entry in entries] == ["user:laocai_op"]

    # The 404 endpoint: reachable, not healthy.
    status, body = await operator.post(f"/api/endpoints/{world.endpoints['lao-cai.bac-ha']}/probe")
    assert status == 200
    assert body["result"] == {
        "ok": False,
        "reachable": True,
        "latency_ms": body["result"]["latency_ms"],
        "detail": "404 Not Found",
        "status_code": 404,
        "measurements": {},
    }


async def test_probe_now_is_for_operators_in_scope_with_something_to_probe(
    monitored: Monitored,
) -> None:
    world = monitored.world
    endpoint = world.endpoints["lao-cai"]
    for user in ("laocai_sec", "laocai_leader", "leader"):
        status, problem = await monitored.api.as_(world.tokens[user]).post(
            f"/api/endpoints/{endpoint}/probe"
        )
        assert status == 403, (user, problem)
    status, _ = await monitored.api.as_(world.tokens["dienbien_op"]).post(
        f"/api/endpoints/{endpoint}/probe"
    )
    assert status == 404
    status, created = await monitored.admin.post(
        "/api/endpoints",
        {
            "room_id": world.rooms["lao-cai"],
            "name": "Máy tính trình duyệt",
            "kind": "webrtc",
            "address": "phong-hop-lao-cai",
        },
    )
    assert status == 201, created
    status, problem = await monitored.api.as_(world.tokens["laocai_op"]).post(
        f"/api/endpoints/{created['id']}/probe"
    )
    assert status == 422, problem
    assert problem["errors"][0]["field"] == "endpoint"
    status, page = await monitored.api.as_(world.tokens["laocai_op"]).get(
        "/api/health/endpoints?kind=webrtc"
    )
    assert [(item["state"], item["probed"]) for item in page["items"]] == [("unknown", False)]


async def test_the_health_routes_are_in_the_openapi_document(monitored: Monitored) -> None:
    status, document = await monitored.api.get("/api/openapi.json")
    assert status == 200
    paths = document["paths"]
    assert set(paths["/api/health/endpoints"]) == {"get"}
    assert set(paths["/api/endpoints/{id}/health"]) == {"get"}
    assert set(paths["/api/endpoints/{id}/probe"]) == {"post"}
    query = {p["name"] for p in paths["/api/endpoints/{id}/health"]["get"]["parameters"]}
    assert {"from", "to"} <= query
    history = document["components"]["schemas"]["HistoryOut"]["properties"]
    assert {"from", "to", "uptime", "transitions"} <= set(history)
