"""Schemathesis driven from a test: every operation of the service's own OpenAPI document,
generated requests (valid and invalid), as one caller; failures collected, not raised
one at a time, so that one run shows every defect."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Run:
    base_url: str
    document: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    by_operation: dict[tuple[str, str, int], int] = field(default_factory=dict)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)


def run_operations(
    run: Run,
    *,
    who: str,
    token: str | None,
    examples: Callable[[str, str, Mapping[str, Any]], tuple[int, int]],
    known_ids: Callable[[str, str], Mapping[str, list[Any]]],
    seed: int = 20261125,
) -> None:
    """Every operation with ``examples(method, path, entry)`` = (valid, invalid) requests; path
    parameters are half the time replaced by ids that exist (``known_ids``) so that
    requests get past the lookup to the validation and the handler."""
    schema = schemathesis.openapi.from_dict(run.document)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for result in schema.get_all_operations():
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        entry = run.document["paths"][path][operation.method.lower()]
        counts = examples(method, path, entry)
        ids = known_ids(method, path)
        for mode, count in zip(
            (GenerationMode.POSITIVE, GenerationMode.NEGATIVE), counts, strict=True
        ):
            if count <= 0:
                continue
            check = _make_check(run, operation.as_strategy(generation_mode=mode), ids, count)
            check.__name__ = f"check_{method}_{path}"
            check = hypothesis.seed(seed)(check)
            began = time.monotonic()
            try:
                check(session, headers)
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing to make invalid (a free-form string path part)
            except Exception as err:  # every defect is collected and shown
                detail = "".join(traceback.format_exception_only(type(err), err)).strip()
                run.failures.append(f"{who} {method} {path} [{mode.value}]: {detail[:1500]}")
            finally:
                spent = time.monotonic() - began
                run.seconds[(method, path)] = run.seconds.get((method, path), 0.0) + spent


def _make_check(
    run: Run, strategy: Any, ids: Mapping[str, list[Any]], count: int
) -> Callable[..., None]:
    @hypothesis.settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @hypothesis.given(case=strategy, data=st.data())
    def check(
        session: requests.Session, headers: dict[str, str], case: Any, data: st.DataObject
    ) -> None:
        for name, values in ids.items():
            if (
                case.path_parameters
                and name in case.path_parameters
                and values
                and data.draw(st.booleans(), label=f"real {name}")
            ):
                case.path_parameters[name] = data.draw(st.sampled_from(values))
        response = case.call(base_url=run.base_url, session=session, headers=headers, timeout=30)
        run.requests += 1
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
        key = (case.method.upper(), case.path, response.status_code)
        run.by_operation[key] = run.by_operation.get(key, 0) + 1
        case.validate_response(response, checks=CHECKS)

    return check
