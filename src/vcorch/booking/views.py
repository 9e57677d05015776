"""The meeting as the API, the audit log and the change feed show it, and who is told of changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.booking.models import Meeting, MeetingSite


class MeetingListener(Protocol):
    """Told of every change inside the writing transaction (invitations are queued here)."""

    async def meeting_changed(
        self, session: AsyncSession, meeting: Meeting, sites: Sequence[MeetingSite], action: str
    ) -> None: ...


@dataclass(frozen=True)
class MeetingRecord:
    meeting: Meeting
    sites: list[MeetingSite]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def meeting_view(meeting: Meeting, sites: Sequence[MeetingSite]) -> dict[str, Any]:
    """The meeting as the API shows it (also what the audit log and the change feed keep)."""
    zone = ZoneInfo(meeting.timezone)
    return {
        "id": meeting.id,
        "version": meeting.version,
        "sequence": meeting.sequence,
        "status": meeting.status,
        "title": meeting.title,
        "kind": meeting.kind,
        "mode": meeting.mode,
        "organizer_unit_id": meeting.organizer_unit_id,
        "chair": meeting.chair,
        "agenda": meeting.agenda,
        "start": iso(meeting.start_at),
        "end": iso(meeting.end_at),
        "start_local": meeting.start_at.astimezone(zone).isoformat(),
        "end_local": meeting.end_at.astimezone(zone).isoformat(),
        "timezone": meeting.timezone,
        "rrule": meeting.rrule,
        "exdates": list(meeting.exdates or []),
        "host_room_id": meeting.host_room_id,
        "sites": [
            {
                "site_id": s.id,
                "room_id": s.room_id,
                "endpoint_id": s.endpoint_id,
                "contacts": list(s.contacts or []),
                "approval": s.approval or "accepted",
                "decided_at": iso(s.decided_at) if s.decided_at else None,
                "decision_note": s.decision_note,
            }
            for s in sorted(sites, key=lambda s: s.id)
        ],
        "invited": [{"email": i["email"], "name": i.get("name")} for i in meeting.invited or []],
        "preferred_bridge": meeting.preferred_bridge,
        "external_ref": meeting.external_ref,
        "created_by": meeting.created_by,
        "created_at": iso(meeting.created_at),
        "updated_at": iso(meeting.updated_at),
    }
