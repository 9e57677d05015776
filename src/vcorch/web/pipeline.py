"""Handlers as plain functions: what one takes is read from its signature once, when it is
declared, and what it returns becomes the answer.

A handler's parameters are named by their type: the declared body (or form) model, the
declared query model, :class:`Principal` (the caller), :class:`Actor` (the caller acting, for
the audit trail), :class:`ApiRequest`, ``web.Request`` or ``web.Application`` (headers, app
services); an ``int`` or ``str`` parameter named like a path part takes that part (an ``int``
is negative only where the path's pattern admits a sign, ``{site_id:-?[0-9]+}``).  A handler
returns a model (answered with the declared status), :class:`Reply`, :class:`Created`,
:class:`NoContent`, or a ``web.StreamResponse`` of its own for files, streams and pages.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from vcorch.access import Actor, Principal
from vcorch.web.addresses import client_address
from vcorch.web.problems import HttpProblem

# Ids and counts are 32-bit integer columns on PostgreSQL: a larger number in a query or a
# body could only fail inside the driver (a 500), so it is refused up front.
MAX_INT = 2**31 - 1
REQUEST_ID = web.RequestKey("request_id", str)

Source = Literal[
    "body", "query", "principal", "actor", "api", "request", "app", "id", "signed_id", "text"
]


class SignatureMismatch(TypeError):
    """A handler's signature does not fit its declaration (raised when it is declared)."""


def request_id(request: web.Request) -> str:
    value: str | None = request.get(REQUEST_ID)
    if value is not None:
        return value
    new = uuid.uuid4().hex
    request[REQUEST_ID] = new
    return new


@dataclass
class ApiRequest:
    """One validated API call, for the few handlers that need more than their parameters."""

    http: web.Request
    principal: Principal | None
    body: BaseModel | None = None
    query: BaseModel | None = None

    @property
    def me(self) -> Principal:
        if self.principal is None:
            raise TypeError("operation is not authenticated")
        return self.principal

    @property
    def actor(self) -> Actor:
        return Actor(self.me, request_id=request_id(self.http), address=client_address(self.http))


# -- answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A model with headers, or with a status other than the declared one."""

    body: BaseModel
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Created:
    """A model just created (the declared status is 201), with where it now lives."""

    body: BaseModel
    location: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NoContent:
    """Done, nothing to say (the declared status is 204)."""


