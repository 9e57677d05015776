"""RFC 9457 problem details: the one shape of every error the HTTP API returns."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from vcorch.errors import FieldProblem, VcorchError

PROBLEM_TYPE_PREFIX = "urn:vcorch:problem:"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class HttpProblem(VcorchError):
    """Raised by the HTTP edge to answer with a problem; domain code never raises it."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: Sequence[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def response(self) -> web.Response:
        return problem_response(
            self.status,
            self.slug,
            self.title,
            self.detail,
            errors=self.errors,
            headers=self.headers,
            extra=self.extra,
        )


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    errors: Sequence[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [{"field": item.field, "message": item.message} for item in errors],
    }
    body.update(extra or {})
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type=PROBLEM_CONTENT_TYPE,
        charset="utf-8",
        headers=headers,
    )
