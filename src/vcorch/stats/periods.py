"""Calendar arithmetic of the statistics, in the programme's zone. Pure.

A month is named by ``yyyymm`` (202603).  Periods are local calendar months, quarters and
years; an occurrence belongs to the period in which it *starts*, in local time.  Instants
are UTC; every local boundary is turned into UTC here, with the zone's rules (so a zone
with daylight saving would work too, though Asia/Ho_Chi_Minh has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["month", "quarter", "year"]
ROMAN_QUARTERS = ("I", "II", "III", "IV")


def month_key(day: date) -> int:
    return day.year * 100 + day.month


def month_first_day(month: int) -> date:
    return date(month // 100, month % 100, 1)


def next_month(month: int) -> int:
    year, number = divmod(month, 100)
    return (year + 1) * 100 + 1 if number == 12 else month + 1


def months_between(first: date, last: date) -> list[int]:
    """Every month touched by the days ``first`` to ``last`` (inclusive), in order."""
    months: list[int] = []
    current, end = month_key(first), month_key(last)
    while current <= end:
        months.append(current)
        current = next_month(current)
    return months


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``zone``."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def month_bounds(month: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of a local month, in UTC."""
    return (
        local_midnight(month_first_day(month), zone),
        local_midnight(month_first_day(next_month(month)), zone),
    )


def day_bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of the local days ``first`` to ``last`` inclusive."""
    return local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)


def month_of(moment: datetime, zone: ZoneInfo) -> int:
    return month_key(moment.astimezone(zone).date())


def period_key(month: int, kind: PeriodKind) -> str:
    """``2026-03``, ``2026-Q1`` or ``2026`` for the period of ``kind`` holding ``month``."""
    year, number = divmod(month, 100)
    if kind == "month":
        return f"{year:04d}-{number:02d}"
    if kind == "quarter":
        return f"{year:04d}-Q{(number - 1) // 3 + 1}"
    return f"{year:04d}"


def period_label(key: str) -> str:
    """Vietnamese name of a period key: ``Tháng 3/2026``, ``Quý I/2026``, ``Năm 2026``."""
    if "-Q" in key:
        year, quarter = key.split("-Q")
        return f"Quý {ROMAN_QUARTERS[int(quarter) - 1]}/{year}"
    if "-" in key:
        year, number = key.split("-")
        return f"Tháng {int(number)}/{year}"
    return f"Năm {key}"


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    key: str
    first: date
    last: date

    @property
    def label(self) -> str:
        return period_label(self.key)


def period_containing(day: date, kind: PeriodKind) -> Period:
    """The calendar month, quarter or year holding ``day``."""
    if kind == "year":
        first, last = date(day.year, 1, 1), date(day.year, 12, 31)
    else:
        months = 1 if kind == "month" else 3
        start_month = (day.month - 1) // months * months + 1
        first = date(day.year, start_month, 1)
        following = next_month(month_key(first) + months - 1)
        last = month_first_day(following) - timedelta(days=1)
    return Period(kind, period_key(month_key(first), kind), first, last)


def period_keys(months: list[int], kind: PeriodKind) -> list[str]:
    """The distinct period keys of ``months``, in order."""
    keys: list[str] = []
    for month in months:
        key = period_key(month, kind)
        if not keys or keys[-1] != key:
            keys.append(key)
    return keys
