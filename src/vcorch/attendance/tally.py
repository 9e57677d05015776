"""Reports summed per unit: an occurrence counts once per unit, with its best status."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from vcorch.attendance.outcome import STATUSES, Status
from vcorch.attendance.report import OccurrenceReport
from vcorch.rooms import Unit

RANK: dict[Status, int] = {status: index for index, status in enumerate(STATUSES)}


@dataclass(frozen=True)
class MeetingAttendance:
    report: OccurrenceReport
    zone: str


@dataclass(frozen=True)
class UnitTally:
    unit_id: int
    code: str
    name: str
    path: str
    invited: int
    attended: int
    by_status: dict[Status, int]

    @property
    def rate(self) -> float:
        return self.attended / self.invited if self.invited else 0.0


@dataclass(frozen=True)
class UnitAttendance:
    unit: UnitTally
    items: list[UnitTally]
    start: date
    end: date
    zone: str


def tally_units(
    top: Unit,
    units: dict[int, Unit],
    reports: list[OccurrenceReport],
    first: date,
    last: date,
    zone: str,
) -> UnitAttendance:
    """Per unit: an occurrence counts once however many of its rooms took part, with the
    best status among them; the subtree as a whole likewise."""
    best: dict[int, dict[tuple[int, datetime], Status]] = defaultdict(dict)
    whole: dict[tuple[int, datetime], Status] = {}
    for report in reports:
        occurrence = (report.data.meeting.id, report.data.ref.key)
        for site in report.sites:
            unit_id = site.place.unit_id
            if unit_id not in units:
                continue
            status = site.outcome.status
            known = best[unit_id].get(occurrence)
            if known is None or RANK[status] < RANK[known]:
                best[unit_id][occurrence] = status
            held = whole.get(occurrence)
            if held is None or RANK[status] < RANK[held]:
                whole[occurrence] = status

    def tally(unit: Unit, statuses: dict[tuple[int, datetime], Status]) -> UnitTally:
        counts = {status: 0 for status in STATUSES}
        for status in statuses.values():
            counts[status] += 1
        return UnitTally(
            unit_id=unit.id,
            code=unit.code,
            name=unit.name,
            path=unit.path,
            invited=len(statuses),
            attended=len(statuses) - counts["absent"],
            by_status=counts,
        )

    items = sorted(
        (tally(units[unit_id], statuses) for unit_id, statuses in best.items()),
        key=lambda row: row.path,
    )
    return UnitAttendance(tally(top, whole), items, first, last, zone)
