"""Attendance as CSV and XLSX: Vietnamese headers, local times in a named zone.

Names people typed themselves (self check-in) end up in spreadsheets, so every text cell
that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return
first) is prefixed with an apostrophe (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from vcorch.attendance.intervals import Channel
from vcorch.attendance.report import OccurrenceReport
from vcorch.attendance.service import MeetingAttendance, UnitAttendance, UnitTally
from vcorch.booking import occurrence_key_text
from vcorch.orchestration import CHANNEL_LABELS

STATUS_VI = {
    "present": "Có mặt",
    "late": "Đến muộn",
    "left_early": "Về sớm",
    "partial": "Tham dự một phần",
    "absent": "Vắng mặt",
}
CHANNEL_VI = {**CHANNEL_LABELS, "in_person": "Trực tiếp"}
METHOD_VI = {"operator": "Cán bộ điểm cầu điểm danh", "self": "Tự điểm danh"}
MARK_VI = {
    "closed_at_end": "Còn kết nối khi cuộc họp kết thúc",
    "gaps_filled_by_polling": "Bổ sung từ danh sách người tham gia của cầu",
    "manual_entry": "Nhập thủ công",
    "leave_without_join": "Có lần rời không có lần vào",
    "provisional": "Tạm tính: cuộc họp đang diễn ra",
}
SITE_HEADERS = [
    "STT",
    "Điểm cầu",
    "Đơn vị",
    "Trạng thái",
    "Hình thức tham dự",
    "Vào lần đầu",
    "Rời lần cuối",
    "Thời gian kết nối (phút)",
    "Tỷ lệ thời gian kết nối (%)",
    "Số lần kết nối lại",
    "Số người (đếm tại điểm cầu)",
    "Số người đã điểm danh",
    "Ghi chú",
    "Múi giờ",
]
PEOPLE_HEADERS = [
    "STT",
    "Họ và tên",
    "Đơn vị",
    "Chức vụ",
    "Điểm cầu",
    "Hình thức điểm danh",
    "Thời gian điểm danh",
    "Trong danh sách dự kiến",
    "Múi giờ",
]
UNIT_HEADERS = [
    "Đơn vị",
    "Mã đơn vị",
    "Số cuộc họp được mời",
    "Số cuộc họp tham dự",
    "Tỷ lệ tham dự (%)",
    "Có mặt",
    "Đến muộn",
    "Về sớm",
    "Tham dự một phần",
    "Vắng mặt",
]
LOCAL_FORMAT = "%d/%m/%Y %H:%M:%S"
EXCEL_FORMAT = "dd/mm/yyyy hh:mm:ss"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | datetime | None


def zone_label(zone: str, at: datetime) -> str:
    """``Asia/Ho_Chi_Minh (UTC+07:00)``: the zone named, with its offset at that time."""
    offset = at.astimezone(ZoneInfo(zone)).strftime("%z")
    return f"{zone} (UTC{offset[:3]}:{offset[3:]})"


def safe(value: Cell) -> Cell:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _local(moment: datetime | None, zone: str) -> datetime | None:
    if moment is None:
        return None
    # Spreadsheets hold no zone: the local wall time, with the zone in its own column.
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def channels_text(seconds: Mapping[Channel, float]) -> str:
    """Every way the site took part, the longest first: a room system that dropped and a
    browser that took over are both said."""
    used = sorted((s for s in seconds.items() if s[1] > 0), key=lambda item: (-item[1], item[0]))
    return "; ".join(CHANNEL_VI.get(name, name) for name, _ in used)


def site_rows(report: OccurrenceReport, zone: str) -> list[list[Cell]]:
    label = zone_label(zone, report.window.start)
    rows: list[list[Cell]] = []
    for index, site in enumerate(report.sites, start=1):
        outcome = site.outcome
        rows.append(
            [
                index,
                site.place.room_name,
                site.place.unit_name,
                STATUS_VI[outcome.status],
                channels_text(outcome.seconds_by_channel),
                _local(outcome.first_join, zone),
                _local(outcome.last_leave, zone),
                round(outcome.connected_seconds / 60, 1),
                round(outcome.share * 100, 1),
                outcome.reconnects,
                site.headcount,
                site.checked_in,
                "; ".join(MARK_VI.get(mark, mark) for mark in outcome.marks),
                label,
            ]
        )
    return rows


def people_rows(report: OccurrenceReport, zone: str) -> list[list[Cell]]:
    label = zone_label(zone, report.window.start)
    rooms = {site.place.room_id: site.place.room_name for site in report.sites}
    return [
        [
            index,
            row.full_name,
            row.unit_name,
            row.position,
            rooms.get(row.room_id or 0, ""),
            METHOD_VI.get(row.method, row.method),
            _local(row.checked_in_at, zone),
            "Có" if row.roster_id is not None else "Không",
            label,
        ]
        for index, row in enumerate(report.checkins, start=1)
    ]


def unit_rows(result: UnitAttendance) -> list[list[Cell]]:
    def line(row: UnitTally, name: str | None = None) -> list[Cell]:
        return [
            name or row.name,
            row.code,
            row.invited,
            row.attended,
            round(row.rate * 100, 1),
            row.by_status["present"],
            row.by_status["late"],
            row.by_status["left_early"],
            row.by_status["partial"],
            row.by_status["absent"],
        ]

    # The first line is the whole subtree as one; then each unit's own rooms.
    whole = f"{result.unit.name} (toàn bộ đơn vị trực thuộc)"
    return [line(result.unit, whole), *(line(item) for item in result.items)]


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(LOCAL_FORMAT)
    return str(value)


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """UTF-8 with a byte order mark, so that spreadsheet programs read Vietnamese right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_text(safe(value)) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Cell]]]]) -> bytes:
    book = Workbook()
    first = True
    for title, headers, rows in sheets:
        sheet: Any = book.active if first else book.create_sheet()
        first = False
        sheet.title = title[:31]
        sheet.append(list(headers))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([safe(value) for value in row])
        for column, header in enumerate(headers, start=1):
            letter = get_column_letter(column)
            width = max([len(str(header))] + [len(_text(r[column - 1])) for r in rows])
            sheet.column_dimensions[letter].width = min(60, max(8, width + 2))
            for cell in sheet[letter][1:]:
                if isinstance(cell.value, datetime):
                    cell.number_format = EXCEL_FORMAT
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def meeting_info(attendance: MeetingAttendance) -> list[list[Cell]]:
    report, zone = attendance.report, attendance.zone
    window = report.window
    return [
        ["Cuộc họp", report.data.meeting.title],
        ["Mã cuộc họp", report.data.meeting.id],
        ["Phiên", occurrence_key_text(report.data.ref.key)],
        ["Bắt đầu", _local(window.start, zone)],
        ["Kết thúc", _local(window.end, zone)],
        ["Múi giờ", zone_label(zone, window.start)],
        ["Kết quả", "Chính thức" if window.closed else "Tạm tính (cuộc họp đang diễn ra)"],
    ]


