"""Every route × every role × own unit / another unit, against the written policy.

The routes come from the service's own OpenAPI document, so a new route is covered the
day it is declared: it must have a row in docs/security.md (same roles as its ``x-roles``)
and, if its path names an object or it takes a body, an entry in the fixture tables below
(the test says which is missing).  For each route:

- no token → 401 with a Bearer challenge; a forged token (other key, ``alg: none``) → 401;
- a Lào Cai caller whose role is outside ``x-roles`` → 403;
- a caller whose role is inside, on a Lào Cai object → neither 401, 403 nor 404;
- the same caller on a Điện Biên object → 404: another unit's things are not revealed;
- a creation naming another unit (or its room) → refused, the field named.

Expired, revoked and disabled-user tokens, and the throttling of failed logins, are in
tests/auth/test_tokens.py (one route: they are decided once, where every token is read);
``test_expired_tokens_are_refused_everywhere`` repeats the expiry over every route.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from tests.api import Api, FakeClock
from tests.security.estate import PROVINCE, Estate

POLICY = Path(__file__).resolve().parents[2] / "docs" / "security.md"
ROLES = ("admin", "secretariat", "operator", "leadership", "integration")
SCOPED_PARAMS = {
    "id",
    "site_id",
    "entry_id",
    "person_id",
    "checkin_id",
    "link_id",
    "key",
    "username",
}
# Operations whose effect on the caller's own token would spoil the rest of the run.
NOT_CALLED = {("POST", "/api/auth/revoke")}
# Where a role in x-roles is still refused for the Lào Cai caller, as the policy says.
REFUSED_BELOW_ROOT = {("POST", "/api/unit-levels", "admin")}
counter = itertools.count(1)


def unique() -> int:
    return next(counter)


# -- the policy as written ---------------------------------------------------------------------


def written_policy() -> dict[tuple[str, str], set[str] | None]:
    """(method, path) → roles, or None for a public route, from docs/security.md."""
    policy: dict[tuple[str, str], set[str] | None] = {}
    header: list[str] | None = None
    for line in POLICY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| operation |"):
            header = cells[1:]
            continue
        match = re.fullmatch(r"`(GET|POST|PUT|PATCH|DELETE) (\S+)`", cells[0]) if cells else None
        if header is None or match is None:
            continue
        marks = dict(zip(header, cells[1:], strict=False))
        key = (match.group(1), match.group(2))
        if any(mark == "public" for mark in marks.values()):
            policy[key] = None
        else:
            policy[key] = {role for role, mark in marks.items() if mark.startswith("✓")}
    return policy


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, entry)
        for path, item in document["paths"].items()
        for method, entry in item.items()
    ]


async def test_the_written_policy_is_what_the_service_enforces(app_client: Any) -> None:
    document = await (await app_client.get("/api/openapi.json")).json()
    written = written_policy()
    missing, different = [], []
    for method, path, entry in operations(document):
        declared = set(entry["x-roles"]) if "x-roles" in entry else None
        if not entry.get("security"):
            declared = None
        elif declared is None:
            declared = set(ROLES)  # any authenticated caller
        if (method, path) not in written:
            missing.append(f"{method} {path}")
        elif written[(method, path)] != declared:
            different.append(f"{method} {path}: written {written[(method, path)]}, is {declared}")
    stale = sorted(
        f"{m} {p}"
        for m, p in written
        if (m, p) not in {(m2, p2) for m2, p2, _ in operations(document)}
    )
    assert not missing, f"add rows to docs/security.md for: {missing}"
    assert not different, different
    assert not stale, f"docs/security.md lists routes that no longer exist: {stale}"


def test_every_path_placeholder_is_well_formed() -> None:
    """The document's paths name their parameters plainly (no pattern left inside)."""
    from tests.api import make_settings
    from vcorch.app import create_app
    from vcorch.web.ops import OPENAPI

    document = create_app(make_settings("sqlite+aiosqlite:///unused.db"), background=False)[OPENAPI]
    for path, item in document["paths"].items():
        names = re.findall(r"{([^{}]*)}", path)
        assert re.sub(r"{[A-Za-z_]+}", "", path).count("{") == 0, path
        assert "}}" not in path, path
        for entry in item.values():
            declared = {p["name"] for p in entry["parameters"] if p["in"] == "path"}
            assert declared == set(names), path


# -- fixture tables ----------------------------------------------------------------------------

