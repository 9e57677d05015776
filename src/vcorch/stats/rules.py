"""What the statistics count: the definitions, in one place (docs/statistics.md repeats them).

- **In the register** (``counted``): an occurrence that is not cancelled, of a meeting that
  is not a draft.  Cancelling a whole meeting cancels the occurrences that had not ended
  when it was cancelled; those that ended before stay in the register (a weekly series
  stopped in June was still held from January to May).  Cancel a single past occurrence
  to take it out.
- **Held**: in the register, its end has passed (its real end when it ran: the run's
  ``ended_at``, so a meeting ended early is held from then), and its start was not ``missed``
  (``MeetingRun.status == "missed"``: vcorch was not running at the start time).
  In-person meetings count: they are the denominator's other part.
- **Declared online**: held, and the meeting's mode is ``online`` or ``hybrid``.
- **Verified online**: declared online, and the bridges' own records (join/leave events
  pushed by the bridge, participant lists polled from it) show at least
  :data:`MIN_SITES` of its sites connected *at the same moment*.  The records come from the
  run's conferences, or for a meeting recorded after the fact, from the conferences linked
  to it (``POST /api/meetings/{id}/conference-links``); operators' manual entries do not
  verify anything.  See :func:`is_verified` and :mod:`.verify`.
- **Share** = verified online / held (0 when nothing was held); **declared share** =
  declared online / held; **met** = share >= target; **gap** = target - share.
- **Booked**: in the register, not missed, not ended yet (what a projection builds on).

An occurrence belongs to the local month (programme zone) in which it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select

from vcorch.booking import Meeting, MeetingOccurrence
from vcorch.orchestration import MeetingRun
from vcorch.stats.models import StatsOccurrence

ONLINE_MODES = ("online", "hybrid")
KINDS = ("meeting", "conference", "workshop", "training")
NOT_IN_REGISTER = ("draft",)
MIN_SITES = 2


def is_verified(*, online: bool, peak_sites: int) -> bool:
    """Verified online: declared online, and at least two sites connected at one moment.

    ``peak_sites`` is the most sites the bridges' records show connected simultaneously
    (``sites_connected``, the distinct sites seen at any time, is stored beside it; switch
    here to count that instead)."""
    return online and peak_sites >= MIN_SITES


def online_expr() -> ColumnElement[bool]:
    return Meeting.mode.in_(ONLINE_MODES)


def counted_expr() -> ColumnElement[bool]:
    """In the register (see the module's definitions), over occurrences joined to meetings.

    A cancelled meeting's ``updated_at`` is when it was cancelled: a closed meeting takes
    no further change."""
    return and_(
        MeetingOccurrence.cancelled.is_(False),
        Meeting.status.not_in(NOT_IN_REGISTER),
        or_(Meeting.status != "cancelled", MeetingOccurrence.end_at <= Meeting.updated_at),
    )


def missed_expr() -> ColumnElement[bool]:
    """The occurrence's run was marked missed."""
    return exists(
        select(MeetingRun.id).where(
            MeetingRun.meeting_id == MeetingOccurrence.meeting_id,
            MeetingRun.occurrence_key == MeetingOccurrence.occurrence_key,
            MeetingRun.status == "missed",
        )
    )


def real_end_expr() -> Any:
    """When the occurrence really ended: its run's end when it ran and ended (ended early
    by hand, or late after an extension), else its booked end.  An occurrence is *held*
    from then (see the module's definitions)."""
    ended = (
        select(MeetingRun.ended_at)
        .where(
            MeetingRun.meeting_id == MeetingOccurrence.meeting_id,
            MeetingRun.occurrence_key == MeetingOccurrence.occurrence_key,
            MeetingRun.status == "ended",
        )
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(ended, MeetingOccurrence.end_at)


def month_expr(column: Any, months: Sequence[int], starts: Sequence[datetime]) -> Any:
    """``yyyymm`` of ``column`` as a balanced CASE over the UTC starts of local months.

    ``starts[i]`` is where ``months[i]`` begins; values before ``starts[0]`` fall in the
    first month (callers pass a range covering the data).  Comparisons stay plain column
    comparisons, so it is the same SQL on PostgreSQL and SQLite and needs no time zone
    support in the database."""
    if len(months) == 1:
        return literal(months[0])
    middle = len(months) // 2
    return case(
        (
            column < starts[middle],
            month_expr(column, months[:middle], starts[:middle]),
        ),
        else_=month_expr(column, months[middle:], starts[middle:]),
    )


# -- aggregates over stats_occurrences ----------------------------------------------------------

S = StatsOccurrence


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum(condition: ColumnElement[bool], column: Any) -> Any:
    return func.coalesce(func.sum(case((condition, column), else_=0)), 0)


def figures_columns(cutoff: datetime) -> list[Any]:
    """The figures of a group of occurrences as of ``cutoff`` (held = ended by then), in the
    order of :data:`FIGURES`.  Callers filter on :func:`in_register`."""
    ended = S.end_at <= cutoff
    ahead = S.end_at > cutoff
    held_online = and_(ended, S.online.is_(True))
    judged_online = and_(held_online, S.judged_at.is_not(None))
    return [
        _count(ended).label("held"),
        _count(held_online).label("declared_online"),
        _count(and_(held_online, S.verified.is_(True))).label("verified_online"),
        _count(and_(held_online, S.needs_judging.is_(True))).label("verification_pending"),
        _count(ahead).label("booked"),
        _count(and_(ahead, S.online.is_(True))).label("booked_online"),
        _sum(judged_online, S.sites_invited).label("sites_invited"),
        _sum(judged_online, S.sites_attended).label("sites_attended"),
    ]


FIGURES = (
    "held",
    "declared_online",
    "verified_online",
    "verification_pending",
    "booked",
    "booked_online",
    "sites_invited",
    "sites_attended",
)


def in_register() -> ColumnElement[bool]:
    """Occurrences that count at all: in the register and not missed."""
    return and_(S.counted.is_(True), S.missed.is_(False))
