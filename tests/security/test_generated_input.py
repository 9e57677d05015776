"""Generated bad (and good) input against the service's own ``/api/openapi.json``: every
operation, as each role, valid and invalid requests made by schemathesis.  No answer may
be a 5xx, and every answer must match the document (status, content type, headers, body
schema).  Path ids are half the time ones that exist, in the caller's unit and another, so
that requests reach the handlers and not only the lookups.

Bounded: a few examples per operation and role (a role outside the operation's
``x-roles`` only needs to be refused), seeded, so that a run is repeatable and short."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from tests.security.estate import Estate
from tests.security.generated import Run, run_operations

ALLOWED = (3, 2)  # valid, invalid requests per operation and role
REFUSED = (1, 0)  # a role outside x-roles is refused before anything is read
# Revoking would end the caller's own token half-way through the run (tests/auth covers it).
# The live stream answers a valid request with a stream that lasts as long as the meeting:
# generated requests would wait on it (tests/orchestration/test_live_stream.py tests it).
SKIPPED = {("POST", "/api/auth/revoke"), ("GET", "/api/meetings/{id}/live/stream")}
ROLES = ("operator", "leadership", "integration", "secretariat", "admin")  # admin last: it
# may delete what the others use


def known_ids(estate: Estate, method: str, path: str) -> dict[str, list[Any]]:
    both = (estate.ids["own"], estate.ids["other"])

    def values(name: str) -> list[Any]:
        return [str(ids[name]) for ids in both]

    by_prefix = [
        ("/api/meetings/{id}/conference-links", "recorded_meeting"),
        ("/api/units", "unit"),
        ("/api/rooms", "room"),
        ("/api/endpoints", "endpoint"),
        ("/api/meetings", "meeting"),
        ("/api/calendar-tokens", "calendar_token"),
    ]
    found: dict[str, list[Any]] = {}
    for prefix, name in by_prefix:
        if path.startswith(prefix):
            found["id"] = values(name)
            break
    found.update(
        site_id=values("site"),
        entry_id=values("entry"),
        person_id=values("person"),
        checkin_id=values("checkin"),
        link_id=values("link"),
        key=values("key"),
        username=values("username"),
        unit_code=values("unit_code"),
        token=values("checkin_token" if "checkin" in path else "join_token"),
    )
    return found


def examples_for(role: str, method: str, path: str, entry: Mapping[str, Any]) -> tuple[int, int]:
    if (method, path) in SKIPPED:
        return (0, 0)
    if not entry.get("security"):
        # Public operations do not depend on the caller: generated once, in the admin's turn.
        return ALLOWED if role == "admin" else (0, 0)
    return ALLOWED if role in entry.get("x-roles", ()) else REFUSED


# Bounded by its case counts; the whole document's operations take longer than one
# ordinary test on two shared cores.
@pytest.mark.timeout(360)
async def test_generated_requests_as_every_role(app_client: Any, estate: Estate) -> None:
    document = await (await app_client.get("/api/openapi.json")).json()
    run = Run(str(app_client.make_url("")).rstrip("/"), document)

    def generate() -> None:
        for role in ROLES:
            run_operations(
                run,
                who=role,
                token=estate.tokens[role],
                examples=lambda method, path, entry, role=role: examples_for(
                    role, method, path, entry
                ),
                known_ids=lambda method, path: known_ids(estate, method, path),
            )

    # The generator speaks blocking HTTP; the service answers on this event loop.
    await asyncio.to_thread(generate)
    assert not run.failures, "\n\n".join(run.failures)
    operations = {(method, path) for method, path, _ in run.by_operation}
    every = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if (method.upper(), path) not in SKIPPED
    }
    assert operations == every
    assert run.requests > 4 * len(every)
    # The known ids got requests past the lookups, into the handlers.
    assert run.statuses.get(200, 0) + run.statuses.get(201, 0) > len(every)