def meeting_csv(attendance: MeetingAttendance, table: str) -> bytes:
    if table == "people":
        return to_csv(PEOPLE_HEADERS, people_rows(attendance.report, attendance.zone))
    return to_csv(SITE_HEADERS, site_rows(attendance.report, attendance.zone))


def meeting_xlsx(attendance: MeetingAttendance) -> bytes:
    return to_xlsx(
        [
            ("Điểm cầu", SITE_HEADERS, site_rows(attendance.report, attendance.zone)),
            ("Người tham dự", PEOPLE_HEADERS, people_rows(attendance.report, attendance.zone)),
            ("Thông tin", ["Mục", "Giá trị"], meeting_info(attendance)),
        ]
    )


def unit_csv(result: UnitAttendance) -> bytes:
    return to_csv(UNIT_HEADERS, unit_rows(result))


def unit_xlsx(result: UnitAttendance) -> bytes:
    info: list[list[Cell]] = [
        ["Đơn vị", result.unit.name],
        ["Từ ngày", result.start.strftime("%d/%m/%Y")],
        ["Đến ngày", result.end.strftime("%d/%m/%Y")],
        ["Múi giờ", result.zone],
    ]
    return to_xlsx(
        [
            ("Tỷ lệ tham dự", UNIT_HEADERS, unit_rows(result)),
            ("Thông tin", ["Mục", "Giá trị"], info),
        ]
    )
