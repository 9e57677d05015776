"""Schemathesis, stateful: sequences of calls chained by the links it infers from the
service's own OpenAPI document (a POST's id used by the GET, PATCH and DELETE of the same
thing), as every role, seeded and bounded.  No answer may be a 5xx or break the document."""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.security.estate import Estate

ROLES = ("operator", "leadership", "integration", "secretariat", "admin")
STEPS = 8  # calls per sequence
SEQUENCES = 25  # sequences per role


# Bounded by its case counts; the whole document's operations take longer than one
# ordinary test on two shared cores.
@pytest.mark.timeout(360)
async def test_chained_calls_as_every_role(app_client: Any, estate: Estate) -> None:
    document = await (await app_client.get("/api/openapi.json")).json()
    # The live stream lasts as long as its meeting: a chain would wait on it (it is tested
    # in tests/orchestration/test_live_stream.py and by the access matrix).
    document["paths"].pop("/api/meetings/{id}/live/stream")
    base_url = str(app_client.make_url("")).rstrip("/")
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    seen: dict[str, set[str]] = {}

    def run_as(role: str) -> None:
        machine = schema.as_state_machine()
        token = estate.tokens[role]
        called = seen.setdefault(role, set())

        class AsRole(machine):  # type: ignore[misc,valid-type]
            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                return {
                    "base_url": base_url,
                    "headers": {"Authorization": f"Bearer {token}"},
                    "timeout": 30,
                }

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                called.add(f"{case.method.upper()} {case.path}")
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )

        settings = hypothesis.settings(
            max_examples=SEQUENCES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,  # the same sequences every run (a fixed seed)
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        try:
            AsRole.run(settings=settings)
        except Exception as err:  # every role's defects are shown together
            failures.append(f"{role}: {str(err)[:3000]}")

    def run_all() -> None:
        for role in ROLES:
            run_as(role)

    await asyncio.to_thread(run_all)
    assert not failures, "\n\n".join(failures)
    # The chains reached past creation: a created thing was read or changed by its id.
    chained = set().union(*seen.values())

    assert any("{" in call for call in chained), sorted(chained)
