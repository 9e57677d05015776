"""Bad input a generator rarely makes, written by hand (huge bodies, deep JSON and invalid
UTF-8 are in tests/web/test_http_edge.py; CR/LF in invitee names in
tests/calendars/test_invitations_api.py):

- Vietnamese typed in NFD (as some keyboards and macOS file names send it) is stored in
  NFC and found whichever form is searched for;
- line breaks in e-mail addresses (site contacts, invitees, users) are refused with the
  field named, so nothing can add a header to an invitation;
- SQL and path meta-characters in searches and path parameters are plain text: no error,
  no widened match, no file outside the routes.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.api import Api
from tests.booking.test_booking_api import meeting
from tests.world import World

NAME = "Phòng họp Điện Biên Phủ – tầng 2"
NFD = unicodedata.normalize("NFD", NAME)


async def test_nfd_vietnamese_is_stored_nfc_and_found_either_way(api: Api, world: World) -> None:
    assert NFD != NAME
    sec = api.as_(world.tokens["dienbien_sec"])
    status, room = await sec.post(
        "/api/rooms", {"unit_id": world.units["dien-bien"], "name": NFD, "seats": 20}
    )
    assert status == 201, room
    assert room["name"] == NAME
    status, stored = await sec.get(f"/api/rooms/{room['id']}")
    assert stored["name"] == NAME
    for query in (NAME, NFD, "điện biên phủ", unicodedata.normalize("NFD", "Điện Biên Phủ")):
        status, found = await sec.get("/api/rooms" + "?" + urlencode({"q": query}))
        assert status == 200, found
        assert [r["id"] for r in found["items"]] == [room["id"]], query

    title = unicodedata.normalize("NFD", "Tập huấn chuyển đổi số cấp xã")
    status, created = await sec.post(
        "/api/meetings",
        meeting(
            world,
            title=title,
            organizer_unit_id=world.units["dien-bien"],
            host_room_id=world.rooms["dien-bien"],
            sites=[{"room_id": world.rooms["dien-bien"]}],
        ),
    )
    assert status == 201, created
    assert created["title"] == unicodedata.normalize("NFC", title)
    for query in ("chuyển đổi số", unicodedata.normalize("NFD", "chuyển đổi số")):
        status, found = await sec.get("/api/meetings" + "?" + urlencode({"q": query}))
        assert [m["id"] for m in found["items"]] == [created["id"]], query


INJECTED = [
    "phonghop@example.vn\r\nBcc: victim@example.org",
    "phonghop@example.vn\nX-Injected: yes",
    "phonghop@example.vn\rSubject: khác",
    "phonghop@example.vn%0d%0aBcc:victim@example.org",
]


@pytest.mark.parametrize("address", INJECTED)
async def test_line_breaks_in_email_fields_are_refused(
    api: Api, world: World, address: str
) -> None:
    sec = api.as_(world.tokens["central_sec"])
    cases: list[tuple[dict[str, Any], str]] = [
        (
            meeting(
                world,
                sites=[
                    {"room_id": world.rooms["central"]},
                    {"room_id": world.rooms["lao-cai"], "contacts": [address]},
                ],
            ),
            "sites.1.contacts.0",
        ),
        (meeting(world, invited=[{"email": address, "name": "Lãnh đạo"}]), "invited.0.email"),
    ]
    for body, field in cases:
        status, problem = await sec.post("/api/meetings", body)
        assert status == 422, problem
        assert field in {e["field"] for e in problem["errors"]}, problem
    status, problem = await api.as_(world.tokens["admin"]).post(
        "/api/users",
        {
            "username": "nguoi_moi",
            "role": "operator",
            "unit_id": world.units["lao-cai"],
            "password": "mot-mat-khau-du-dai",
            "email": address,
        },
    )
    assert status == 422 and "email" in {e["field"] for e in problem["errors"]}, problem
    # Nothing was queued for anyone.
    status, listed = await sec.get("/api/meetings")
    assert listed["items"] == []


SEARCHES = ["%", "_", "%%", "\\", "'", "' OR '1'='1", "1; DROP TABLE rooms; --", '"', "/*", "*"]


@pytest.mark.parametrize("query", SEARCHES)
async def test_sql_meta_characters_in_searches_are_plain_text(
    api: Api, world: World, query: str
) -> None:
    admin = api.as_(world.tokens["admin"])
    for path in ("/api/rooms", "/api/units", "/api/endpoints", "/api/meetings"):
        status, found = await admin.get(path + "?" + urlencode({"q": query}))
        assert status == 200, (path, found)
        # No room, unit or endpoint name holds these characters: a wildcard or an
        # injected condition would have matched everything.
        assert found["items"] == [], (path, query, found["items"][:2])
    _, rooms = await admin.get("/api/rooms")
    assert len(rooms["items"]) == len(world.rooms)


async def test_meta_characters_in_a_name_are_found_literally(api: Api, world: World) -> None:
    sec = api.as_(world.tokens["laocai_sec"])
    status, odd = await sec.post(
        "/api/rooms", {"unit_id": world.units["lao-cai"], "name": "Phòng 100% _A_ 'B'"}
    )
    assert status == 201, odd
    for query in ("100%", "_a_", "'b'"):
        status, found = await sec.get("/api/rooms" + "?" + urlencode({"q": query}))
        assert [r["id"] for r in found["items"]] == [odd["id"]], query


PATHS = [
    "/api/rooms/1%20OR%201=1",
    "/api/rooms/1;DROP%20TABLE%20rooms",
    "/api/rooms/..%2F..%2Fetc%2Fpasswd",
    "/api/rooms/%2e%2e",
    "/api/rooms/0x10",
    "/api/rooms/-1",
    "/api/rooms/99999999999999999999999",
    "/api/units/1'",
    "/api/meetings/1%00",
    "/api/meetings/1/occurrences/20261201T000000Z'--",
    "/api/users/admin'--",
    "/api/bridges/..%2F..%2Fetc%2Fpasswd",
    "/api/calendar/..%2F..%2Fetc%2Fpasswd.ics",
    "/api/calendar/lao-cai'%20OR%20'1'='1.ics",
    "/static/..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/../app.py",
    "/join/..%2F..%2Fetc%2Fpasswd",
]


@pytest.mark.parametrize("path", PATHS)
async def test_meta_characters_in_path_parameters_find_nothing(
    api: Api, world: World, path: str
) -> None:
    admin = api.as_(world.tokens["admin"])
    for method in ("GET", "PATCH", "DELETE"):
        response = await api.client.request(
            method,
            path,
            headers={"Authorization": f"Bearer {admin.token}"},
            json={} if method == "PATCH" else None,
        )
        text = await response.text()
        assert response.status in (400, 403, 404, 405, 422), (method, path, response.status, text)
        assert "root:" not in text and "import " not in text
    # Nothing was changed or deleted on the way.
    _, rooms = await admin.get("/api/rooms")
    assert len(rooms["items"]) == len(world.rooms)
