"""A site's attendance from its intervals: times, share of the meeting, status. Pure.

Statuses, with the thresholds of :class:`AttendancePolicy` (settings ``attendance_*``):

- ``absent``: not connected at any moment of the meeting;
- ``late``: first connected more than ``late_after`` after the start, and stayed to the end;
- ``left_early``: on time, but gone for good more than ``left_early`` before the end;
- ``partial``: both late and gone early, or on time and to the end but connected for less
  than ``present_share`` of the meeting (long drops in the middle);
- ``present``: on time, to the end, and connected for at least ``present_share``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from vcorch.attendance.intervals import (
    Channel,
    Interval,
    SiteTimeline,
    connected_seconds,
    seconds_by_channel,
)

Status = Literal["present", "late", "left_early", "partial", "absent"]
STATUSES: tuple[Status, ...] = ("present", "late", "left_early", "partial", "absent")


@dataclass(frozen=True)
class AttendancePolicy:
    late_after: timedelta = timedelta(minutes=10)
    left_early: timedelta = timedelta(minutes=10)
    present_share: float = 0.8
    reconnect_grace: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class Window:
    """The meeting as attendance measures it.

    ``end`` is the run's actual end once it is over (``closed``), else the later of now and
    the start: a live meeting is judged on what has happened so far (the result is then
    provisional)."""

    start: datetime
    end: datetime
    closed: bool

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass(frozen=True)
class SiteOutcome:
    site: Hashable
    status: Status
    first_join: datetime | None
    last_leave: datetime | None
    still_connected: bool
    connected_seconds: float
    share: float
    took_part_via: Channel | None
    seconds_by_channel: dict[Channel, float]
    intervals: tuple[Interval, ...]
    reconnects: int
    unmatched_leaves: int
    # How the ends were known: e.g. "closed_at_end" when the meeting ended with the site in.
    marks: tuple[str, ...]


def judge(timeline: SiteTimeline, window: Window, policy: AttendancePolicy) -> SiteOutcome:
    intervals = timeline.intervals
    seconds = connected_seconds(intervals, window.start, window.end)
    share = seconds / window.seconds if window.seconds > 0 else (1.0 if seconds else 0.0)
    share = min(1.0, share)
    inside = [i for i in intervals if i.clipped_seconds(window.start, window.end) > 0]
    by_channel = seconds_by_channel(timeline.participants, window.start, window.end)
    via: Channel | None = None
    for channel in sorted(by_channel):
        if via is None or by_channel[channel] > by_channel[via]:
            via = channel
    still = bool(intervals) and intervals[-1].end_mark == "still_connected"
    first_join = intervals[0].start if intervals else None
    last_leave = None if still or not intervals else intervals[-1].end
    marks: list[str] = []
    if intervals and intervals[-1].end_mark == "meeting_ended":
        marks.append("closed_at_end")
    if any(i.start_mark == "polled" or i.end_mark == "polled" for i in intervals):
        marks.append("gaps_filled_by_polling")
    if any("manual" in i.sources for i in intervals):
        marks.append("manual_entry")
    if timeline.unmatched_leaves:
        marks.append("leave_without_join")
    if not window.closed:
        marks.append("provisional")
    if not inside:
        status: Status = "absent"
    else:
        arrived = max(inside[0].start, window.start)
        gone = min(inside[-1].end, window.end)
        late = arrived > window.start + policy.late_after
        early = (
            not still
            and inside[-1].end_mark != "meeting_ended"
            and gone < window.end - policy.left_early
        )
        if late and early:
            status = "partial"
        elif late:
            status = "late"
        elif early:
            status = "left_early"
        elif share < policy.present_share:
            status = "partial"
        else:
            status = "present"
    return SiteOutcome(
        site=timeline.site,
        status=status,
        first_join=first_join,
        last_leave=last_leave,
        still_connected=still,
        connected_seconds=seconds,
        share=share,
        took_part_via=via,
        seconds_by_channel=by_channel,
        intervals=intervals,
        reconnects=timeline.reconnects,
        unmatched_leaves=timeline.unmatched_leaves,
        marks=tuple(marks),
    )
