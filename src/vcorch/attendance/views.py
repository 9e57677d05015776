"""Attendance rows as the API and the audit log show them, and the keys they are found by."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from vcorch.attendance.models import CheckIn, ManualEntry, RosterEntry
from vcorch.booking import occurrence_key_text
from vcorch.text import fold


def parse_key(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def person_key(full_name: str, unit_name: str | None) -> str:
    return f"{' '.join(fold(full_name).split())}|{' '.join(fold(unit_name or '').split())}"[:600]


def checkin_view(row: CheckIn) -> dict[str, Any]:
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "occurrence": occurrence_key_text(row.occurrence_key),
        "room_id": row.room_id,
        "roster_id": row.roster_id,
        "full_name": row.full_name,
        "unit_name": row.unit_name,
        "position": row.position,
        "method": row.method,
        "checked_in_at": row.checked_in_at.isoformat(),
    }


def entry_view(row: ManualEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "occurrence": occurrence_key_text(row.occurrence_key),
        "room_id": row.room_id,
        "channel": row.channel,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat(),
        "note": row.note,
        "retracted_at": row.retracted_at.isoformat() if row.retracted_at else None,
    }


def roster_view(row: RosterEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "full_name": row.full_name,
        "unit_name": row.unit_name,
        "position": row.position,
        "room_id": row.room_id,
    }
