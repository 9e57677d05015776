"""The OpenAPI 3.1 document, built from the same models that validate the requests.

Descriptions come from the models (``Field(description=...)``); a field the API uses with one
meaning everywhere (``id``, ``created_at``, ``room_id`` ...) is described once in
:mod:`vcorch.web.openapi_fields`, which fills in what a model leaves out.  Every request and
answer carries an example: the model's own (``json_schema_extra={"examples": [...]}``) where
it has one, else one built from its fields' examples and the schema's limits
(:func:`example_of`), so that every example validates against its schema.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from vcorch import __version__
from vcorch.web.api import Operation
from vcorch.web.openapi_fields import (
    FIELD_DESCRIPTIONS,
    NAME_EXAMPLES,
    PARAMETER_DESCRIPTIONS,
    describe_field,
)
from vcorch.web.pipeline import placeholders

REF = "#/components/schemas/{model}"
ERRORS_DOC = "docs/errors.md"
TOKEN_URL = "/api/auth/token"  # noqa: S105 - an address, not a secret


@dataclass(frozen=True)
class ProblemDoc:
    """One problem type as the document lists it (``problem_types.py`` gives them)."""

    status: int
    type_uri: str
    title: str


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A refusal (RFC 9457 problem details, `application/problem+json`). "
    f"`type` says which refusal it is: every type is listed in {ERRORS_DOC} and in the "
    "4XX answers of the operations.",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {
            "type": "string",
            "description": "The problem type, `urn:vcorch:problem:<slug>` (for example "
            "`urn:vcorch:problem:validation-error`): what a program should branch on",
        },
        "title": {"type": "string", "description": "A short English title of the type"},
        "status": {"type": "integer", "description": "The HTTP status code, repeated"},
        "detail": {
            "type": "string",
            "description": "What was wrong with this request, in words (English)",
        },
        "errors": {
            "type": "array",
            "description": "One entry per field that was refused (empty when the refusal is "
            "not about a field)",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "The field, dotted for nested ones (`sites.0.room_id`)",
                    },
                    "message": {"type": "string", "description": "Why it was refused"},
                },
            },
        },
    },
    "additionalProperties": True,
}

# Problems every operation of a kind may answer (the slugs of problem_types.py).
_COMMON_SLUGS = ("validation-error", "malformed-body", "unsupported-media-type")
_AUTH_SLUGS = ("invalid-token",)
_ROLE_SLUGS = ("forbidden",)
_ID_SLUGS = ("not-found",)
_VERSIONED_SLUGS = ("stale-version", "precondition-required")
# (detail, field, message) of each example refusal.
_PROBLEM_DETAILS: dict[str, tuple[str, str | None, str]] = {
    "validation-error": (
        "the body does not match the expected shape",
        "end",
        "must be after start",
    ),
    "malformed-body": ("the body is not valid JSON", "body", "the body is not valid JSON"),
    "unsupported-media-type": ("send the body as application/json", None, ""),
    "invalid-token": ("send Authorization: Bearer <token>", None, ""),
    "forbidden": ("the role 'operator' may not do this", None, ""),
    "not-found": ("nothing with that id is in your scope", None, ""),
    "stale-version": ("the version you sent is not the current one; read it again", None, ""),
    "precondition-required": ("send If-Match with the ETag you read", None, ""),
}


def openapi_path(path: str) -> str:
    """aiohttp's ``{id:[0-9]+}`` is ``{id}`` in OpenAPI."""
    parts, index = [], 0
    for start, end, name in placeholders(path):
        parts.append(path[index:start] + "{" + name + "}")
        index = end
    return "".join(parts) + path[index:]


def _path_parameters(path: str) -> list[dict[str, Any]]:
    found = []
    for start, end, name in placeholders(path):
        numeric = ":[0-9]+" in path[start:end]
        found.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": PARAMETER_DESCRIPTIONS.get(name, f"The {name} named in the path"),
                "schema": {"type": "string"},
                "example": "42" if numeric else NAME_EXAMPLES.get(f"path.{name}", "42"),
            }
        )
    return found


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    for name, definition in schema.get("$defs", {}).items():
        schemas.setdefault(name, definition)
    _describe_properties(model.__name__, schema)
    required = set(schema.get("required", []))
    found = []
    for name, prop in schema.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": prop.get("description", PARAMETER_DESCRIPTIONS.get(name, "")),
            "schema": prop,
        }
        example = _field_example(name, prop, schemas)
        if name in required and example is not None:
            parameter["example"] = example
        found.append(parameter)
    return found


