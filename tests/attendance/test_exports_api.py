"""CSV and XLSX exports (Vietnamese headers, local times with the zone named) and the per-unit
report over a period."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from sqlalchemy import update

from tests.api import Api, FakeClock
from tests.attendance.helpers import book, event, launch, push, whole_minute
from tests.world import World
from vcorch.booking.models import Meeting
from vcorch.web.keys import SESSIONS

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
INJECTION = '=HYPERLINK("http://evil.example","bấm")'


async def download(client: TestClient[Any, Any], token: str, path: str) -> tuple[Any, bytes]:
    response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    return response, await response.read()


async def test_meeting_exports(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    start = whole_minute(clock.now) - timedelta(hours=1, minutes=30)
    end = start + timedelta(hours=1)
    meeting = await book(api, world, start=start, end=end, rooms=("central", "lao-cai"))
    await launch(
        app,
        world,
        meeting["id"],
        occurrence_key=start,
        start=start,
        end=end,
        participants={"central": "c", "lao-cai": "lc"},
        rooms=("central", "lao-cai"),
    )
    m = timedelta(minutes=1)
    await push(
        app,
        "mcu",
        [
            event("join", start, "c"),
            event("leave", end, "c"),
            event("join", start + 15 * m, "lc"),
            event("leave", end, "lc"),
        ],
    )
    op = api.as_(world.tokens["laocai_op"])
    status, _ = await op.post(
        f"/api/meetings/{meeting['id']}/checkins",
        {"room_id": world.rooms["lao-cai"], "full_name": INJECTION, "position": "-1+1"},
    )
    assert status == 201
    token = world.tokens["central_sec"]
    base = f"/api/meetings/{meeting['id']}/attendance"

    response, body = await download(app_client, token, f"{base}?format=csv")
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.headers["Content-Disposition"].endswith('.csv"')
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, central, lao_cai = rows
    assert header[:8] == [
        "STT",
        "Điểm cầu",
        "Đơn vị",
        "Trạng thái",
        "Hình thức tham dự",
        "Vào lần đầu",
        "Rời lần cuối",
        "Thời gian kết nối (phút)",
    ]
    assert header[-1] == "Múi giờ"
    assert central[3] == "Có mặt" and lao_cai[3] == "Đến muộn"
    assert lao_cai[4] == "Thiết bị phòng họp"
    local_join = (start + 15 * m).astimezone(HCM).strftime("%d/%m/%Y %H:%M:%S")
    assert lao_cai[5] == local_join
    assert lao_cai[7] == "45.0" and lao_cai[11] == "1"
    assert lao_cai[-1] == "Asia/Ho_Chi_Minh (UTC+07:00)"

    response, body = await download(app_client, token, f"{base}?format=csv&table=people")
    people = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert people[0][:4] == ["STT", "Họ và tên", "Đơn vị", "Chức vụ"]
    # What a person typed never becomes a formula.
    assert people[1][1] == "'" + INJECTION
    assert people[1][3] == "'-1+1"
    assert people[1][5] == "Cán bộ điểm cầu điểm danh"

    response, body = await download(app_client, token, f"{base}?format=xlsx")
    assert response.status == 200
    assert response.content_type.endswith("spreadsheetml.sheet")
    book_ = load_workbook(io.BytesIO(body))
    assert book_.sheetnames == ["Điểm cầu", "Người tham dự", "Thông tin"]
    sites = book_["Điểm cầu"]
    assert sites["D1"].value == "Trạng thái"
    assert sites["D3"].value == "Đến muộn"
    assert sites["F3"].value == (start + 15 * m).astimezone(HCM).replace(tzinfo=None)
    assert sites["F3"].number_format == "dd/mm/yyyy hh:mm:ss"
    assert sites["N3"].value == "Asia/Ho_Chi_Minh (UTC+07:00)"
    person = book_["Người tham dự"]["B2"]
    assert person.data_type == "s" and person.value == "'" + INJECTION
    info = {row[0]: row[1] for row in book_["Thông tin"].iter_rows(min_row=2, values_only=True)}
    assert info["Cuộc họp"] == meeting["title"]
    assert info["Múi giờ"] == "Asia/Ho_Chi_Minh (UTC+07:00)"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HCM).astimezone(UTC)


async def test_unit_attendance_over_a_period(
    app_client: TestClient[Any, Any], api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    today = clock.now.astimezone(HCM).date()
    d3, d2 = today - timedelta(days=3), today - timedelta(days=2)
    # 06:00 in Hà Nội is still the day before in UTC: the period is the unit's own days.
    one_start = local(d3, 6)
    one = await book(api, world, start=one_start, end=one_start + timedelta(hours=1))
    await launch(
        app,
        world,
        one["id"],
        occurrence_key=one_start,
        start=one_start,
        end=one_start + timedelta(hours=1),
        participants={"lao-cai": "lc", "dien-bien": "db"},
    )
    await push(
        app,
        "mcu",
        [
            event("join", one_start, "lc"),
            event("join", one_start + timedelta(minutes=30), "db"),
        ],
    )
    two_start = local(d2, 8)
    two = await book(
        api,
        world,
        start=two_start,
        end=two_start + timedelta(hours=1),
        rooms=("central", "lao-cai.bac-ha"),
        mode="in_person",
    )
    status, _ = await api.as_(world.tokens["laocai_op"]).post(
        f"/api/meetings/{two['id']}/attendance/entries",
        {"room_id": world.rooms["lao-cai.bac-ha"]},
    )
    assert status == 201
    # Not counted: one still to come, one cancelled.
    soon = whole_minute(clock.now) + timedelta(hours=3)
    await book(api, world, start=soon, end=soon + timedelta(hours=1))
    gone = await book(api, world, start=local(d2, 14), end=local(d2, 15), rooms=("lao-cai",))
    # (Cancelled before it was due; a past meeting cannot be cancelled through the API now.)
    async with app[SESSIONS].begin() as session:
        await session.execute(
            update(Meeting).where(Meeting.id == gone["id"]).values(status="cancelled")
        )

    leader = api.as_(world.tokens["laocai_leader"])
    status, result = await leader.get(f"/api/attendance?from={d3}&to={today}")
    assert status == 200, result
    assert result["from"] == d3.isoformat() and result["timezone"] == "Asia/Ho_Chi_Minh"
    whole = result["unit"]
    assert (whole["code"], whole["invited"], whole["attended"], whole["rate"]) == (
        "lao-cai",
        2,
        2,
        1.0,
    )
    rows = {row["code"]: row for row in result["items"]}
    assert set(rows) == {"lao-cai", "lao-cai.bac-ha"}
    assert (rows["lao-cai"]["invited"], rows["lao-cai"]["present"]) == (1, 1)
    bac_ha = rows["lao-cai.bac-ha"]
    assert (bac_ha["invited"], bac_ha["attended"], bac_ha["absent"], bac_ha["rate"]) == (
        2,
        1,
        1,
        0.5,
    )
    # One day only: the 06:00 meeting counts on its local day.
    _, first_day = await leader.get(f"/api/attendance?from={d3}&to={d3}")
    assert first_day["unit"]["invited"] == 1
    _, day_before = await leader.get(
        f"/api/attendance?from={d3 - timedelta(days=1)}&to={d3 - timedelta(days=1)}"
    )
    assert day_before["unit"]["invited"] == 0 and day_before["items"] == []
    # The central leadership sees every unit; Điện Biên's was late there.
    _, everyone = await api.as_(world.tokens["leader"]).get(
        f"/api/attendance?unit={world.units['dien-bien']}&from={d3}&to={today}"
    )
    assert everyone["unit"]["late"] == 1 and everyone["unit"]["rate"] == 1.0

    status, problem = await api.as_(world.tokens["dienbien_sec"]).get(
        f"/api/attendance?unit={world.units['lao-cai']}&from={d3}&to={today}"
    )
    assert status == 404 and problem["errors"][0]["field"] == "unit"
    status, problem = await leader.get(f"/api/attendance?from={today}&to={d3}")
    assert status == 422 and problem["errors"][0]["field"] == "to"
    status, problem = await leader.get("/api/attendance?from=2020-01-01&to=2026-01-01")
    assert status == 422
    status, problem = await leader.get("/api/attendance?from=hôm-qua&to=2026-01-01")
    assert status == 422 and problem["errors"][0]["field"] == "from"
    # Days whose midnight cannot be written, and ids no table holds, are refused as such.
    for query in ("from=0001-01-01&to=0001-01-02", "from=9999-12-30&to=9999-12-31"):
        status, _ = await leader.get(f"/api/attendance?{query}")
        assert status == 422, query
    status, problem = await leader.get(f"/api/attendance?unit={2**40}&from={d3}&to={today}")
    assert status == 422 and problem["errors"][0]["field"] == "unit"

    response, body = await download(
        app_client,
        world.tokens["laocai_leader"],
        f"/api/attendance?from={d3}&to={today}&format=csv",
    )
    assert response.status == 200
    rows_csv = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows_csv[0][:5] == [
        "Đơn vị",
        "Mã đơn vị",
        "Số cuộc họp được mời",
        "Số cuộc họp tham dự",
        "Tỷ lệ tham dự (%)",
    ]
    assert rows_csv[1][:5] == [
        "Tỉnh Lào Cai (toàn bộ đơn vị trực thuộc)",
        "lao-cai",
        "2",
        "2",
        "100.0",
    ]
    response, body = await download(
        app_client,
        world.tokens["laocai_leader"],
        f"/api/attendance?from={d3}&to={today}&format=xlsx",
    )
    assert load_workbook(io.BytesIO(body))["Tỷ lệ tham dự"]["E3"].value == 100.0
