"""What an error a handler lets through answers, on any route: the one table decides."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from vcorch.attendance.errors import CheckInLinkExpired
from vcorch.auth.errors import AuthenticationFailed, InvalidToken, TooManyAttempts
from vcorch.booking.errors import BookingConflict, StaleVersion
from vcorch.config import ConfigError
from vcorch.errors import FieldProblem, InvalidInput, NotFound, Reference, StillReferenced
from vcorch.join.errors import BridgeFull, LinkExpired
from vcorch.mcu_adapter.base import CapacityExceeded, DialFailed, NotSupported
from vcorch.mcu_adapter.errors import HookUnauthenticated, MalformedEvents
from vcorch.problem_types import domain_problem, problem_for, problem_type_of
from vcorch.rooms.errors import DuplicateCode
from vcorch.web.api import ApiRequest, ApiRoutes
from vcorch.web.keys import PROBLEMS
from vcorch.web.middleware import problems_middleware
from vcorch.web.problems import HttpProblem

STANDARD = {"type", "title", "status", "detail", "errors"}

CASES: list[tuple[Exception, int, str, dict[str, str], set[str]]] = [
    # error raised, status, type slug, headers expected, extra body members
    (NotFound("no such room"), 404, "not-found", {}, set()),
    (
        InvalidInput("bad", problems=[FieldProblem("name", "empty")]),
        422,
        "invalid-input",
        {},
        set(),
    ),
    (
        StillReferenced("in use", [Reference("room", 3, "Phòng A")]),
        409,
        "still-referenced",
        {},
        {"references"},
    ),
    (DuplicateCode("taken"), 409, "duplicate-code", {}, set()),
    (BookingConflict("1 clash", [{"kind": "room"}]), 409, "booking-conflict", {}, {"clashes"}),
    (StaleVersion("old"), 412, "stale-version", {}, set()),
    (AuthenticationFailed("wrong"), 400, "invalid-grant", {}, {"error"}),
    (
        InvalidToken("expired"),
        401,
        "invalid-token",
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        set(),
    ),
    (TooManyAttempts(7), 429, "too-many-attempts", {"Retry-After": "7"}, set()),
    # Link errors answer the same on every route, not only on their package's.
    (LinkExpired("ended"), 410, "link-expired", {}, set()),
    (CheckInLinkExpired("late"), 410, "checkin-link-expired", {}, set()),
    (BridgeFull("cap"), 503, "bridge-full", {}, set()),
    (HookUnauthenticated("wrong secret"), 401, "hook-unauthenticated", {}, set()),
    (MalformedEvents("not XML"), 400, "malformed-events", {}, set()),
    # A bridge error no service translated: the bridge's fault, not a bug of vcorch.
    (DialFailed("mcu", "busy"), 502, "dial-failed", {}, set()),
    (CapacityExceeded("mcu", "no port"), 503, "bridge-capacity-exceeded", {}, set()),
    (NotSupported("mcu", "no mute"), 501, "not-supported", {}, set()),
    # Not a refusal: a configuration error inside a request is a bug.
    (ConfigError("no secret"), 500, "internal-error", {}, set()),
]


@pytest.fixture
async def client(aiohttp_client: Any) -> Any:
    routes = ApiRoutes(tag="Test")

    @routes.post("/raise/{case}", summary="raise one of the cases", authenticated=False)
    async def raise_case(req: ApiRequest) -> web.StreamResponse:
        raise CASES[int(req.http.match_info["case"])][0]

    @routes.post("/problem", summary="raise an HttpProblem", authenticated=False)
    async def raise_problem(req: ApiRequest) -> web.StreamResponse:
        raise HttpProblem(415, "unsupported-media-type", "Unsupported media type", "send SDP")

    app = web.Application(middlewares=[problems_middleware])
    app[PROBLEMS] = problem_for
    routes.mount(app)
    return await aiohttp_client(app)


@pytest.mark.parametrize("case", range(len(CASES)), ids=lambda i: type(CASES[i][0]).__name__)
async def test_an_error_answers_its_problem_type(client: Any, case: int) -> None:
    err, status, slug, headers, extra = CASES[case]
    response = await client.post(f"/raise/{case}")
    body = await response.json(content_type="application/problem+json")
    assert (response.status, body["type"]) == (status, f"urn:vcorch:problem:{slug}")
    assert set(body) == STANDARD | extra
    for name, value in headers.items():
        assert response.headers[name] == value
    if status < 500:
        problem = problem_type_of(type(err))
        assert body["title"] == problem.title
        assert set(problem.fields) == extra and set(problem.headers) == set(headers)


async def test_a_problem_raised_directly_passes_unchanged(client: Any) -> None:
    response = await client.post("/problem")
    body = await response.json(content_type="application/problem+json")
    assert response.status == 415 and body["detail"] == "send SDP"


def test_the_hooks_refusals_answer_as_they_did_when_mapped_by_hand() -> None:
    before = [
        HttpProblem(401, "hook-unauthenticated", "Unauthenticated", "the hook secret is wrong"),
        HttpProblem(400, "malformed-events", "Malformed events", "not XML"),
    ]
    after = [
        domain_problem(HookUnauthenticated("the hook secret is wrong")),
        domain_problem(MalformedEvents("not XML")),
    ]
    for old, new in zip(before, after, strict=True):
        old_response, new_response = old.response(), new.response()
        assert old_response.status == new_response.status
        assert isinstance(old_response.body, bytes) and isinstance(new_response.body, bytes)
        assert json.loads(old_response.body) == json.loads(new_response.body)