def _describe_properties(model: str, schema: dict[str, Any]) -> None:
    for name, prop in schema.get("properties", {}).items():
        if "description" not in prop:
            text = describe_field(model, name)
            if text is not None:
                prop["description"] = text


# -- examples -------------------------------------------------------------------------------

_FORMAT_EXAMPLES = {
    "date-time": "2026-03-16T01:30:00Z",
    "date": "2026-03-16",
    "time": "08:30:00",
    "email": "vanphong@laocai.gov.vn",
    "uri": "https://vcorch.example.gov.vn/api/meetings/42",
    "duration": "PT1H30M",
}


_FORMAT_SHAPES = {
    "date": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    "date-time": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})"),
    "email": re.compile(r"[^@\s]+@[^@\s]+"),
}


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    """Whether a hinted value keeps the plain limits of ``schema`` (type, length, range)."""
    kind = schema.get("type")
    if "const" in schema:
        return bool(value == schema["const"])
    if "enum" in schema:
        return value in schema["enum"]
    if isinstance(value, str):
        if kind not in (None, "string"):
            return False
        if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get(
            "minLength", 0
        ):
            return False
        shape = _FORMAT_SHAPES.get(schema.get("format", ""))
        if shape is not None and not shape.fullmatch(value):
            return False
        pattern = schema.get("pattern")
        return pattern is None or re.search(pattern, value) is not None
    if isinstance(value, bool):
        return kind == "boolean"
    if isinstance(value, int | float):
        if kind not in ("integer", "number") or (kind == "integer" and isinstance(value, float)):
            return False
        return bool(
            schema.get("minimum", value) <= value <= schema.get("maximum", value)
            and value > schema.get("exclusiveMinimum", value - 1)
            and value < schema.get("exclusiveMaximum", value + 1)
        )
    return isinstance(value, list | dict)


