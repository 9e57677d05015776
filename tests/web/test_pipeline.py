"""The request pipeline: a handler's signature is checked against its declaration when it is
declared, its parameters are filled from the parsed request, its return value is the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, ConfigDict

from vcorch.access.principal import Actor, Principal, Role
from vcorch.problem_types import problem_for
from vcorch.rooms.routes import routes as rooms_routes
from vcorch.web.api import ApiRequest, ApiRoutes, Created, NoContent, Reply
from vcorch.web.keys import PRINCIPAL_RESOLVER, PROBLEMS
from vcorch.web.middleware import problems_middleware
from vcorch.web.pipeline import SignatureMismatch
from vcorch.web.resource import CrudResource, Methods, Summaries


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = 10


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    name: str
    limit: int = 0
    who: str = ""


class Other(BaseModel):
    x: int = 0


ME = Principal(kind="user", id=7, name="an", role=Role.ADMIN, unit_id=1, unit_path="/1/")


async def _resolve(token: str) -> Principal:
    return ME


Serve = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    clients: list[TestClient[Any, Any]] = []

    async def start(
        routes: ApiRoutes, configure: Callable[[web.Application], None] = lambda app: None
    ) -> TestClient[Any, Any]:
        app = web.Application(middlewares=[problems_middleware])
        app[PROBLEMS] = problem_for
        app[PRINCIPAL_RESOLVER] = _resolve
        configure(app)
        routes.mount(app)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


AUTH = {"Authorization": "Bearer t"}


# -- declaration --------------------------------------------------------------------------


async def takes_nothing() -> None:
    return None


async def takes_body(data: Body) -> None:
    return None


async def takes_other_model(data: Other) -> None:
    return None


async def takes_id(id: int) -> None:
    return None


async def takes_float_id(id: float) -> None:
    return None


async def takes_me(me: Principal) -> None:
    return None


async def takes_actor(actor: Actor) -> None:
    return None


async def takes_default(request: web.Request, x: int = 1) -> None:
    return None


async def takes_var_args(*args: int) -> None:
    return None


async def returns_no_content() -> NoContent:
    return NoContent()


async def returns_created() -> Created:
    return Created(Out(id=1, name="x"))


async def returns_out() -> Out:
    return Out(id=1, name="x")


MISMATCHES: list[tuple[str, Callable[..., Any], dict[str, Any], str]] = [
    ("a declared body not taken", takes_nothing, {"body": Body}, "body the handler"),
    ("a declared form not taken", takes_nothing, {"form": Body}, "body the handler"),
    ("a declared query not taken", takes_nothing, {"query": Query}, "query the handler"),
    ("a model that is not declared", takes_other_model, {"body": Body}, "Other"),
    ("a model with nothing declared", takes_body, {}, "Body"),
    ("a path id the path lacks", takes_id, {}, "nothing fills id"),
    ("a path part of another type", takes_float_id, {"path": "/x/{id}"}, "int or a str"),
    ("the caller, unauthenticated", takes_me, {"authenticated": False}, "not authenticated"),
    ("the actor, unauthenticated", takes_actor, {"authenticated": False}, "not authenticated"),
    ("a default value", takes_default, {}, "default"),
    ("*args", takes_var_args, {}, "by name"),
    ("NoContent without 204", returns_no_content, {}, "NoContent"),
    ("Created without 201", returns_created, {"response": Out}, "Created"),
    ("a model, no response declared", returns_out, {}, "not the declared response"),
    ("another model than the response", returns_out, {"response": Other}, "not the declared"),
]


@pytest.mark.parametrize(
    ("handler", "declaration", "message"),
    [case[1:] for case in MISMATCHES],
    ids=[case[0] for case in MISMATCHES],
)
def test_a_signature_that_does_not_fit_fails_at_declaration(
    handler: Callable[..., Any], declaration: dict[str, Any], message: str
) -> None:
    routes = ApiRoutes(tag="t")
    declaration = dict(declaration)
    path = declaration.pop("path", "/x")
    with pytest.raises(SignatureMismatch, match=message):
        routes.post(path, summary="s", **declaration)(handler)
    assert routes.operations == []


FITS: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
    ("a body", takes_body, {"body": Body}),
    ("a form as the body", takes_body, {"form": Body}),
    ("a path id", takes_id, {"path": "/x/{id:[0-9]+}"}),
    ("the caller", takes_me, {}),
    ("the actor", takes_actor, {}),
    ("NoContent with 204", returns_no_content, {"status": 204}),
    ("Created with 201", returns_created, {"status": 201, "response": Out}),
    ("the declared model", returns_out, {"response": Out}),
]


@pytest.mark.parametrize(
    ("handler", "declaration"), [case[1:] for case in FITS], ids=[case[0] for case in FITS]
)
def test_a_signature_that_fits_is_declared(
    handler: Callable[..., Any], declaration: dict[str, Any]
) -> None:
    routes = ApiRoutes(tag="t")
    declaration = dict(declaration)
    path = declaration.pop("path", "/x")
    routes.post(path, summary="s", **declaration)(handler)
    assert [op.operation_id for op in routes.operations] == [handler.__name__]


# -- requests -------------------------------------------------------------------------------


async def test_body_query_path_and_caller_are_parsed_and_passed(
    serve: Serve,
) -> None:
    routes = ApiRoutes(tag="t")
    seen: dict[str, Any] = {}

    @routes.post(
        "/things/{id:[0-9]+}/{slug}",
        summary="s",
        body=Body,
        query=Query,
        response=Out,
        status=202,
    )
    async def change_thing(
        id: int, slug: str, data: Body, query: Query, me: Principal, actor: Actor, call: ApiRequest
    ) -> Out:
        seen.update(slug=slug, actor=actor, call=call)
        return Out(id=id, name=data.name, limit=query.limit, who=me.name)

    client = await serve(routes)
    response = await client.post(
        "/things/42/abc?limit=3", json={"name": "n"}, headers={**AUTH, "X-Request-ID": "r1"}
    )
    assert response.status == 202
    assert await response.json() == {"id": 42, "name": "n", "limit": 3, "who": "an"}
    assert seen["slug"] == "abc"
    assert seen["actor"].principal == ME and seen["actor"].request_id == "r1"
    assert seen["call"].body == Body(name="n") and seen["call"].query == Query(limit=3)

    response = await client.post("/things/42/abc", json={"name": 5}, headers=AUTH)
    assert response.status == 422
    response = await client.post("/things/42/abc?limit=x", json={"name": "n"}, headers=AUTH)
    assert response.status == 422
    response = await client.post("/things/42/abc", json={"name": "n"})
    assert response.status == 401


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("1", 200),
        ("2147483647", 200),
        ("2147483648", 404),
        ("0000000000000000001", 404),
        ("12a", 404),
        ("-1", 404),
    ],
)
async def test_path_ids_are_checked_like_the_database_columns(
    serve: Serve, raw: str, status: int
) -> None:
    routes = ApiRoutes(tag="t")

    @routes.get("/things/{id}", summary="s", response=Out, authenticated=False)
    async def get_thing(id: int) -> Out:
        return Out(id=id, name="x")

    client = await serve(routes)
    response = await client.get(f"/things/{raw}")
    assert response.status == status
    if status == 404:
        body = await response.json()
        assert body["type"] == "urn:vcorch:problem:not-found" and body["detail"] == "no such id"


@pytest.mark.parametrize(
    ("raw", "status"),
    [("-5", 200), ("5", 200), ("-2147483647", 200), ("-2147483648", 404), ("--5", 404)],
)
async def test_a_path_pattern_with_a_sign_gives_negative_ids(
    serve: Serve, raw: str, status: int
) -> None:
    routes = ApiRoutes(tag="t")

    @routes.get("/sites/{site_id:-?[0-9]+}", summary="s", response=Out, authenticated=False)
    async def get_site(site_id: int) -> Out:
        return Out(id=site_id, name="x")

    client = await serve(routes)
    response = await client.get(f"/sites/{raw}")
    assert response.status == status
    if status == 200:
        assert (await response.json())["id"] == int(raw)


async def test_typed_answers(
    serve: Serve,
) -> None:
    routes = ApiRoutes(tag="t")

    @routes.post("/made", summary="s", response=Out, status=201, authenticated=False)
    async def make() -> Created:
        return Created(Out(id=5, name="x"), location="/made/5", headers={"ETag": '"v1"'})

    @routes.delete("/made", summary="s", status=204, authenticated=False)
    async def unmake() -> NoContent:
        return NoContent()

    @routes.operation("PUT", "/made", summary="s", response=Out, status=201, authenticated=False)
    async def maybe_make(request: web.Request) -> Reply:
        again = "again" in request.query
        return Reply(Out(id=5, name="x"), status=200 if again else None, headers={"X-A": "1"})

    @routes.get("/made.txt", summary="s", authenticated=False, response_content_type="text/plain")
    async def as_text(app: web.Application) -> web.StreamResponse:
        return web.Response(text=f"{len(app.router.routes())}")

    @routes.get("/wrong", summary="s", response=Out, authenticated=False)
    async def wrong() -> Any:
        return Other()

    client = await serve(routes)
    response = await client.post("/made")
    assert response.status == 201
    assert response.headers["Location"] == "/made/5" and response.headers["ETag"] == '"v1"'
    assert await response.json() == {"id": 5, "name": "x", "limit": 0, "who": ""}
    response = await client.delete("/made")
    assert response.status == 204 and await response.read() == b""
    response = await client.put("/made")
    assert response.status == 201 and response.headers["X-A"] == "1"
    response = await client.put("/made?again")
    assert response.status == 200
    response = await client.get("/made.txt")
    assert response.status == 200 and response.content_type == "text/plain"
    # An answer the OpenAPI document does not describe is a bug, not an answer.
    response = await client.get("/wrong")
    assert response.status == 500


# -- the CRUD resource ------------------------------------------------------------------------


class ThingQuery(BaseModel):
    cursor: str | None = None


class ThingPage(BaseModel):
    items: list[Out]
    next: str | None


@dataclass
class Thing:
    id: int
    name: str


@dataclass
class Listing:
    items: list[Thing]
    next_after: int | None


@dataclass
class Things:
    rows: dict[int, Thing] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def list(self, who: Principal, query: Any, after: int | None) -> Listing:
        self.calls.append(f"list {who.name} {after}")
        items = [row for key, row in sorted(self.rows.items()) if after is None or key > after]
        return Listing(items[:1], items[0].id if len(items) > 1 else None)

    async def create(self, actor: Actor, data: Any) -> Thing:
        row = Thing(len(self.rows) + 1, data.name)
        self.rows[row.id] = row
        return row

    async def get(self, who: Principal, thing_id: int) -> Thing:
        return self.rows[thing_id]

    async def update(self, actor: Actor, thing_id: int, data: Any) -> Thing:
        self.rows[thing_id].name = data.name
        return self.rows[thing_id]

    async def delete(self, actor: Actor, thing_id: int) -> None:
        del self.rows[thing_id]


THINGS = web.AppKey("things", Things)


async def test_a_crud_resource_declares_the_five_operations(
    serve: Serve,
) -> None:
    routes = ApiRoutes(tag="t")
    CrudResource(
        path="/api/things",
        name="thing",
        plural="things",
        service=lambda app: app[THINGS],
        methods=Methods(
            list=Things.list,
            create=Things.create,
            get=Things.get,
            update=Things.update,
            delete=Things.delete,
        ),
        query=ThingQuery,
        page=ThingPage,
        create_body=Body,
        update_body=Body,
        out=Out,
        summaries=Summaries(list="l", create="c", get="g", update="u", delete="d"),
        readers=(Role.ADMIN, Role.OPERATOR),
        writers=(Role.ADMIN,),
    ).declare(routes)
    assert [(op.method, op.path, op.operation_id, op.status) for op in routes.operations] == [
        ("GET", "/api/things", "list_things", 200),
        ("POST", "/api/things", "create_thing", 201),
        ("GET", "/api/things/{id}", "get_thing", 200),
        ("PATCH", "/api/things/{id}", "update_thing", 200),
        ("DELETE", "/api/things/{id}", "delete_thing", 204),
    ]
    assert routes.operations[0].roles == {Role.ADMIN, Role.OPERATOR}
    assert routes.operations[1].roles == {Role.ADMIN}

    things = Things()
    client = await serve(routes, lambda app: app.__setitem__(THINGS, things))
    response = await client.post("/api/things", json={"name": "a"}, headers=AUTH)
    assert response.status == 201 and response.headers["Location"] == "/api/things/1"
    await client.post("/api/things", json={"name": "b"}, headers=AUTH)
    response = await client.get("/api/things", headers=AUTH)
    page = await response.json()
    assert [item["name"] for item in page["items"]] == ["a"] and page["next"]
    response = await client.get(f"/api/things?cursor={page['next']}", headers=AUTH)
    assert [item["name"] for item in (await response.json())["items"]] == ["b"]
    assert things.calls == ["list an None", "list an 1"]
    response = await client.patch("/api/things/2", json={"name": "c"}, headers=AUTH)
    assert (await response.json())["name"] == "c"
    response = await client.get("/api/things/2", headers=AUTH)
    assert (await response.json())["name"] == "c"
    response = await client.delete("/api/things/1", headers=AUTH)
    assert response.status == 204 and list(things.rows) == [2]


def test_units_rooms_and_endpoints_keep_their_operations() -> None:
    found = {
        op.operation_id: (op.method, op.path, op.status)
        for op in rooms_routes.operations
        if op.path.startswith(("/api/units", "/api/rooms", "/api/endpoints"))
    }
    expected = {}
    for plural, name in (("units", "unit"), ("rooms", "room"), ("endpoints", "endpoint")):
        path = f"/api/{plural}"
        expected |= {
            f"list_{plural}": ("GET", path, 200),
            f"create_{name}": ("POST", path, 201),
            f"get_{name}": ("GET", f"{path}/{{id}}", 200),
            f"update_{name}": ("PATCH", f"{path}/{{id}}", 200),
            f"delete_{name}": ("DELETE", f"{path}/{{id}}", 204),
        }
    assert found == expected