ID_BY_PREFIX = [
    ("/api/meetings/{id}/conference-links", "recorded_meeting"),
    ("/api/units", "unit"),
    ("/api/rooms", "room"),
    ("/api/endpoints", "endpoint"),
    ("/api/meetings", "meeting"),
    ("/api/calendar-tokens", "calendar_token"),
    ("/api/site-groups", "site_group"),
]
PARAM_IDS = {
    "site_id": "site",
    "entry_id": "entry",
    "person_id": "person",
    "checkin_id": "checkin",
    "link_id": "link",
    "key": "key",
    "username": "username",
    "name": "bridge",
}

Body = Callable[[dict[str, Any]], Any]


def meeting_body(ids: dict[str, Any]) -> dict[str, Any]:
    start = datetime(2027, 3, 1, 2, tzinfo=UTC) + timedelta(hours=unique())
    return {
        "title": f"Họp kiểm tra quyền {unique()}",
        "kind": "meeting",
        "mode": "in_person",
        "organizer_unit_id": ids["unit"],
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "host_room_id": ids["room"],
        "sites": [{"room_id": ids["room"]}],
    }


BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/api/users"): lambda ids: {
        "username": f"nguoi_dung_{unique()}",
        "role": "operator",
        "unit_id": ids["unit"],
        "password": "mot-mat-khau-du-dai",
    },
    ("PATCH", "/api/users/{username}"): lambda ids: {"disabled": False},
    ("POST", "/api/clients"): lambda ids: {"name": f"Cổng {unique()}", "unit_id": ids["unit"]},
    ("POST", "/api/unit-levels"): lambda ids: {
        "code": f"cap-{unique()}",
        "name": "Cấp thôn",
        "rank": 5,
    },
    ("POST", "/api/units"): lambda ids: {
        "code": f"don-vi-{unique()}",
        "name": "Xã mới",
        "level": "commune",
        "parent_id": ids["unit"],
    },
    ("PATCH", "/api/units/{id}"): lambda ids: {"name": "Tên mới của đơn vị"},
    ("POST", "/api/rooms"): lambda ids: {"unit_id": ids["unit"], "name": f"Phòng {unique()}"},
    ("PATCH", "/api/rooms/{id}"): lambda ids: {"seats": 25},
    ("POST", "/api/endpoints"): lambda ids: {
        "room_id": ids["room"],
        "name": f"Máy {unique()}",
        "kind": "sip",
        "address": f"sip:may{unique()}@10.0.0.9",
    },
    ("PATCH", "/api/endpoints/{id}"): lambda ids: {"name": "Thiết bị đổi tên"},
    ("POST", "/api/meetings"): meeting_body,
    ("POST", "/api/meetings/check"): meeting_body,
    ("POST", "/api/site-groups"): lambda ids: {
        "unit_id": ids["unit"],
        "name": f"Nhóm {unique()}",
        "room_ids": [ids["room"]],
    },
    ("PUT", "/api/site-groups/{id}"): lambda ids: {
        "unit_id": ids["unit"],
        "name": f"Nhóm đổi tên {unique()}",
        "room_ids": [ids["room"]],
    },
    ("PATCH", "/api/meetings/{id}"): lambda ids: {"title": "Đổi tiêu đề"},
    ("PATCH", "/api/meetings/{id}/occurrences/{key}"): lambda ids: {"cancelled": False},
    ("POST", "/api/calendar-tokens"): lambda ids: {"unit_id": ids["unit"]},
    ("POST", "/api/meetings/{id}/sites/{site_id}/approval"): lambda ids: {"decision": "accept"},
    ("POST", "/api/meetings/{id}/start"): lambda ids: {},
    ("POST", "/api/meetings/{id}/extend"): lambda ids: {"minutes": 5},
    ("POST", "/api/meetings/{id}/layout"): lambda ids: {"layout": "grid"},
    ("POST", "/api/meetings/{id}/mute-all"): lambda ids: {"muted": True},
    ("POST", "/api/meetings/{id}/lock"): lambda ids: {"locked": True},
    ("POST", "/api/meetings/{id}/message"): lambda ids: {"text": "Xin chào", "seconds": 5},
    ("POST", "/api/meetings/{id}/attendance/entries"): lambda ids: {
        "room_id": ids["room"],
        "channel": "in_person",
        "start": ids["start"].isoformat(),
        "end": (ids["start"] + timedelta(minutes=30)).isoformat(),
    },
    ("PUT", "/api/meetings/{id}/attendance/headcounts"): lambda ids: {
        "room_id": ids["room"],
        "count": 12,
    },
    ("POST", "/api/meetings/{id}/roster"): lambda ids: {"people": [{"full_name": "Hà Văn Sơn"}]},
    ("POST", "/api/meetings/{id}/checkins"): lambda ids: {
        "room_id": ids["room"],
        "full_name": f"Người dự {unique()}",
    },
    ("POST", "/api/meetings/{id}/checkin-links"): lambda ids: {"room_id": ids["room"]},
    ("POST", "/api/meetings/{id}/conference-links"): lambda ids: {
        "bridge": "mcu-b",
        "conference_id": f"cospace-{unique()}",
    },
}
# Creations whose body names a unit or room: with another unit's, refused naming the field.
SCOPED_BODY_FIELDS: dict[tuple[str, str], str] = {
    ("POST", "/api/users"): "unit_id",
    ("POST", "/api/clients"): "unit_id",
    ("POST", "/api/units"): "parent_id",
    ("POST", "/api/rooms"): "unit_id",
    ("POST", "/api/endpoints"): "room_id",
    ("POST", "/api/meetings"): "organizer_unit_id",
    ("POST", "/api/meetings/check"): "organizer_unit_id",
    ("POST", "/api/site-groups"): "unit_id",
    ("POST", "/api/calendar-tokens"): "unit_id",
}
QUERIES: dict[tuple[str, str], Callable[[dict[str, Any]], str]] = {
    ("GET", "/api/availability"): lambda ids: (
        f"rooms={ids['room']}&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z"
    ),
    ("GET", "/api/attendance"): lambda ids: "from=2026-01-01&to=2026-12-31",
    ("GET", "/api/audit"): lambda ids: "",
    ("GET", "/api/meetings/{id}/occurrences"): lambda ids: (
        "from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z"
    ),
}
HEADERS: dict[tuple[str, str], dict[str, str]] = {
    ("PATCH", "/api/meetings/{id}"): {"If-Match": '"v1"'},
    ("PUT", "/api/site-groups/{id}"): {"If-Match": '"v1"'},
    ("DELETE", "/api/site-groups/{id}"): {"If-Match": '"v1"'},
}