def json_response(
    payload: BaseModel | Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    return web.Response(
        status=status,
        body=json.dumps(data, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def answer(result: object, status: int, response: type[BaseModel] | None) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    if isinstance(result, NoContent):
        return web.Response(status=204)
    if isinstance(result, Reply):
        return json_response(
            _documented(result.body, response),
            status=result.status or status,
            headers=result.headers,
        )
    if isinstance(result, Created):
        headers = dict(result.headers)
        if result.location is not None:
            headers["Location"] = result.location
        return json_response(_documented(result.body, response), status=status, headers=headers)
    if isinstance(result, BaseModel):
        return json_response(_documented(result, response), status=status)
    raise TypeError(f"a handler returned {type(result).__name__}, which is no answer")


def _documented(model: BaseModel, response: type[BaseModel] | None) -> BaseModel:
    if response is None or not isinstance(model, response):
        # The OpenAPI document would lie about this answer.
        raise TypeError(f"a handler answered {type(model).__name__}, not its declared response")
    return model


# -- parameters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    source: Source


@dataclass(frozen=True)
class Declared:
    """What a declaration says, for checking a handler's signature against it."""

    method: str
    path: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    authenticated: bool


def placeholders(path: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each aiohttp placeholder: ``{id}``, ``{id:[0-9]+}``, also
    when the pattern has braces of its own (``{token:[0-9A-Za-z._-]{1,200}}``)."""
    found = []
    index = 0
    while (start := path.find("{", index)) != -1:
        depth, end = 0, start
        for end in range(start, len(path)):
            depth += {"{": 1, "}": -1}.get(path[end], 0)
            if depth == 0:
                break
        name = path[start + 1 : end].split(":", 1)[0]
        found.append((start, end + 1, name))
        index = end + 1
    return found


_FIXED: dict[object, Source] = {
    Principal: "principal",
    Actor: "actor",
    ApiRequest: "api",
    web.Request: "request",
    web.Application: "app",
}


def bind(handler: Callable[..., Any], declared: Declared) -> tuple[Param, ...]:
    where = f"{declared.method} {declared.path} ({handler.__name__})"
    try:
        hints = typing.get_type_hints(handler)
    except NameError as err:
        raise SignatureMismatch(f"{where}: {err}") from err
    parts = {
        name: declared.path[start:end].startswith(f"{{{name}:-")
        for start, end, name in placeholders(declared.path)
    }
    params = []
    for parameter in inspect.signature(handler).parameters.values():
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise SignatureMismatch(f"{where}: {parameter} cannot be filled by name")
        if parameter.default is not parameter.empty:
            raise SignatureMismatch(f"{where}: {parameter.name} has a default, never used")
        if parameter.name not in hints:
            raise SignatureMismatch(f"{where}: {parameter.name} has no type")
        source = _source(where, parameter.name, hints[parameter.name], declared, parts)
        params.append(Param(parameter.name, source))
    taken = {param.source for param in params}
    for source, model in (("body", declared.body), ("query", declared.query)):
        if model is not None and source not in taken:
            raise SignatureMismatch(f"{where}: declares a {source} the handler does not take")
    if "return" in hints:
        _check_return(where, hints["return"], declared)
    return tuple(params)


def _source(
    where: str, name: str, hint: object, declared: Declared, parts: dict[str, bool]
) -> Source:
    if declared.body is not None and hint is declared.body:
        return "body"
    if declared.query is not None and hint is declared.query:
        return "query"
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        raise SignatureMismatch(f"{where}: {name}: {hint.__name__} is not a declared body/query")
    fixed = _FIXED.get(hint)
    if fixed is not None:
        if fixed in ("principal", "actor") and not declared.authenticated:
            raise SignatureMismatch(f"{where}: {name}: the operation is not authenticated")
        return fixed
    if name in parts and hint is str:
        return "text"
    if name in parts and hint is int:
        return "signed_id" if parts[name] else "id"
    if name in parts:
        raise SignatureMismatch(f"{where}: path part {name} is an int or a str")
    raise SignatureMismatch(f"{where}: nothing fills {name}: {hint!r}")


def _check_return(where: str, hint: object, declared: Declared) -> None:
    origin = typing.get_origin(hint)
    options = typing.get_args(hint) if origin in (typing.Union, types.UnionType) else (hint,)
    for option in options:
        if option is NoContent and declared.status != 204:
            raise SignatureMismatch(f"{where}: returns NoContent but declares {declared.status}")
        if option is Created and declared.status != 201:
            raise SignatureMismatch(f"{where}: returns Created but declares {declared.status}")
        is_model = isinstance(option, type) and issubclass(option, BaseModel)
        if is_model and (declared.response is None or not issubclass(option, declared.response)):
            raise SignatureMismatch(f"{where}: returns {option!r}, not the declared response")


def path_id(request: web.Request, name: str, *, signed: bool = False) -> int:
    raw = request.match_info[name]
    digits = raw.removeprefix("-") if signed else raw
    if not re.fullmatch(r"[0-9]{1,18}", digits) or int(digits) > MAX_INT:
        raise HttpProblem(404, "not-found", "Not found", f"no such {name}")
    return int(raw)


def path_text(request: web.Request, name: str) -> str:
    raw = request.match_info[name]
    if "\x00" in raw:
        # No name or token holds one, and PostgreSQL refuses it in a query.
        raise HttpProblem(404, "not-found", "Not found", f"no such {name}")
    return raw


def arguments(params: tuple[Param, ...], call: ApiRequest) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in params:
        match param.source:
            case "body":
                values[param.name] = call.body
            case "query":
                values[param.name] = call.query
            case "principal":
                values[param.name] = call.me
            case "actor":
                values[param.name] = call.actor
            case "api":
                values[param.name] = call
            case "request":
                values[param.name] = call.http
            case "app":
                values[param.name] = call.http.app
            case "id":
                values[param.name] = path_id(call.http, param.name)
            case "signed_id":
                values[param.name] = path_id(call.http, param.name, signed=True)
            case "text":
                values[param.name] = path_text(call.http, param.name)
    return values
