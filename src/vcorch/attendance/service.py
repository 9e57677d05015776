"""Attendance as a service: reports, manual entries, headcounts, roster, check-ins, links.

Scope follows the meeting register (see ``attendance.base``).  Every write is audited in its
own transaction.  Each part lives in its own module; the service is their sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vcorch.attendance.base import LEAD, MAX_ENTRY, MAX_PERIOD_DAYS, MAX_SELF_CHECKINS, NOT_HELD
from vcorch.attendance.polling import record_poll
from vcorch.attendance.records import RecordsPart
from vcorch.attendance.reporting import ReportsPart
from vcorch.attendance.roster import RosterPart
from vcorch.attendance.self_checkin import IssuedLink, LinkPage, SelfCheckInPart
from vcorch.attendance.tally import RANK, MeetingAttendance, UnitAttendance, UnitTally
from vcorch.attendance.views import checkin_view, entry_view, parse_key, person_key, roster_view
from vcorch.mcu_adapter import Participant

__all__ = [
    "LEAD",
    "MAX_ENTRY",
    "MAX_PERIOD_DAYS",
    "MAX_SELF_CHECKINS",
    "NOT_HELD",
    "RANK",
    "AttendanceService",
    "IssuedLink",
    "LinkPage",
    "MeetingAttendance",
    "UnitAttendance",
    "UnitTally",
    "checkin_view",
    "entry_view",
    "parse_key",
    "person_key",
    "roster_view",
]


class AttendanceService(ReportsPart, RecordsPart, RosterPart, SelfCheckInPart):
    # -- the orchestrator's poll sink ------------------------------------------------------

    async def record_poll(
        self,
        run_id: int,
        bridge: str,
        conference_id: str,
        participants: Sequence[Participant],
        at: datetime,
    ) -> None:
        """``OrchestrationPolicy``'s ``on_poll``: fills gaps from a polled participant list."""
        await record_poll(self._sessions, run_id, bridge, conference_id, participants, at)
