"""Declaring API operations once: routing, validation, access and OpenAPI from the same models.

A package's ``routes.py`` creates an :class:`ApiRoutes`, declares each operation with the
pydantic models that validate its query and body and describe its answer.  The handler takes
what it needs as parameters and returns its answer (``pipeline.py``); its signature is checked
against the declaration when it is declared.  The errors its handlers let through answer as
``problem_types.py`` says.  ``app.py`` mounts every table; ``openapi.py`` documents them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from vcorch.access import Principal, Role
from vcorch.errors import FieldProblem, PermissionDenied, VcorchError
from vcorch.web.keys import PRINCIPAL_RESOLVER, PROBLEMS
from vcorch.web.pipeline import MAX_INT as MAX_INT
from vcorch.web.pipeline import REQUEST_ID as REQUEST_ID
from vcorch.web.pipeline import ApiRequest as ApiRequest
from vcorch.web.pipeline import Created as Created
from vcorch.web.pipeline import Declared, Param, answer, arguments, bind
from vcorch.web.pipeline import NoContent as NoContent
from vcorch.web.pipeline import Reply as Reply
from vcorch.web.pipeline import json_response as json_response
from vcorch.web.pipeline import request_id as request_id
from vcorch.web.problems import HttpProblem

M = TypeVar("M", bound=BaseModel)
# A handler takes what its declaration names (see ``bind_handler``) and returns a model, a
# typed answer (Reply, Created, NoContent) or, for files and pages, a response of its own.
Handler = Callable[..., Awaitable[Any]]
H = TypeVar("H", bound=Handler)

MAX_JSON_DEPTH = 32
# Far enough for any meeting or report, far enough from year 1 and 9999 that no sum of a
# date and a duration the service computes leaves the calendar (OverflowError).
MIN_YEAR = 1900
MAX_YEAR = 8999
# RFC 6750 b64token: anything else cannot be a token of ours, and may not even be text.
BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None
    form: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    roles: frozenset[Role] | None
    authenticated: bool
    response_content_type: str = "application/json"
    description: str = ""
    params: tuple[Param, ...] = ()

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


@dataclass
class ApiRoutes:
    tag: str
    operations: list[Operation] = field(default_factory=list)

    def operation(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        form: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        roles: Iterable[Role] | None = None,
        authenticated: bool = True,
        response_content_type: str = "application/json",
        description: str = "",
    ) -> Callable[[H], H]:
        def register(handler: H) -> H:
            declared = Declared(method, path, body or form, query, response, status, authenticated)
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=self.tag,
                    body=body,
                    form=form,
                    query=query,
                    response=response,
                    status=status,
                    roles=frozenset(roles) if roles is not None else None,
                    authenticated=authenticated,
                    response_content_type=response_content_type,
                    description=description,
                    params=bind(handler, declared),
                )
            )
            return handler

        return register

    def get(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.operation("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.operation("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.operation("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.operation("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[H], H]:
        return self.operation("DELETE", path, **kwargs)

    def mount(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, _endpoint(op), name=op.operation_id)


# -- request handling ---------------------------------------------------------------------


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validation_problem(err: ValidationError, where: str) -> HttpProblem:
    problems = []
    for item in err.errors(include_url=False):
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(FieldProblem(_field_name(item["loc"]), message))
    return HttpProblem(
        422,
        "validation-error",
        "Validation failed",
        f"the {where} does not match the expected shape",
        errors=problems,
    )


def _json_depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            return depth
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _unstorable(text: str) -> bool:
    """Unpaired surrogates ("\\ud800") no UTF-8 store keeps; NUL no PostgreSQL text holds."""
    return "\x00" in text or any("\ud800" <= char <= "\udfff" for char in text)


def _unstorable_paths(value: Any, path: str = "") -> list[str]:
    """Paths of strings no database column can hold (see :func:`_unstorable`)."""
    found: list[str] = []
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _unstorable(item):
                found.append(where or "body")
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((child, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                stack.append((child, f"{where}.{index}" if where else str(index)))
    return sorted(found)


def _out_of_range(value: Any) -> list[tuple[str, str]]:
    """Paths of integers beyond what the database columns hold, and of dates so near the
    ends of the calendar that adding a meeting's length or a buffer would overflow."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, int) and not isinstance(item, bool):
            if abs(item) > MAX_INT:
                found.append((where or "body", f"must be at most {MAX_INT}"))
        elif isinstance(item, date):
            if not MIN_YEAR <= item.year <= MAX_YEAR:
                found.append((where or "body", f"must lie between {MIN_YEAR} and {MAX_YEAR}"))
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((child, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list | tuple):
            for index, child in enumerate(item):
                stack.append((child, f"{where}.{index}" if where else str(index)))
    return sorted(found)


def _checked_range(model: M, where: str) -> M:
    too_big = _out_of_range(model.model_dump(by_alias=True))
    if too_big:
        raise HttpProblem(
            422,
            "validation-error",
            "Validation failed",
            f"the {where} has a number or a date out of range",
            errors=[FieldProblem(name, message) for name, message in too_big],
        )
    return model


def _malformed(detail: str) -> HttpProblem:
    return HttpProblem(
        400, "malformed-body", "Malformed body", detail, errors=[FieldProblem("body", detail)]
    )


def checked_json(raw: bytes) -> tuple[str, Any]:
    """The text and value of a JSON body within the API's limits (UTF-8, depth), or a 400
    ``malformed-body`` problem.  The size limit is the application's (``max_body_bytes``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _malformed("the body is not valid UTF-8") from err
    try:
        parsed = json.loads(text)
    except RecursionError as err:
        raise _malformed(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels") from err
    except ValueError as err:
        raise _malformed(f"the body is not valid JSON: {err}") from err
    if _json_depth(parsed) > MAX_JSON_DEPTH:
        raise _malformed(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    return text, parsed


def _unstorable_fields(data: dict[str, Any], where: str) -> None:
    bad = sorted(key for key, value in data.items() if _unstorable(value))
    if bad:
        raise HttpProblem(
            422,
            "validation-error",
            "Validation failed",
            f"malformed text in the {where}",
            errors=[FieldProblem(key, "a NUL character or malformed Unicode") for key in bad],
        )


async def parse_json_body(request: web.Request, model: type[M]) -> M:
    if not request.body_exists:
        # No body at all is an empty object: fine for commands whose fields are optional,
        # and the missing fields are named for the others.
        try:
            return model.model_validate({})
        except ValidationError as err:
            raise validation_problem(err, "body") from err
    content_type = request.content_type
    if content_type not in ("application/json", "application/merge-patch+json"):
        raise HttpProblem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        )
    text, parsed = checked_json(await request.read())
    if not isinstance(parsed, dict):
        raise _malformed("the body must be a JSON object")
    bad_text = _unstorable_paths(parsed)
    if bad_text:
        raise HttpProblem(
            422,
            "validation-error",
            "Validation failed",
            "malformed text in the body",
            errors=[
                FieldProblem(where, "a NUL character or malformed Unicode (unpaired surrogate)")
                for where in bad_text
            ],
        )
    try:
        # Strict JSON validation: "5" is not a number, true is not "true".
        parsed_model = model.model_validate_json(text, strict=True)
    except ValidationError as err:
        raise validation_problem(err, "body") from err
    return _checked_range(parsed_model, "body")


async def parse_form(request: web.Request, model: type[M]) -> M:
    if request.content_type != "application/x-www-form-urlencoded":
        raise HttpProblem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/x-www-form-urlencoded",
        )
    try:
        form = await request.post()
    except UnicodeDecodeError as err:
        raise _malformed("the form is not valid UTF-8") from err
    data = {key: value for key, value in form.items() if isinstance(value, str)}
    _unstorable_fields(data, "form")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise validation_problem(err, "form") from err


def parse_query(request: web.Request, model: type[M]) -> M:
    data: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        data[key] = values[-1]
    _unstorable_fields(data, "query")
    try:
        parsed = model.model_validate(data)
    except ValidationError as err:
        raise validation_problem(err, "query") from err
    return _checked_range(parsed, "query")


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not BEARER_TOKEN.fullmatch(token.strip()):
        raise HttpProblem(
            401,
            "invalid-token",
            "Invalid token",
            "send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return token.strip()


def _endpoint(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        try:
            principal: Principal | None = None
            if op.authenticated:
                resolver = request.app[PRINCIPAL_RESOLVER]
                principal = await resolver(_bearer(request))
                if op.roles is not None and principal.role not in op.roles:
                    raise PermissionDenied(f"the role {principal.role.value!r} may not do this")
            call = ApiRequest(request, principal)
            if op.query is not None:
                call.query = parse_query(request, op.query)
            if op.body is not None:
                call.body = await parse_json_body(request, op.body)
            if op.form is not None:
                call.body = await parse_form(request, op.form)
            result = await op.handler(**arguments(op.params, call))
            return answer(result, op.status, op.response)
        except HttpProblem:
            raise
        except VcorchError as err:
            # The table lives above every package (vcorch/problem_types.py); app.py hands it
            # over, so that the pipeline knows no package's errors.
            mapper = request.app.get(PROBLEMS)
            problem = mapper(err) if mapper is not None else None
            if problem is None:
                raise
            raise problem from err

    endpoint.__name__ = op.operation_id
    return endpoint


# -- responses ------------------------------------------------------------------------------


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))["after"]
        # true is an int to Python, and a position past the id columns reaches the driver.
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_INT:
            raise ValueError("not a position")
        return after
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError) as err:
        raise HttpProblem(
            422,
            "validation-error",
            "Validation failed",
            "the cursor is not one this service issued",
            errors=[FieldProblem("cursor", "invalid cursor")],
        ) from err