def _field_example(name: str, schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    hint = NAME_EXAMPLES.get(name)
    plain = _plain(schema, schemas)
    if hint is not None and _fits(hint, plain):
        return hint
    return example_of(schema, schemas, name)


def _plain(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of ``X | None``, references followed."""
    seen = 0
    while seen < 8:
        seen += 1
        if "$ref" in schema:
            schema = schemas.get(schema["$ref"].rsplit("/", 1)[1], {})
            continue
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            real = [o for o in options if o.get("type") != "null"]
            if real:
                schema = real[0]
                continue
        if schema.get("allOf"):
            schema = schema["allOf"][0]
            continue
        break
    return schema


def example_of(schema: dict[str, Any], schemas: dict[str, Any], name: str = "") -> Any:
    """A value of ``schema``: its examples, default or const first, else built from its parts
    (a field's example by its name, then by format and limits)."""
    for key in ("examples", "example"):
        if key in schema:
            found = schema[key]
            found = found[0] if key == "examples" and isinstance(found, list) and found else found
            if isinstance(found, dict) and "properties" in schema:
                # A model's own example, completed with the required fields added since.
                found = dict(found)
                for prop in schema.get("required", []):
                    if prop not in found and prop in schema["properties"]:
                        found[prop] = _field_example(prop, schema["properties"][prop], schemas)
            return found
    if "const" in schema:
        return schema["const"]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "$ref" in schema:
        target = schemas.get(schema["$ref"].rsplit("/", 1)[1], {})
        return example_of(target, schemas, name)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        real = [o for o in options if o.get("type") != "null"] or options
        return example_of(real[0], schemas, name)
    if schema.get("allOf"):
        return example_of(schema["allOf"][0], schemas, name)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        result = {}
        for prop, definition in schema.get("properties", {}).items():
            result[prop] = _field_example(prop, definition, schemas)
        return result
    if kind == "array":
        item = schema.get("items", {})
        count = max(1, schema.get("minItems", 1))
        if schema.get("maxItems") == 0:
            return []
        return [example_of(item, schemas, name) for _ in range(count)]
    if kind == "string":
        if schema.get("format") in _FORMAT_EXAMPLES:
            return _FORMAT_EXAMPLES[schema["format"]]
        if "pattern" in schema:
            return _pattern_example(schema["pattern"], name)
        text = "Lào Cai"
        low, high = schema.get("minLength", 0), schema.get("maxLength", 64)
        while len(text) < low:
            text += " Lào Cai"
        return text[:high]
    if kind == "integer":
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return max(int(low), min(42, int(schema.get("maximum", 42))))
    if kind == "number":
        low = schema.get("minimum", 0)
        return max(low, min(0.8, schema.get("maximum", 0.8)))
    if kind == "boolean":
        return False
    return None


_PATTERN_EXAMPLES = {
    r"^[0-9]+(,[0-9]+)*$": "12,15",
    r"^[a-z0-9][a-z0-9._-]*$": "lao-cai",
    r"^[A-Za-z0-9._@-]+$": "vanphong.laocai",
}


def _pattern_example(pattern: str, name: str) -> str:
    hint = NAME_EXAMPLES.get(name)
    if isinstance(hint, str) and re.search(pattern, hint):
        return hint
    return _PATTERN_EXAMPLES.get(pattern, "42")


# -- operations -----------------------------------------------------------------------------


def _roles_text(op: Operation) -> str:
    if not op.authenticated:
        return "**Who may call:** anyone; no token is needed."
    if op.roles is None:
        return "**Who may call:** any signed-in user or API client (bearer token)."
    roles = ", ".join(f"`{role.value}`" for role in sorted(op.roles, key=lambda r: r.value))
    return (
        f"**Roles:** {roles}. What a caller sees and may change is limited to its unit and "
        "the units below it (see docs/security.md)."
    )


def _problem_slugs(op: Operation) -> list[str]:
    slugs: list[str] = []
    if op.body is not None or op.form is not None or op.query is not None or placeholders(op.path):
        slugs.append("validation-error")
    if op.body is not None:
        slugs += ["malformed-body", "unsupported-media-type"]
    if op.authenticated:
        slugs += list(_AUTH_SLUGS)
    if op.roles is not None:
        slugs += list(_ROLE_SLUGS)
    if placeholders(op.path):
        slugs += list(_ID_SLUGS)
    if "If-Match" in op.summary:
        slugs += list(_VERSIONED_SLUGS)
    # Nothing to refuse in the request itself: what is left is a file that is not there.
    return slugs or list(_ID_SLUGS)


def _problem_response(
    op: Operation, problems: dict[str, ProblemDoc], every_slug: Sequence[str]
) -> dict[str, Any]:
    slugs = [slug for slug in _problem_slugs(op) if slug in problems or not problems]
    examples: dict[str, Any] = {}
    for slug in slugs:
        doc = problems.get(slug)
        detail, field, message = _PROBLEM_DETAILS.get(slug, ("the request was refused", None, ""))
        examples[slug] = {
            "summary": doc.title if doc else slug,
            "value": {
                "type": doc.type_uri if doc else f"urn:vcorch:problem:{slug}",
                "title": doc.title if doc else slug,
                "status": doc.status if doc else 400,
                "detail": detail,
                "errors": [{"field": field, "message": message}] if field else [],
            },
        }
    listed = ", ".join(f"`{slug}`" for slug in slugs) or "see below"
    others = ", ".join(f"`{slug}`" for slug in every_slug if slug not in slugs)
    description = (
        f"Refused, as `application/problem+json`. Most likely here: {listed}."
        + (f" Others this service answers with: {others}." if others else "")
        + f" Each is explained in {ERRORS_DOC}."
    )
    content: dict[str, Any] = {"schema": {"$ref": REF.format(model="Problem")}}
    if examples:
        content["examples"] = examples
    return {"description": description, "content": {"application/problem+json": content}}


def _model_example(model: type[BaseModel], schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    target = schema
    if "$ref" in schema:
        target = schemas.get(schema["$ref"].rsplit("/", 1)[1], schema)
    return example_of(target, schemas, model.__name__)


def build_openapi(
    operations: Sequence[Operation], *, problems: Iterable[ProblemDoc] = ()
) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = []
    for op in operations:
        for model in (op.body, op.form):
            if model is not None:
                models.append((model, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    unique = list(dict.fromkeys(models))
    key_map, definitions = models_json_schema(unique, ref_template=REF)
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    by_slug = {doc.type_uri.rsplit(":", 1)[-1]: doc for doc in problems}
    every_slug = list(by_slug)

    def ref(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> dict[str, Any]:
        return key_map[(model, mode)]

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": "\n\n".join(part for part in (op.description, _roles_text(op)) if part),
            "tags": [op.tag],
            "parameters": _path_parameters(op.path),
            "responses": {},
        }
        if op.roles is not None:
            entry["x-roles"] = sorted(role.value for role in op.roles)
        if op.query is not None:
            entry["parameters"] += _query_parameters(op.query, schemas)
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "description": op.body.__doc__.strip().splitlines()[0]
                if op.body.__doc__ and op.body.__doc__ is not BaseModel.__doc__
                else f"The {op.body.__name__} to send, as JSON",
                "content": {
                    "application/json": {"schema": ref(op.body, "validation")},
                },
            }
        if op.form is not None:
            entry["requestBody"] = {
                "required": True,
                "description": f"The {op.form.__name__}, form-encoded",
                "content": {
                    "application/x-www-form-urlencoded": {"schema": ref(op.form, "validation")}
                },
            }
        success: dict[str, Any] = {"description": _success_text(op)}
        if op.response is not None:
            success["content"] = {
                op.response_content_type: {"schema": ref(op.response, "serialization")}
            }
        elif op.response_content_type != "application/json":
            success["content"] = {
                op.response_content_type: {
                    "schema": {"type": "string", "description": "The file or page itself"}
                }
            }
        for media, text in _downloads(entry["parameters"]).items():
            success.setdefault("content", {})[media] = {
                "schema": {"type": "string", "description": text}
            }
        entry["responses"][str(op.status)] = success
        entry["responses"]["4XX"] = _problem_response(op, by_slug, every_slug)
        if op.authenticated:
            entry["security"] = [{"bearerAuth": []}, {"oauth2": []}]
        else:
            entry["security"] = []
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = entry

    for name, schema in schemas.items():
        _describe_properties(name, schema)
    # Examples last: they read the descriptions' schemas, and the models' own examples.
    for op in operations:
        entry = paths[openapi_path(op.path)][op.method.lower()]
        for model in (op.body, op.form):
            if model is not None:
                content = next(iter(entry["requestBody"]["content"].values()))
                content["example"] = _model_example(model, ref(model, "validation"), schemas)
        if op.response is not None:
            content = entry["responses"][str(op.status)]["content"][op.response_content_type]
            content["example"] = _model_example(
                op.response, ref(op.response, "serialization"), schemas
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vcorch",
            "version": __version__,
            "description": INFO_DESCRIPTION,
        },
        "tags": _tags(operations),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": f"A token from `POST {TOKEN_URL}`, sent as "
                    "`Authorization: Bearer <token>`",
                },
                "oauth2": {
                    "type": "oauth2",
                    "description": "Sign in with a vcorch user name and password (OAuth2 "
                    "password grant); API clients use the client_credentials grant at the "
                    "same URL with their client id and secret",
                    "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
                },
            },
        },
    }


INFO_DESCRIPTION = """Video-conferencing orchestration for the programme's meetings: units,
rooms and endpoints; booking (one-off and recurring, RFC 5545 rules); launch, live control
and fallback; attendance; the online-meeting share.

**Signing in.** `POST /api/auth/token` with `grant_type=password`, `username` and
`password` (form-encoded) answers an `access_token`; send it as
`Authorization: Bearer <token>`. In this page, *Authorize* does both.

**Scope.** Every caller belongs to a unit; it sees and changes what belongs to its unit and
the units below it. The roles each operation needs are in its description (and `x-roles`).

**Times** are ISO 8601 with an offset; answers are in UTC (`Z`). A meeting's `timezone`
(IANA, `Asia/Ho_Chi_Minh` by default) is the zone its recurrence and local times follow.

**Errors** are `application/problem+json` (RFC 9457); `type` is one of the problem types
in docs/errors.md. Lists are paged: pass `next` back as `cursor`."""


# What ``?format=`` gives besides JSON (the exports of attendance and statistics).
_DOWNLOADS = {
    "csv": ("text/csv", "The same table as CSV (UTF-8, Vietnamese headers), `format=csv`"),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "The same table as an Excel workbook, `format=xlsx`",
    ),
}


