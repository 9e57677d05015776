"""The report as CSV and XLSX (Vietnamese headers), and the open data files (CSV, JSON and
their Table Schema, https://specs.frictionlessdata.io/table-schema/)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from vcorch.attendance import Cell, spreadsheet_safe, to_csv, to_xlsx
from vcorch.stats import rules, schemas
from vcorch.stats.service import OpenData

GROUP_HEADERS = {
    "month": "Tháng",
    "quarter": "Quý",
    "year": "Năm",
    "kind": "Loại hình",
    "level": "Cấp đơn vị",
    "unit": "Đơn vị",
    "province": "Tỉnh, thành phố",
}
FIGURE_HEADERS = [
    "Số cuộc họp đã tổ chức",
    "Trực tuyến (theo đăng ký)",
    "Trực tuyến (đã xác minh)",
    "Tỷ lệ trực tuyến đã xác minh (%)",
    "Tỷ lệ trực tuyến theo đăng ký (%)",
    "Mục tiêu (%)",
    "Còn thiếu so với mục tiêu (điểm %)",
    "Đạt mục tiêu",
    "Cần thêm (cuộc họp trực tuyến)",
    "Đang chờ xác minh",
    "Đã lên lịch, chưa diễn ra",
    "Tỷ lệ điểm cầu tham dự (%)",
]


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def figure_cells(item: schemas.Figures) -> list[Cell]:
    return [
        item.held,
        item.declared_online,
        item.verified_online,
        _percent(item.share),
        _percent(item.share_declared),
        _percent(item.target),
        round(item.gap * 100, 1),
        "Đạt" if item.met else "Chưa đạt",
        item.online_needed,
        item.verification_pending,
        item.booked,
        _percent(item.attendance_rate),
    ]


def table(result: schemas.OnlineShareOut) -> tuple[list[str], list[list[Cell]]]:
    headers = [GROUP_HEADERS[result.group_by], *FIGURE_HEADERS]
    rows: list[list[Cell]] = [[group.label, *figure_cells(group)] for group in result.groups]
    rows.append(["Tổng cộng", *figure_cells(result.total)])
    return headers, rows


def _local(moment: datetime | None, zone_name: str) -> str:
    if moment is None:
        return "chưa tổng hợp"
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone_name)).strftime("%d/%m/%Y %H:%M:%S")


def report_csv(result: schemas.OnlineShareOut) -> bytes:
    headers, rows = table(result)
    return to_csv(headers, rows)


def report_xlsx(result: schemas.OnlineShareOut, zone_name: str) -> bytes:
    headers, rows = table(result)
    current = result.current_period
    projection: list[list[Cell]] = [
        ["Kỳ", current.label],
        ["Từ ngày", current.from_.strftime("%d/%m/%Y")],
        ["Đến ngày", current.to.strftime("%d/%m/%Y")],
        ["Đã tổ chức", current.figures.held],
        ["Trực tuyến đã xác minh", current.figures.verified_online],
        ["Đã lên lịch, chưa diễn ra", current.figures.booked],
        ["Trong đó trực tuyến", current.figures.booked_online],
        ["Tỷ lệ xác minh giả định (%)", _percent(current.assumed_verification_rate)],
        ["Dự báo số cuộc họp cả kỳ", current.projected_held],
        ["Dự báo tỷ lệ trực tuyến đã xác minh (%)", _percent(current.projected_share)],
        ["Dự báo tỷ lệ trực tuyến theo đăng ký (%)", _percent(current.projected_share_declared)],
        ["Dự báo đạt mục tiêu", "Đạt" if current.projected_met else "Chưa đạt"],
        ["Cần thêm cuộc họp trực tuyến đến cuối kỳ", current.online_needed_by_end],
    ]
    info: list[list[Cell]] = [
        ["Đơn vị", result.unit.name],
        ["Từ ngày", result.from_.strftime("%d/%m/%Y")],
        ["Đến ngày", result.to.strftime("%d/%m/%Y")],
        ["Mục tiêu (%)", _percent(result.target)],
        ["Số liệu tính đến", _local(result.as_of, zone_name)],
        ["Múi giờ", zone_name],
        ["Đã tổ chức", "Không bị hủy, đã kết thúc, không bị lỡ giờ khởi động"],
        ["Trực tuyến (theo đăng ký)", "Hình thức trực tuyến hoặc kết hợp"],
        [
            "Trực tuyến (đã xác minh)",
            f"Theo nhật ký của cầu hội nghị: ít nhất {rules.MIN_SITES} điểm cầu"
            " kết nối cùng một lúc",
        ],
    ]
    return to_xlsx(
        [
            ("Tỷ lệ trực tuyến", headers, rows),
            ("Dự báo", ["Mục", "Giá trị"], projection),
            ("Thông tin", ["Mục", "Giá trị"], info),
        ]
    )


# -- open data ----------------------------------------------------------------------------------

OPEN_DATA_FIELDS: list[dict[str, Any]] = [
    {
        "name": "month",
        "type": "yearmonth",
        "description": "Calendar month (Asia/Ho_Chi_Minh) in which the meetings started, YYYY-MM",
    },
    {
        "name": "province_code",
        "type": "string",
        "description": "Code of the organising unit's province; empty for central-level units",
    },
    {"name": "province_name", "type": "string", "description": "Name of that province"},
    {
        "name": "held",
        "type": "integer",
        "constraints": {"required": True, "minimum": 0},
        "description": "Meetings, conferences, workshops and trainings held (in person too):"
        " not cancelled, ended, start not missed",
    },
    {
        "name": "declared_online",
        "type": "integer",
        "constraints": {"required": True, "minimum": 0},
        "description": "Held with mode online or hybrid",
    },
    {
        "name": "verified_online",
        "type": "integer",
        "constraints": {"required": True, "minimum": 0},
        "description": "Declared online, and the bridge's own records show at least two sites"
        " connected at the same time",
    },
    {
        "name": "share",
        "type": "number",
        "constraints": {"required": True, "minimum": 0, "maximum": 1},
        "description": "verified_online / held; 0 when nothing was held",
    },
    {
        "name": "share_declared",
        "type": "number",
        "constraints": {"required": True, "minimum": 0, "maximum": 1},
        "description": "declared_online / held",
    },
    {"name": "target", "type": "number", "description": "The programme's target share"},
    {"name": "met", "type": "boolean", "description": "share >= target"},
    {
        "name": "provisional",
        "type": "boolean",
        "description": "The month is not over: its figures will still grow",
    },
]
OPEN_DATA_COLUMNS = [field["name"] for field in OPEN_DATA_FIELDS]
TABLE_SCHEMA: dict[str, Any] = {
    "$schema": "https://specs.frictionlessdata.io/schemas/table-schema.json",
    "title": "Online share of the programme's meetings, by month and province",
    "description": "Aggregates only: no meeting titles, no names, no personal data.",
    "fields": OPEN_DATA_FIELDS,
    "primaryKey": ["month", "province_code"],
    "missingValues": [""],
    "trueValues": ["true"],
    "falseValues": ["false"],
}


def _row(row: Any) -> dict[str, Any]:
    figures = row.figures
    return {
        "month": row.month,
        "province_code": row.province_code,
        "province_name": row.province_name,
        "held": figures.held,
        "declared_online": figures.declared_online,
        "verified_online": figures.verified_online,
        "share": figures.share,
        "share_declared": figures.share_declared,
        "target": figures.target,
        "met": figures.met,
        "provisional": row.provisional,
    }


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def open_data_csv(data: OpenData) -> bytes:
    """RFC 4180, UTF-8 without a byte order mark (for programs; the XLSX is for people)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(OPEN_DATA_COLUMNS)
    for row in data.rows:
        values = _row(row)
        # Public, and opened in spreadsheets too: a unit named "=HYPERLINK(...)" stays text.
        writer.writerow([_csv_value(spreadsheet_safe(values[name])) for name in OPEN_DATA_COLUMNS])
    return out.getvalue().encode("utf-8")


def open_data_json(data: OpenData, schema_url: str) -> bytes:
    document = {
        "title": TABLE_SCHEMA["title"],
        "schema": schema_url,
        "target": data.target,
        "summarised_at": data.summarised_at.isoformat().replace("+00:00", "Z")
        if data.summarised_at
        else None,
        "rows": [_row(row) for row in data.rows],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def table_schema_json() -> bytes:
    return json.dumps(TABLE_SCHEMA, ensure_ascii=False, indent=2).encode("utf-8")