@dataclass
class Call:
    method: str
    path: str
    url: str
    body: Any
    headers: dict[str, str]


async def fresh_ids(api: Api, estate: Estate, scope: str, method: str, path: str) -> dict[str, Any]:
    """The scope's ids; for a DELETE on the caller's own unit, objects made for it."""
    ids = dict(estate.ids[scope])
    if method != "DELETE" or scope != "own":
        return ids
    central = api.as_(estate.world.tokens["admin"])
    meeting = f"/api/meetings/{ids['meeting']}"
    made: dict[str, tuple[str, str, Body]] = {
        "/api/units/{id}": ("unit", "/api/units", BODIES[("POST", "/api/units")]),
        "/api/rooms/{id}": ("room", "/api/rooms", BODIES[("POST", "/api/rooms")]),
        "/api/endpoints/{id}": ("endpoint", "/api/endpoints", BODIES[("POST", "/api/endpoints")]),
        "/api/meetings/{id}": ("meeting", "/api/meetings", meeting_body),
        "/api/site-groups/{id}": (
            "site_group",
            "/api/site-groups",
            BODIES[("POST", "/api/site-groups")],
        ),
        "/api/calendar-tokens/{id}": (
            "calendar_token",
            "/api/calendar-tokens",
            BODIES[("POST", "/api/calendar-tokens")],
        ),
        "/api/meetings/{id}/attendance/entries/{entry_id}": (
            "entry",
            f"{meeting}/attendance/entries",
            BODIES[("POST", "/api/meetings/{id}/attendance/entries")],
        ),
        "/api/meetings/{id}/checkins/{checkin_id}": (
            "checkin",
            f"{meeting}/checkins",
            BODIES[("POST", "/api/meetings/{id}/checkins")],
        ),
        "/api/meetings/{id}/conference-links/{link_id}": (
            "link",
            f"/api/meetings/{ids['recorded_meeting']}/conference-links",
            BODIES[("POST", "/api/meetings/{id}/conference-links")],
        ),
    }
    if path == "/api/meetings/{id}/roster/{person_id}":
        status, body = await central.post(
            f"{meeting}/roster", {"people": [{"full_name": f"Người {unique()}"}]}
        )
        assert status in (200, 201), body
        ids["person"] = body["items"][-1]["id"]
    elif path in made:
        name, collection, make = made[path]
        status, body = await central.post(collection, make(ids))
        assert status in (200, 201), (collection, body)
        ids[name] = body["id"]
    return ids


