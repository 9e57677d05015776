"""web."""

# The public face: what code outside the package may import.  Loaded on first use, so that
# importing one name does not load the whole package (and packages can name each other's
# types without import cycles).
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vcorch.web import metrics_route as metrics_route
    from vcorch.web import ops as ops
    from vcorch.web import pages as pages
    from vcorch.web.access_log import PathOnlyAccessLogger as PathOnlyAccessLogger
    from vcorch.web.addresses import client_address as client_address
    from vcorch.web.api import ApiRoutes as ApiRoutes
    from vcorch.web.api import Created as Created
    from vcorch.web.api import NoContent as NoContent
    from vcorch.web.api import Reply as Reply
    from vcorch.web.api import checked_json as checked_json
    from vcorch.web.api import decode_cursor as decode_cursor
    from vcorch.web.api import encode_cursor as encode_cursor
    from vcorch.web.api import json_response as json_response
    from vcorch.web.api import request_id as request_id
    from vcorch.web.keys import CHECKIN_THROTTLE as CHECKIN_THROTTLE
    from vcorch.web.keys import CLOCK as CLOCK
    from vcorch.web.keys import ENGINE as ENGINE
    from vcorch.web.keys import METRICS as METRICS
    from vcorch.web.keys import OUTBOX as OUTBOX
    from vcorch.web.keys import PRINCIPAL_RESOLVER as PRINCIPAL_RESOLVER
    from vcorch.web.keys import PROBLEMS as PROBLEMS
    from vcorch.web.keys import SESSIONS as SESSIONS
    from vcorch.web.keys import SETTINGS as SETTINGS
    from vcorch.web.middleware import problems_middleware as problems_middleware
    from vcorch.web.openapi import ProblemDoc as ProblemDoc
    from vcorch.web.openapi import build_openapi as build_openapi
    from vcorch.web.pages import page_response as page_response
    from vcorch.web.problems import PROBLEM_TYPE_PREFIX as PROBLEM_TYPE_PREFIX
    from vcorch.web.problems import HttpProblem as HttpProblem
    from vcorch.web.resource import CrudResource as CrudResource
    from vcorch.web.resource import Methods as Methods
    from vcorch.web.resource import Summaries as Summaries

_FACE: dict[str, tuple[str, str | None]] = {
    "OUTBOX": ("vcorch.web.keys", "OUTBOX"),
    "ApiRoutes": ("vcorch.web.api", "ApiRoutes"),
    "CHECKIN_THROTTLE": ("vcorch.web.keys", "CHECKIN_THROTTLE"),
    "CLOCK": ("vcorch.web.keys", "CLOCK"),
    "Created": ("vcorch.web.api", "Created"),
    "CrudResource": ("vcorch.web.resource", "CrudResource"),
    "ENGINE": ("vcorch.web.keys", "ENGINE"),
    "HttpProblem": ("vcorch.web.problems", "HttpProblem"),
    "METRICS": ("vcorch.web.keys", "METRICS"),
    "Methods": ("vcorch.web.resource", "Methods"),
    "NoContent": ("vcorch.web.api", "NoContent"),
    "PRINCIPAL_RESOLVER": ("vcorch.web.keys", "PRINCIPAL_RESOLVER"),
    "PROBLEMS": ("vcorch.web.keys", "PROBLEMS"),
    "PROBLEM_TYPE_PREFIX": ("vcorch.web.problems", "PROBLEM_TYPE_PREFIX"),
    "PathOnlyAccessLogger": ("vcorch.web.access_log", "PathOnlyAccessLogger"),
    "ProblemDoc": ("vcorch.web.openapi", "ProblemDoc"),
    "Reply": ("vcorch.web.api", "Reply"),
    "SESSIONS": ("vcorch.web.keys", "SESSIONS"),
    "SETTINGS": ("vcorch.web.keys", "SETTINGS"),
    "Summaries": ("vcorch.web.resource", "Summaries"),
    "build_openapi": ("vcorch.web.openapi", "build_openapi"),
    "checked_json": ("vcorch.web.api", "checked_json"),
    "client_address": ("vcorch.web.addresses", "client_address"),
    "decode_cursor": ("vcorch.web.api", "decode_cursor"),
    "encode_cursor": ("vcorch.web.api", "encode_cursor"),
    "json_response": ("vcorch.web.api", "json_response"),
    "metrics_route": ("vcorch.web.metrics_route", None),
    "ops": ("vcorch.web.ops", None),
    "page_response": ("vcorch.web.pages", "page_response"),
    "pages": ("vcorch.web.pages", None),
    "problems_middleware": ("vcorch.web.middleware", "problems_middleware"),
    "request_id": ("vcorch.web.api", "request_id"),
}
__all__ = [
    "CHECKIN_THROTTLE",
    "CLOCK",
    "ENGINE",
    "METRICS",
    "OUTBOX",
    "PRINCIPAL_RESOLVER",
    "PROBLEMS",
    "PROBLEM_TYPE_PREFIX",
    "SESSIONS",
    "SETTINGS",
    "ApiRoutes",
    "Created",
    "CrudResource",
    "HttpProblem",
    "Methods",
    "NoContent",
    "PathOnlyAccessLogger",
    "ProblemDoc",
    "Reply",
    "Summaries",
    "build_openapi",
    "checked_json",
    "client_address",
    "decode_cursor",
    "encode_cursor",
    "json_response",
    "metrics_route",
    "ops",
    "page_response",
    "pages",
    "problems_middleware",
    "request_id",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _FACE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    loaded = importlib.import_module(module)
    return loaded if attribute is None else getattr(loaded, attribute)


def __dir__() -> list[str]:
    return __all__
