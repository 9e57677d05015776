"""Request and response models of the statistics (they also make the OpenAPI)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from vcorch.stats.periods import PeriodKind

GroupBy = Literal["month", "quarter", "year", "kind", "level", "unit", "province"]
Format = Literal["json", "csv", "xlsx"]
MAX_MONTHS = 240


def _iso_day(value: object) -> object:
    # date.fromisoformat also takes "20260101" and week dates, pydantic a Unix time; the
    # contract says YYYY-MM-DD and nothing else.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise ValueError(f"{value} is not a calendar date") from err


Day = Annotated[date, BeforeValidator(_iso_day)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OnlineShareQuery(StrictModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Day | None = Field(
        default=None,
        alias="from",
        description="First day (YYYY-MM-DD, programme time zone); default: the start of the"
        " current target period",
    )
    to: Day | None = Field(
        default=None, description="Last day, inclusive; default: the end of the current period"
    )
    group_by: GroupBy = "month"
    unit: int | None = Field(
        default=None, description="Drill down to this unit's subtree (default: your own unit)"
    )
    format: Format = "json"


class DashboardQuery(StrictModel):
    year: int | None = Field(default=None, ge=2000, le=2200, description="Default: this year")
    unit: int | None = None


class OpenDataQuery(StrictModel):
    year: int | None = Field(default=None, ge=2000, le=2200, description="Default: every year")


class UnitRef(StrictModel):
    id: int
    code: str
    name: str


class Figures(StrictModel):
    held: int = Field(description="Occurrences held: in the register, ended, not missed")
    declared_online: int = Field(description="Held, with mode online or hybrid")
    verified_online: int = Field(
        description="Declared online, and the bridges' records show two sites connected at once"
    )
    share: float = Field(description="verified_online / held (0 when nothing was held)")
    share_declared: float = Field(description="declared_online / held")
    target: float
    gap: float = Field(description="target - share: how far behind (negative: ahead)")
    met: bool = Field(description="share >= target")
    online_needed: int = Field(
        description="More verified online meetings needed, all else equal, to reach the target"
    )
    verification_pending: int = Field(
        description="Declared online, held, not judged yet (judged within a refresh interval)"
    )
    booked: int = Field(description="In the register and in the period, not ended yet")
    booked_online: int
    attendance_rate: float | None = Field(
        description="Sites that attended / sites invited, over the judged online meetings"
    )


class Group(Figures):
    key: str | None = Field(
        description="2026-03, 2026-Q1, 2026, a kind, a level code, or a unit code (null: the"
        " meetings of units above province level, for group_by=province)"
    )
    label: str
    unit_id: int | None = None


class CurrentPeriod(StrictModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    key: str
    label: str
    from_: date = Field(alias="from")
    to: date
    figures: Figures
    assumed_verification_rate: float = Field(
        description="Share of the period's held online meetings that were verified so far"
        " (0 when none was held: see projection_known): applied to the booked online ones"
    )
    projection_known: bool = Field(
        default=True,
        description="False while no online meeting was held in the period: with no"
        " verification rate seen, the projected verified share counts only what is verified",
    )
    projected_held: int
    projected_declared_online: int
    projected_verified_online: float
    projected_share: float
    projected_share_declared: float
    projected_met: bool
    online_needed_by_end: int = Field(
        description="Online meetings to add to the bookings (and verify) to end on target"
    )


class OnlineShareOut(StrictModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    target: float
    period: PeriodKind = Field(description="The period the target applies to")
    from_: date = Field(alias="from")
    to: date
    group_by: GroupBy
    unit: UnitRef
    as_of: AwareDatetime
    summarised_at: AwareDatetime | None = Field(
        description="When the leader last refreshed the monthly summary"
    )
    total: Figures
    groups: list[Group]
    current_period: CurrentPeriod
    channels: dict[str, int] = Field(
        default_factory=dict,
        description="Site participations per channel over the period: the sites of held "
        "occurrences vcorch ran, by how each took part (room_system, browser, gateway, "
        "dial_in); a site that never connected is not counted",
    )


class LinkCreate(StrictModel):
    bridge: Annotated[str, Field(min_length=1, max_length=64)]
    conference_id: Annotated[str, Field(min_length=1, max_length=255)]
    occurrence: AwareDatetime | None = Field(
        default=None,
        description="The occurrence's key (its original start); default: the meeting's only one",
    )


class LinkOut(StrictModel):
    id: int
    meeting_id: int
    occurrence: datetime
    bridge: str
    conference_id: str
    created_by: str
    created_at: datetime


class LinkList(StrictModel):
    items: list[LinkOut]
