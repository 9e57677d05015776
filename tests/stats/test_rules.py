"""The pure parts: local calendar periods, the target arithmetic, sites at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from vcorch.attendance.intervals import Interval
from vcorch.stats.periods import (
    day_bounds,
    month_bounds,
    month_of,
    months_between,
    period_containing,
    period_key,
    period_label,
)
from vcorch.stats.report import online_needed
from vcorch.stats.rules import is_verified
from vcorch.stats.verify import peak_concurrency

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
BERLIN = ZoneInfo("Europe/Berlin")


def test_local_months_in_utc() -> None:
    # 1 March 2026 begins at 17:00 UTC on 28 February in Hà Nội.
    assert month_bounds(202603, HANOI) == (
        datetime(2026, 2, 28, 17, tzinfo=UTC),
        datetime(2026, 3, 31, 17, tzinfo=UTC),
    )
    # A meeting at 06:30 on 1 March in Hà Nội (23:30 UTC the day before) is March's.
    assert month_of(datetime(2026, 2, 28, 23, 30, tzinfo=UTC), HANOI) == 202603
    assert month_of(datetime(2026, 2, 28, 16, 59, tzinfo=UTC), HANOI) == 202602
    # With daylight saving the zone's rules apply: April starts at 22:00 UTC in Berlin.
    assert month_bounds(202604, BERLIN)[0] == datetime(2026, 3, 31, 22, tzinfo=UTC)
    assert day_bounds(date(2026, 1, 1), date(2026, 1, 1), HANOI) == (
        datetime(2025, 12, 31, 17, tzinfo=UTC),
        datetime(2026, 1, 1, 17, tzinfo=UTC),
    )


def test_periods_and_their_names() -> None:
    assert months_between(date(2025, 11, 30), date(2026, 2, 1)) == [202511, 202512, 202601, 202602]
    q = period_containing(date(2026, 8, 17), "quarter")
    assert (q.key, q.first, q.last, q.label) == (
        "2026-Q3",
        date(2026, 7, 1),
        date(2026, 9, 30),
        "Quý III/2026",
    )
    m = period_containing(date(2024, 2, 10), "month")
    assert (m.key, m.last, m.label) == ("2024-02", date(2024, 2, 29), "Tháng 2/2024")
    y = period_containing(date(2026, 12, 31), "year")
    assert (y.first, y.last, y.label) == (date(2026, 1, 1), date(2026, 12, 31), "Năm 2026")
    assert [period_key(202612, kind) for kind in ("month", "quarter", "year")] == [
        "2026-12",
        "2026-Q4",
        "2026",
    ]
    assert period_label("2026-Q1") == "Quý I/2026"


@pytest.mark.parametrize(
    ("held", "verified", "needed"),
    [
        (10, 3, 0),  # exactly 30%: 0.3 x 10 is 3, not 3.0000000000000004
        (10, 2, 2),  # 3/11 < 0.3 <= 4/12
        (5, 1, 1),  # 2/6
        (0, 0, 0),
        (100, 0, 43),  # 43/143 = 0.3007; 42/142 = 0.2958
    ],
)
def test_online_needed_is_exact(held: int, verified: int, needed: int) -> None:
    target = Fraction("0.3")
    assert online_needed(target, held, verified) == needed
    if needed:
        assert Fraction(verified + needed, held + needed) >= target
        assert Fraction(verified + needed - 1, held + needed - 1) < target


def _at(minute: int) -> datetime:
    return datetime(2026, 1, 12, 2, tzinfo=UTC) + timedelta(minutes=minute)


def test_sites_at_once() -> None:
    def site(*spans: tuple[int, int]) -> list[Interval]:
        return [Interval(_at(a), _at(b)) for a, b in spans]

    # One leaves as the other joins: never together.
    assert peak_concurrency([site((0, 20)), site((20, 60))]) == 1
    assert peak_concurrency([site((0, 20)), site((30, 60))]) == 1
    assert peak_concurrency([site((0, 30)), site((10, 60)), site((50, 55))]) == 2
    assert peak_concurrency([site((0, 60)), site((10, 20), (30, 40)), site((15, 35))]) == 3
    assert peak_concurrency([site((5, 5)), site((5, 6))]) == 1
    assert peak_concurrency([]) == 0
    assert is_verified(online=True, peak_sites=2)
    assert not is_verified(online=True, peak_sites=1)
    assert not is_verified(online=False, peak_sites=5)
