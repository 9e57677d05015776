"""A collection with the five usual operations (list, create, read, change, delete), declared
once from its path, models, service methods and roles.

``GET path`` lists a page of what the caller may see (``?cursor=``), ``POST path`` creates
(201, ``Location``), and ``GET``, ``PATCH`` and ``DELETE path/{id}`` read, change and delete
(204) one item.  Operation ids are ``list_<plural>``, ``create_<name>``, ``get_<name>``,
``update_<name>`` and ``delete_<name>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel

from vcorch.access import Actor, Principal, Role
from vcorch.web.api import ApiRoutes, decode_cursor, encode_cursor
from vcorch.web.pipeline import Created, NoContent

S = TypeVar("S")


class Listing(Protocol):
    @property
    def items(self) -> Sequence[object]: ...

    @property
    def next_after(self) -> int | None: ...


class Identified(Protocol):
    @property
    def id(self) -> int: ...


class Paged(Protocol):
    @property
    def cursor(self) -> str | None: ...


@dataclass(frozen=True)
class Summaries:
    list: str
    create: str
    get: str
    update: str
    delete: str


@dataclass(frozen=True)
class Methods(Generic[S]):
    """The service's five methods, unbound (``RoomsService.list_rooms``)."""

    list: Callable[[S, Principal, Any, int | None], Awaitable[Listing]]
    create: Callable[[S, Actor, Any], Awaitable[Identified]]
    get: Callable[[S, Principal, int], Awaitable[object]]
    update: Callable[[S, Actor, int, Any], Awaitable[object]]
    delete: Callable[[S, Actor, int], Awaitable[None]]


@dataclass(frozen=True)
class CrudResource(Generic[S]):
    path: str
    name: str
    plural: str
    service: Callable[[web.Application], S]
    methods: Methods[S]
    query: type[BaseModel]
    page: type[BaseModel]
    create_body: type[BaseModel]
    update_body: type[BaseModel]
    out: type[BaseModel]
    summaries: Summaries
    readers: Iterable[Role]
    writers: Iterable[Role]

    def _view(self, item: object) -> BaseModel:
        return self.out.model_validate(item, from_attributes=True)

    def declare(self, routes: ApiRoutes) -> None:
        """Declare the five operations in ``routes`` (in the order list, create, get, update,
        delete, which is also their order in the OpenAPI document)."""
        resource, one = self, f"{self.path}/{{id}}"
        methods = self.methods

        async def list_(query: Paged, me: Principal, app: web.Application) -> BaseModel:
            listing = await methods.list(
                resource.service(app), me, query, decode_cursor(query.cursor)
            )
            after = listing.next_after
            return resource.page(
                items=[resource._view(item) for item in listing.items],
                next=encode_cursor(after) if after is not None else None,
            )

        async def create(body: BaseModel, actor: Actor, app: web.Application) -> Created:
            item = await methods.create(resource.service(app), actor, body)
            return Created(resource._view(item), location=f"{resource.path}/{item.id}")

        async def get(id: int, me: Principal, app: web.Application) -> BaseModel:
            return resource._view(await methods.get(resource.service(app), me, id))

        async def update(id: int, body: BaseModel, actor: Actor, app: web.Application) -> BaseModel:
            return resource._view(await methods.update(resource.service(app), actor, id, body))

        async def delete(id: int, actor: Actor, app: web.Application) -> NoContent:
            await methods.delete(resource.service(app), actor, id)
            return NoContent()

        # The declaration reads parameter types from the annotations: these name the
        # resource's own models, which the generic functions above cannot spell.
        _typed(list_, f"list_{self.plural}", query=self.query, ret=self.page)
        _typed(create, f"create_{self.name}", body=self.create_body)
        _typed(get, f"get_{self.name}", ret=self.out)
        _typed(update, f"update_{self.name}", body=self.update_body, ret=self.out)
        _typed(delete, f"delete_{self.name}")
        summaries, readers, writers = self.summaries, tuple(self.readers), tuple(self.writers)
        routes.get(
            self.path, summary=summaries.list, query=self.query, response=self.page, roles=readers
        )(list_)
        routes.post(
            self.path,
            summary=summaries.create,
            body=self.create_body,
            response=self.out,
            status=201,
            roles=writers,
        )(create)
        routes.get(one, summary=summaries.get, response=self.out, roles=readers)(get)
        routes.patch(
            one, summary=summaries.update, body=self.update_body, response=self.out, roles=writers
        )(update)
        routes.delete(one, summary=summaries.delete, status=204, roles=writers)(delete)


def _typed(
    handler: Callable[..., Any],
    name: str,
    *,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    ret: type[BaseModel] | None = None,
) -> None:
    hints: dict[str, Any] = {
        "me": Principal,
        "actor": Actor,
        "app": web.Application,
        "id": int,
        "return": ret if ret is not None else handler.__annotations__["return"],
    }
    if query is not None:
        hints["query"] = query
    if body is not None:
        hints["body"] = body
    handler.__annotations__ = {key: hints[key] for key in handler.__annotations__ if key in hints}
    handler.__name__ = handler.__qualname__ = name
