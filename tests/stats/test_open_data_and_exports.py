"""Open data (public, cacheable, aggregates only), the XLSX and CSV exports, the gauge, and
the links that let a meeting recorded after the fact be verified."""

from __future__ import annotations

import csv
import io
import json
from email.utils import parsedate_to_datetime

from openpyxl import load_workbook
from sqlalchemy import select

from tests.stats.conftest import Calendar
from tests.stats.test_online_share import NOW, Q1, build
from vcorch.access.models import AuditEntry
from vcorch.stats.routes import STATS
from vcorch.web.keys import SESSIONS

COLUMNS = [
    "month",
    "province_code",
    "province_name",
    "held",
    "declared_online",
    "verified_online",
    "share",
    "share_declared",
    "target",
    "met",
    "provisional",
]


async def _built(calendar: Calendar) -> Calendar:
    await build(calendar)
    await calendar.app[STATS].refresher.refresh()
    return calendar


async def test_open_data_csv_is_public_cacheable_and_aggregated(calendar: Calendar) -> None:
    await _built(calendar)
    client = calendar.api.client
    response = await client.get("/open-data/online-share.csv")
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.headers["Cache-Control"] == "public, max-age=900"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert parsedate_to_datetime(response.headers["Last-Modified"]) == NOW
    etag = response.headers["ETag"]
    text = await response.text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == COLUMNS
    names = {row[1]: row[2] for row in rows[1:]}
    assert names == {"dien-bien": "Tỉnh Điện Biên", "lao-cai": "Tỉnh Lào Cai", "": "Trung ương"}
    # held, declared, verified, share, share_declared, target, met, provisional
    table = {(row[0], row[1]): ",".join(row[3:]) for row in rows[1:]}
    # Per month and province (central-level organisers under an empty code), zeros included.
    assert table == {
        # January: Lào Cai B and G (Bắc Hà's); Điện Biên C; central A and D.
        ("2026-01", "dien-bien"): "1,1,1,1.0,1.0,0.3,true,false",
        ("2026-01", "lao-cai"): "2,2,1,0.5,1.0,0.3,true,false",
        ("2026-01", ""): "2,1,0,0.0,0.5,0.3,false,false",
        # February: Điện Biên H three times and I; central J.
        ("2026-02", "dien-bien"): "4,1,1,0.25,0.25,0.3,false,false",
        ("2026-02", "lao-cai"): "0,0,0,0.0,0.0,0.3,false,false",
        ("2026-02", ""): "1,1,0,0.0,1.0,0.3,false,false",
        # March, not over: Lào Cai K.
        ("2026-03", "dien-bien"): "0,0,0,0.0,0.0,0.3,false,true",
        ("2026-03", "lao-cai"): "1,1,1,1.0,1.0,0.3,true,true",
        ("2026-03", ""): "0,0,0,0.0,0.0,0.3,false,true",
    }
    # Nothing but aggregates: no titles, no people, no rooms.
    for private in ("Cuộc họp", "Phòng họp", "admin", "leader", "sip:"):
        assert private not in text

    # Conditional requests: the same table is not sent twice.
    again = await client.get("/open-data/online-share.csv", headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    since = await client.get(
        "/open-data/online-share.csv",
        headers={"If-Modified-Since": response.headers["Last-Modified"]},
    )
    assert since.status == 304

    # A meeting recorded after the fact shows once the leader has refreshed the summary.
    await calendar.book("N", day="2026-01-28", mode="in_person", organizer="dien-bien")
    calendar.clock.now = NOW.replace(minute=5)
    await calendar.app[STATS].refresher.refresh()
    changed = await client.get("/open-data/online-share.csv", headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    assert "2026-01,dien-bien,Tỉnh Điện Biên,2,1,1,0.5," in await changed.text()


async def test_open_data_json_follows_its_schema(calendar: Calendar) -> None:
    await _built(calendar)
    client = calendar.api.client
    response = await client.get("/open-data/online-share.json?year=2026")
    assert response.status == 200
    assert response.headers["ETag"]
    document = json.loads(await response.read())
    schema_response = await client.get(document["schema"])
    assert schema_response.status == 200
    schema = json.loads(await schema_response.read())
    assert [field["name"] for field in schema["fields"]] == COLUMNS
    types = {"string": (str, type(None)), "yearmonth": str, "integer": int, "number": (int, float)}
    types["boolean"] = bool
    assert len(document["rows"]) == 9
    for row in document["rows"]:
        assert list(row) == COLUMNS
        for field in schema["fields"]:
            assert isinstance(row[field["name"]], types[field["type"]]), (field, row)
    assert document["target"] == 0.3
    held = sum(row["held"] for row in document["rows"])
    assert held == 11
    empty = json.loads(await (await client.get("/open-data/online-share.json?year=2025")).read())
    assert empty["rows"] == []
    bad = await client.get("/open-data/online-share.json?year=twenty")
    assert bad.status == 422
    assert bad.content_type == "application/problem+json"


async def test_the_report_as_xlsx_and_csv(calendar: Calendar) -> None:
    await _built(calendar)
    api = calendar.api.as_(await calendar.token("leader"))
    response = await api.client.get(
        f"/api/stats/online-share?{Q1}&group_by=province&format=xlsx",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status == 200
    assert response.content_type.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(await response.read()))
    assert book.sheetnames == ["Tỷ lệ trực tuyến", "Dự báo", "Thông tin"]
    sheet = book["Tỷ lệ trực tuyến"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:4] == [
        "Tỉnh, thành phố",
        "Số cuộc họp đã tổ chức",
        "Trực tuyến (theo đăng ký)",
        "Trực tuyến (đã xác minh)",
    ]
    by_name = {row[0]: row[1:8] for row in rows[1:]}
    assert by_name["Tỉnh Điện Biên"] == [5, 2, 2, 40.0, 40.0, 30.0, -10.0]
    assert by_name["Tỉnh Lào Cai"] == [3, 3, 2, 66.7, 100.0, 30.0, -36.7]
    assert by_name["Tổng cộng"][:4] == [11, 7, 4, 36.4]
    projection = {row[0].value: row[1].value for row in book["Dự báo"].iter_rows(min_row=2)}
    assert projection["Dự báo số cuộc họp cả kỳ"] == 13

    status, text = await api.get(f"/api/stats/online-share?{Q1}&group_by=kind&format=csv")
    assert status == 200
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Loại hình,Số cuộc họp đã tổ chức")
    assert lines[1].startswith("Cuộc họp,3,2,2,66.7")
    assert lines[-1].startswith("Tổng cộng,11,7,4,36.4")


async def test_the_gauge_shows_the_current_period(calendar: Calendar) -> None:
    await _built(calendar)
    status, text = await calendar.api.get("/metrics")
    assert status == 200
    assert 'vcorch_online_share{basis="verified",period="2026"} 0.3636' in text
    assert 'vcorch_online_share{basis="declared",period="2026"} 0.6364' in text
    assert 'vcorch_online_share_target{period="2026"} 0.3' in text


async def test_links_for_meetings_recorded_after_the_fact(calendar: Calendar) -> None:
    await _built(calendar)
    ids = calendar.ids
    admin = calendar.api.as_(await calendar.token("admin"))
    status, listed = await admin.get(f"/api/meetings/{ids['I']}/conference-links")
    assert status == 200
    [link] = listed["items"]
    assert (link["bridge"], link["conference_id"]) == ("cms-1", "cospace-77")

    # A conference is one occurrence's; vcorch's own runs count by themselves.
    status, body = await admin.post(
        f"/api/meetings/{ids['J']}/conference-links",
        {"bridge": "cms-1", "conference_id": "cospace-77"},
    )
    assert status == 409, body
    status, body = await admin.post(
        f"/api/meetings/{ids['B']}/conference-links", {"bridge": "x", "conference_id": "y"}
    )
    assert status == 409, body
    assert "ran this occurrence" in body["detail"]
    # A series needs the occurrence named; a wrong one is refused.
    status, body = await admin.post(
        f"/api/meetings/{ids['H']}/conference-links", {"bridge": "x", "conference_id": "y"}
    )
    assert status == 422, body
    assert body["errors"][0]["field"] == "occurrence"
    status, body = await admin.post(
        f"/api/meetings/{ids['H']}/conference-links",
        {"bridge": "x", "conference_id": "y", "occurrence": "2026-02-03T02:00:00Z"},
    )
    assert status == 422, body
    # Scope and roles: another province's secretariat does not see the meeting; a
    # leader reads but does not link.
    status, body = await calendar.api.as_(await calendar.token("laocai_sec")).post(
        f"/api/meetings/{ids['I']}/conference-links", {"bridge": "x", "conference_id": "y"}
    )
    assert status == 404, body
    status, body = await calendar.api.as_(await calendar.token("leader")).post(
        f"/api/meetings/{ids['J']}/conference-links", {"bridge": "x", "conference_id": "y"}
    )
    assert status == 403, body

    # Unlinking takes the verification away (after the next judgement), and is audited.
    status, _ = await admin.delete(f"/api/meetings/{ids['I']}/conference-links/{link['id']}")
    assert status == 204
    await calendar.app[STATS].refresher.refresh()
    status, body = await calendar.api.as_(await calendar.token("leader")).get(
        f"/api/stats/online-share?{Q1}&group_by=month"
    )
    assert status == 200
    february = body["groups"][1]
    assert (february["held"], february["declared_online"], february["verified_online"]) == (
        5,
        2,
        0,
    )
    async with calendar.app[SESSIONS]() as session:
        actions = list(
            (
                await session.execute(
                    select(AuditEntry.action, AuditEntry.actor).where(
                        AuditEntry.entity == "meeting", AuditEntry.entity_id == str(ids["I"])
                    )
                )
            ).all()
        )
    assert ("link-conference", "user:dienbien_sec") in actions
    assert ("unlink-conference", "user:admin") in actions


async def test_the_routes_are_in_the_openapi_document(calendar: Calendar) -> None:
    status, document = await calendar.api.get("/api/openapi.json")
    assert status == 200
    paths = document["paths"]
    report = paths["/api/stats/online-share"]["get"]
    assert report["x-roles"] == ["admin", "integration", "leadership", "secretariat"]
    names = {parameter["name"] for parameter in report["parameters"]}
    assert {"from", "to", "group_by", "unit", "format"} <= names
    for path in (
        "/open-data/online-share.csv",
        "/open-data/online-share.json",
        "/open-data/online-share.schema.json",
    ):
        assert "security" not in paths[path]["get"] or paths[path]["get"]["security"] == []
    assert "/api/meetings/{id}/conference-links" in paths
