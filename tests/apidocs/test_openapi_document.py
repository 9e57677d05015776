"""The OpenAPI document tells a user everything: every operation has a summary, a
description saying who may call it, an example of what to send and of what comes back, and
the refusals it may answer; every field of every schema says what it means; every example
is valid for its schema (schemathesis sends them, and a reader copies them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from tests.api import Api
from vcorch.booking.recurrence import MAX_COUNT, MAX_INTERVAL
from vcorch.problem_types import problem_types

JSON_TYPES = ("application/json", "application/x-www-form-urlencoded")


@pytest.fixture
async def document(api: Api) -> dict[str, Any]:
    status, document = await api.get("/api/openapi.json")
    assert status == 200
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, entry in methods.items():
            yield f"{method.upper()} {path}", entry


def _properties(where: str, schema: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property of ``schema``, nested objects and array items included."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _properties(f"{where}[{index}]", item)
        return
    if not isinstance(schema, dict):
        return
    for name, prop in schema.get("properties", {}).items():
        yield f"{where}.{name}", prop
        yield from _properties(f"{where}.{name}", prop)
    for key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
        if key in schema:
            yield from _properties(f"{where}.{key}", schema[key])


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    # The schema's $refs point into the document's components.
    rooted = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(rooted, format_checker=jsonschema.FormatChecker())


async def test_every_operation_has_a_summary_a_description_and_its_roles(
    document: dict[str, Any],
) -> None:
    missing = []
    for name, entry in _operations(document):
        if not entry.get("summary"):
            missing.append(f"{name}: no summary")
        description = entry.get("description", "")
        if not description:
            missing.append(f"{name}: no description")
        for role in entry.get("x-roles", []):
            if f"`{role}`" not in description:
                missing.append(f"{name}: the description does not name the role {role}")
        if not entry.get("security") and "no token is needed" not in description:
            missing.append(f"{name}: public, but the description does not say so")
        for parameter in entry.get("parameters", []):
            if not parameter.get("description"):
                missing.append(f"{name}: parameter {parameter['name']} has no description")
    assert missing == [], "\n".join(missing)


async def test_every_field_of_every_schema_is_described(document: dict[str, Any]) -> None:
    missing = [
        where
        for schema_name, schema in document["components"]["schemas"].items()
        for where, prop in _properties(schema_name, schema)
        if "description" not in prop
    ]
    for name, entry in _operations(document):
        for parameter in entry.get("parameters", []):
            for where, prop in _properties(f"{name} ?{parameter['name']}", parameter["schema"]):
                if "description" not in prop:
                    missing.append(where)
    assert missing == [], "fields without a description:\n" + "\n".join(missing)


async def test_every_operation_has_valid_examples(document: dict[str, Any]) -> None:
    problems = []
    for name, entry in _operations(document):
        body = entry.get("requestBody")
        for media, content in (body or {}).get("content", {}).items():
            if "example" not in content:
                problems.append(f"{name}: no example of the {media} body")
                continue
            for error in _validator(document, content["schema"]).iter_errors(content["example"]):
                problems.append(f"{name} request example: {error.message}")
        answered = False
        for status, response in entry["responses"].items():
            for media, content in response.get("content", {}).items():
                examples = [content["example"]] if "example" in content else []
                examples += [item["value"] for item in content.get("examples", {}).values()]
                if media in JSON_TYPES or media == "application/problem+json":
                    if not examples:
                        problems.append(f"{name}: no example of the {status} {media} answer")
                    if status != "4XX":
                        answered = True
                for example in examples:
                    validator = _validator(document, content["schema"])
                    for error in validator.iter_errors(example):
                        problems.append(f"{name} {status} example: {error.message}")
        for parameter in entry.get("parameters", []):
            if "example" in parameter:
                validator = _validator(document, parameter["schema"])
                for error in validator.iter_errors(parameter["example"]):
                    problems.append(f"{name} ?{parameter['name']} example: {error.message}")
        success = next(status for status in entry["responses"] if status != "4XX")
        if not answered and "content" in entry["responses"][success]:
            media = next(iter(entry["responses"][success]["content"]))
            if media in JSON_TYPES:
                problems.append(f"{name}: no example of its answer")
    assert problems == [], "\n".join(problems)


async def test_the_refusals_are_the_services_problem_types(document: dict[str, Any]) -> None:
    known = {problem.type_uri: problem for problem in problem_types()}
    for name, entry in _operations(document):
        refused = entry["responses"]["4XX"]
        content = refused["content"]["application/problem+json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}, name
        assert "docs/errors.md" in refused["description"], name
        for slug, example in content.get("examples", {}).items():
            problem = known.get(example["value"]["type"])
            assert problem is not None, (name, slug)
            assert example["value"]["status"] == problem.status, (name, slug)
            assert example["value"]["title"] == problem.title, (name, slug)
        if entry.get("security"):
            assert "invalid-token" in content["examples"], name
        if "x-roles" in entry:
            assert "forbidden" in content["examples"], name


async def test_signing_in_is_documented_as_oauth2_password_and_bearer(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["oauth2"]["flows"]["password"]["tokenUrl"] == "/api/auth/token"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    book = document["paths"]["/api/meetings"]["post"]
    assert {"oauth2": []} in book["security"] and {"bearerAuth": []} in book["security"]


async def test_the_booking_fields_say_what_a_user_needs(document: dict[str, Any]) -> None:
    """The fields issue 18 found unexplained, with the limits the service enforces."""
    fields = document["components"]["schemas"]["MeetingCreate"]["properties"]
    rrule = fields["rrule"]["description"]
    assert "RFC 5545" in rrule and f"COUNT at most {MAX_COUNT}" in rrule, rrule
    assert f"INTERVAL at most {MAX_INTERVAL}" in rrule, rrule
    assert "host" in fields["host_room_id"]["description"]
    for mode in ("in_person", "online", "hybrid"):
        assert mode in fields["mode"]["description"]
    for kind in ("meeting", "conference", "workshop", "training"):
        assert kind in fields["kind"]["description"]
    assert "offset" in fields["start"]["description"]
    example = document["paths"]["/api/meetings"]["post"]["requestBody"]["content"][
        "application/json"
    ]["example"]
    assert "Ban Chỉ đạo" in example["title"], example
