"""The OpenAPI 3.1 document, built from the same models that validate the requests."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from vcorch import __version__
from vcorch.web.api import Operation
from vcorch.web.pipeline import placeholders

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def openapi_path(path: str) -> str:
    """aiohttp's ``{id:[0-9]+}`` is ``{id}`` in OpenAPI."""
    parts, index = [], 0
    for start, end, name in placeholders(path):
        parts.append(path[index:start] + "{" + name + "}")
        index = end
    return "".join(parts) + path[index:]


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for _, _, name in placeholders(path)
    ]


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    for name, definition in schema.get("$defs", {}).items():
        schemas.setdefault(name, definition)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def build_openapi(operations: Sequence[Operation]) -> dict[str, Any]:
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

    def ref(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> dict[str, Any]:
        return key_map[(model, mode)]

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _path_parameters(op.path),
            "responses": {},
        }
        if op.description:
            entry["description"] = op.description
        if op.roles is not None:
            entry["x-roles"] = sorted(role.value for role in op.roles)
        if op.query is not None:
            entry["parameters"] += _query_parameters(op.query, schemas)
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body, "validation")}},
            }
        if op.form is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": ref(op.form, "validation")}
                },
            }
        success: dict[str, Any] = {"description": "Success"}
        if op.response is not None:
            success["content"] = {
                op.response_content_type: {"schema": ref(op.response, "serialization")}
            }
        elif op.response_content_type != "application/json":
            success["content"] = {op.response_content_type: {"schema": {"type": "string"}}}
        entry["responses"][str(op.status)] = success
        entry["responses"]["4XX"] = _problem_response("The request was refused")
        if op.authenticated:
            entry["security"] = [{"bearerAuth": []}]
        else:
            entry["security"] = []
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vcorch",
            "version": __version__,
            "description": "Video-conferencing orchestration for the programme's meetings.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def render_docs(document: dict[str, Any]) -> str:
    """A self-contained reference page (no CDN: the programme's networks are often closed)."""
    parts = [
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        # A file, not an inline style: the page has the pages' policy (style-src 'self').
        '<title>vcorch API</title><link rel="stylesheet" href="/static/api-docs.css">',
        "</head><body><h1>vcorch API</h1>",
        "<p>Machine-readable document: <a href='/api/openapi.json'>/api/openapi.json</a>. ",
        "Obtain a token at <code>POST /api/auth/token</code> and send it as ",
        "<code>Authorization: Bearer …</code>.</p>",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in document["paths"].items():
        for method, entry in methods.items():
            by_tag.setdefault(entry["tags"][0], []).append((method, path, entry))
    for tag, entries in by_tag.items():
        parts.append(f"<h2>{html.escape(tag)}</h2>")
        for method, path, entry in entries:
            roles = ", ".join(entry.get("x-roles", [])) or "any authenticated caller"
            if not entry.get("security"):
                roles = "public"
            params = ", ".join(
                f"<code>{html.escape(p['name'])}</code>" for p in entry.get("parameters", [])
            )
            parts.append(
                f"<div class='op'><span class='m'>{method.upper()}</span>"
                f"<code>{html.escape(path)}</code> — {html.escape(entry['summary'])}"
                f"<br><small>roles: {html.escape(roles)}"
                + (f"; parameters: {params}" if params else "")
                + "</small></div>"
            )
    parts.append("</body></html>")
    return "".join(parts)