def _downloads(parameters: Sequence[dict[str, Any]]) -> dict[str, str]:
    for parameter in parameters:
        if parameter["name"] == "format" and parameter["in"] == "query":
            values = _plain(parameter["schema"], {}).get("enum", [])
            return {_DOWNLOADS[v][0]: _DOWNLOADS[v][1] for v in values if v in _DOWNLOADS}
    return {}


def _success_text(op: Operation) -> str:
    if op.status == 204:
        return "Done; no body"
    if op.status == 201:
        return "Created; `Location` names the new resource"
    if (
        op.response is not None
        and op.response.__doc__
        and op.response.__doc__ != (BaseModel.__doc__)
    ):
        return op.response.__doc__.strip().splitlines()[0]
    if op.response_content_type.startswith("text/html"):
        return "The page"
    return "Success"


def _tags(operations: Sequence[Operation]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for op in operations:
        seen.setdefault(
            op.tag, {"name": op.tag, "description": FIELD_DESCRIPTIONS.get(f"tag.{op.tag}", "")}
        )
    return [tag for tag in seen.values() if tag["description"]] + [
        {"name": tag["name"]} for tag in seen.values() if not tag["description"]
    ]


# -- the page -------------------------------------------------------------------------------


def render_docs(document: dict[str, Any]) -> str:
    """The reference page: Swagger UI (served by vcorch from the swagger-ui-bundle wheel,
    never a CDN: the programme's networks are often closed), started by our own script
    file, with the operations listed in plain HTML for a browser without JavaScript."""
    rows = []
    for path, methods in document["paths"].items():
        for method, entry in methods.items():
            rows.append(
                f"<li><code>{method.upper()} {html.escape(path)}</code> — "
                f"{html.escape(entry['summary'])}</li>"
            )
    fallback = "".join(rows)
    return (
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Tài liệu API — vcorch</title>"
        '<link rel="icon" type="image/png" href="/api/docs/assets/favicon-32x32.png">'
        '<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">'
        # A file, not an inline style: the page has the pages' policy (style-src 'self').
        '<link rel="stylesheet" href="/static/api-docs.css">'
        "</head><body>"
        "<header class='vc-head'><h1>Tài liệu API vcorch</h1>"
        "<p>Mọi thao tác của dịch vụ: ai được gọi, gửi gì, nhận gì, và các lỗi có thể gặp. "
        "Bấm <strong>Authorize</strong> rồi đăng nhập bằng tài khoản vcorch để thử trực tiếp "
        "(mã truy cập chỉ giữ trong trang này). "
        "Tài liệu máy đọc: <a href='/api/openapi.json'>/api/openapi.json</a>.</p>"
        "<nav aria-label='Trang khác'><a href='/'>Trang chủ</a> · "
        "<a href='/board'>Bảng điểm cầu</a> · <a href='/dashboard'>Tổng hợp</a></nav>"
        "</header>"
        "<main id='swagger-ui' aria-label='Danh sách thao tác'>"
        "<noscript><p>Trang này cần JavaScript để hiện chi tiết; danh sách thao tác:</p>"
        f"<ul>{fallback}</ul></noscript></main>"
        '<script src="/api/docs/assets/swagger-ui-bundle.js"></script>'
        '<script src="/static/api-docs.js"></script>'
        "</body></html>"
    )