def build_call(method: str, path: str, entry: dict[str, Any], ids: dict[str, Any]) -> Call:
    values: dict[str, Any] = {}
    for name in re.findall(r"{([A-Za-z_]+)}", path):
        if name == "id":
            prefix = next((p for p, _ in ID_BY_PREFIX if path.startswith(p)), None)
            assert prefix is not None, f"add {path} to ID_BY_PREFIX"
            values[name] = ids[dict(ID_BY_PREFIX)[prefix]]
        else:
            assert name in PARAM_IDS, f"add the path parameter {name} of {path} to PARAM_IDS"
            values[name] = ids[PARAM_IDS[name]]
    url = path.format(**values)
    query = QUERIES.get((method, path))
    if query is not None:
        url += "?" + query(ids)
    body = None
    if "requestBody" in entry:
        maker = BODIES.get((method, path))
        assert maker is not None, f"add a body for {method} {path} to BODIES"
        body = maker(ids)
    return Call(method, path, url, body, dict(HEADERS.get((method, path), {})))


async def send(api: Api, token: str | None, call: Call) -> tuple[int, Any]:
    headers = dict(call.headers)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = await api.client.request(
        call.method, call.url, json=call.body, headers=headers, allow_redirects=False
    )
    if response.content_type in ("application/json", "application/problem+json"):
        return response.status, await response.json()
    if response.content_type == "text/event-stream":
        response.close()  # the live stream lasts as long as its meeting: its status is enough
        return response.status, b""
    return response.status, await response.read()


def forged(genuine: str) -> list[str]:
    claims = jwt.decode(genuine, options={"verify_signature": False})
    return [
        jwt.encode(claims, "a-guessed-signing-key-that-is-long-enough!", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),  # type: ignore[arg-type]
        genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB"),
    ]


def ordered(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Reads first, then writes, then deletes: earlier calls leave later ones their objects."""
    rank = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    return sorted(operations(document), key=lambda op: (rank[op[0]], op[1]))


async def test_every_route_by_every_role_in_and_out_of_its_unit(api: Api, estate: Estate) -> None:
    document = await (await api.client.get("/api/openapi.json")).json()
    wrong: list[str] = []
    checked = 0
    fakes = forged(estate.tokens["secretariat"])
    for method, path, entry in ordered(document):
        if not entry.get("security") or (method, path) in NOT_CALLED:
            continue
        allowed = set(entry.get("x-roles", ROLES))
        scoped = bool(set(re.findall(r"{([A-Za-z_]+)}", path)) & SCOPED_PARAMS)
        own = build_call(method, path, entry, await fresh_ids(api, estate, "own", method, path))
        status, body = await send(api, None, own)
        if status != 401:
            wrong.append(f"{method} {path} without a token: {status}")
        for token in fakes:
            status, body = await send(api, token, own)
            if status != 401:
                wrong.append(f"{method} {path} with a forged token: {status}")
        for role in ROLES:
            token = estate.tokens[role]
            if role not in allowed or (method, path, role) in REFUSED_BELOW_ROOT:
                status, body = await send(api, token, own)
                checked += 1
                if status != 403:
                    wrong.append(f"{method} {path} as {role} (not allowed): {status} {body!r:.200}")
                continue
            if scoped:
                other = build_call(
                    method, path, entry, await fresh_ids(api, estate, "other", method, path)
                )
                status, body = await send(api, token, other)
                checked += 1
                if status != 404:
                    wrong.append(f"{method} {path} as {role}, other unit: {status} {body!r:.200}")
            call = build_call(
                method, path, entry, await fresh_ids(api, estate, "own", method, path)
            )
            status, body = await send(api, token, call)
            checked += 1
            if status in (401, 403, 404) or status >= 500:
                wrong.append(f"{method} {path} as {role}, own unit: {status} {body!r:.200}")
            field = SCOPED_BODY_FIELDS.get((method, path))
            if field is not None:
                elsewhere = build_call(method, path, entry, dict(estate.ids["other"]))
                status, body = await send(api, token, elsewhere)
                checked += 1
                named = (
                    {e["field"] for e in body.get("errors", [])} if isinstance(body, dict) else {}
                )
                if status not in (403, 422) or field not in named:
                    wrong.append(
                        f"{method} {path} as {role} naming {PROVINCE['other']}:"
                        f" {status} {body!r:.200}"
                    )
    assert not wrong, "\n".join(wrong)
    assert checked > 300


async def test_expired_tokens_are_refused_everywhere(
    api: Api, estate: Estate, clock: FakeClock
) -> None:
    document = await (await api.client.get("/api/openapi.json")).json()
    clock.advance(seconds=3601)
    refused: list[Awaitable[tuple[int, Any]]] = []
    calls = []
    for method, path, entry in ordered(document):
        if not entry.get("security"):
            continue
        call = build_call(method, path, entry, dict(estate.ids["own"]))
        calls.append(call)
        refused.append(send(api, estate.tokens["admin"], call))
    for call, outcome in zip(calls, refused, strict=True):
        status, body = await outcome
        assert status == 401 and "expired" in body["detail"], (call.method, call.path, body)
