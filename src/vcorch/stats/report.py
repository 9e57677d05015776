"""The online-share report: figures per period, kind, level, unit or province, the total,
and the current target period with its projection.

Reading, for the days ``first..last`` in the programme's zone and a unit's subtree:

- every *whole* month whose summary is current (not dirty) comes from ``stats_monthly``
  (as of ``refreshed_at``), plus the occurrences of those months that ended since then;
- every other month (cut by ``first``/``last``, or dirty) is counted from
  ``stats_occurrences`` directly, as of now.

Both are ``GROUP BY (month, organising unit, kind)`` in SQL; the cells (at most months x
units x 4) are then folded into the groups asked for, here, with the unit tree: "province"
is a unit's ancestor at the province level, found on its materialised path.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.orchestration import CHANNELS, MeetingRun, RunSite
from vcorch.rooms import Unit, UnitLevel
from vcorch.stats import rules, schemas
from vcorch.stats.models import (
    StatsDirtyMonth,
    StatsMonthly,
    StatsOccurrence,
    StatsState,
)
from vcorch.stats.periods import (
    Period,
    PeriodKind,
    day_bounds,
    month_bounds,
    months_between,
    period_containing,
    period_key,
    period_keys,
    period_label,
)
from vcorch.stats.refresh import STATE_NAME
from vcorch.text import fold

S = StatsOccurrence
M = StatsMonthly
KIND_LABELS = {
    "meeting": "Cuộc họp",
    "conference": "Hội nghị",
    "workshop": "Hội thảo",
    "training": "Tập huấn",
}
NO_PROVINCE_LABEL = "Trung ương (đơn vị không thuộc tỉnh)"


class Counts:
    """The figures of a group: plain integers, added up (a fold touches thousands)."""

    __slots__ = rules.FIGURES

    def __init__(self, *values: int) -> None:
        for name, value in zip(rules.FIGURES, values or (0,) * len(rules.FIGURES), strict=True):
            setattr(self, name, value)

    held: int
    declared_online: int
    verified_online: int
    verification_pending: int
    booked: int
    booked_online: int
    sites_invited: int
    sites_attended: int

    def add(self, other: Counts) -> None:
        self.held += other.held
        self.declared_online += other.declared_online
        self.verified_online += other.verified_online
        self.verification_pending += other.verification_pending
        self.booked += other.booked
        self.booked_online += other.booked_online
        self.sites_invited += other.sites_invited
        self.sites_attended += other.sites_attended

    @classmethod
    def of(cls, row: Any) -> Counts:
        return cls(*(int(getattr(row, name) or 0) for name in rules.FIGURES))


# (month or 0, organising unit or 0, kind or ""): whichever the reading grouped by.
CellKey = tuple[int, int, str]
Dimension = Literal["month", "unit_id", "kind"]


@dataclass
class Cells:
    """Figures per cell of the dimensions read."""

    values: dict[CellKey, Counts] = field(default_factory=lambda: defaultdict(Counts))
    summarised_at: datetime | None = None

    def fold(self, key_of: Callable[[int, int, str], str | None]) -> dict[str | None, Counts]:
        groups: dict[str | None, Counts] = defaultdict(Counts)
        for (month, unit_id, kind), counts in self.values.items():
            groups[key_of(month, unit_id, kind)].add(counts)
        return groups

    def total(self) -> Counts:
        whole = Counts()
        for counts in self.values.values():
            whole.add(counts)
        return whole


def dimensions_for(group_by: schemas.GroupBy) -> tuple[Dimension, ...]:
    """What the SQL groups by for a grouping (the fold does the rest)."""
    if group_by in ("month", "quarter", "year"):
        return ("month",)
    if group_by == "kind":
        return ("kind",)
    return ("unit_id",)


# -- the unit tree ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitInfo:
    id: int
    parent_id: int | None
    code: str
    name: str
    level: str
    path: str

    @property
    def lineage(self) -> list[int]:
        """Ids from the root down to this unit."""
        return [int(part) for part in self.path.strip("/").split("/") if part]


@dataclass(frozen=True)
class Scope:
    root: UnitInfo
    # The subtree and the root's ancestors.
    units: dict[int, UnitInfo]
    # True when the subtree is every unit (no filter needed).
    everything: bool
    levels: dict[str, tuple[str, int]]

    def province_of(self, unit_id: int, province_level: str) -> UnitInfo | None:
        unit = self.units.get(unit_id)
        if unit is None:
            return None
        for ancestor_id in unit.lineage:
            ancestor = self.units.get(ancestor_id)
            if ancestor is not None and ancestor.level == province_level:
                return ancestor
        return None

    def child_of_root(self, unit_id: int) -> UnitInfo | None:
        """The root's child whose subtree holds the unit (the root itself for its own)."""
        unit = self.units.get(unit_id)
        if unit is None:
            return None
        lineage = unit.lineage
        depth = len(self.root.lineage)
        if len(lineage) <= depth:
            return self.root
        return self.units.get(lineage[depth])

    def in_subtree(self) -> Iterable[UnitInfo]:
        return (u for u in self.units.values() if u.path.startswith(self.root.path))


UNIT_COLUMNS = (Unit.id, Unit.parent_id, Unit.code, Unit.name, Unit.level, Unit.path)


def _info(row: Any) -> UnitInfo:
    return UnitInfo(row.id, row.parent_id, row.code, row.name, row.level, row.path)


async def load_scope(session: AsyncSession, root: Unit) -> Scope:
    subtree = await session.execute(
        select(*UNIT_COLUMNS).where(Unit.path.startswith(root.path, autoescape=True))
    )
    units = {row.id: _info(row) for row in subtree}
    ancestors = [i for i in _info(root).lineage if i not in units]
    if ancestors:
        for row in await session.execute(select(*UNIT_COLUMNS).where(Unit.id.in_(ancestors))):
            units[row.id] = _info(row)
    roots = await session.scalar(select(func.count(Unit.id)).where(Unit.parent_id.is_(None)))
    levels = {
        row.code: (row.name, row.rank)
        for row in await session.execute(select(UnitLevel.code, UnitLevel.name, UnitLevel.rank))
    }
    return Scope(_info(root), units, root.parent_id is None and roots == 1, levels)


# -- reading the cells -------------------------------------------------------------------------


async def summarised_at(session: AsyncSession) -> datetime | None:
    state = await session.get(StatsState, STATE_NAME)
    return state.refreshed_at if state is not None else None


def _scoped(statement: Select[Any], unit_column: Any, scope: Scope) -> Select[Any]:
    if scope.everything:
        return statement
    subtree = select(Unit.id).where(Unit.path.startswith(scope.root.path, autoescape=True))
    return statement.where(unit_column.in_(subtree))


async def read_cells(
    session: AsyncSession,
    *,
    zone: ZoneInfo,
    first: date,
    last: date,
    scope: Scope,
    now: datetime,
    dimensions: tuple[Dimension, ...] = ("month", "unit_id", "kind"),
    summary_only: bool = False,
) -> Cells:
    """The figures of the days ``first..last`` (see the module's docstring).

    ``summary_only``: whole months from the summary alone, as of its refresh (open data,
    whose Last-Modified is that time)."""
    start, end = day_bounds(first, last, zone)
    months = months_between(first, last)
    state = await session.get(StatsState, STATE_NAME)
    summarised_at = state.refreshed_at if state is not None else None
    dirty = set(
        (
            await session.execute(
                select(StatsDirtyMonth.month).where(StatsDirtyMonth.month.in_(months)).distinct()
            )
        ).scalars()
    )
    whole = [
        m for m in months if start <= month_bounds(m, zone)[0] and month_bounds(m, zone)[1] <= end
    ]
    if summary_only:
        from_summary, counted_live = whole, []
    elif summarised_at is None:
        from_summary, counted_live = [], months
    else:
        from_summary = [m for m in whole if m not in dirty]
        counted_live = [m for m in months if m not in from_summary]
    cells = Cells(summarised_at=summarised_at)

    def key(row: Any) -> CellKey:
        return (
            int(row.month) if "month" in dimensions else 0,
            int(row.unit_id) if "unit_id" in dimensions else 0,
            str(row.kind) if "kind" in dimensions else "",
        )

    if from_summary:
        statement = _scoped(
            select(
                *(getattr(M, d) for d in dimensions),
                *(func.sum(getattr(M, n)).label(n) for n in rules.FIGURES),
            )
            .where(M.month.in_(from_summary))
            .group_by(*(getattr(M, d) for d in dimensions)),
            M.unit_id,
            scope,
        )
        for row in await session.execute(statement):
            cells.values[key(row)].add(Counts.of(row))
        if summarised_at is not None and not summary_only and now > summarised_at:
            # Ended since the summary: from "booked" to "held".
            since = _scoped(
                _grouped(now, dimensions).where(
                    S.month.in_(from_summary), S.end_at > summarised_at, S.end_at <= now
                ),
                S.unit_id,
                scope,
            )
            for row in await session.execute(since):
                moved = Counts.of(row)
                cell = cells.values[key(row)]
                cell.add(moved)
                cell.booked -= moved.held
                cell.booked_online -= moved.declared_online
    if counted_live:
        # One start range per month (an index range each), cut to first..last.
        ranges = []
        for month in counted_live:
            low, high = month_bounds(month, zone)
            ranges.append(and_(S.start_at >= max(low, start), S.start_at < min(high, end)))
        live = _scoped(_grouped(now, dimensions).where(or_(*ranges)), S.unit_id, scope)
        for row in await session.execute(live):
            cells.values[key(row)].add(Counts.of(row))
    return cells


async def read_channels(
    session: AsyncSession,
    *,
    zone: ZoneInfo,
    first: date,
    last: date,
    scope: Scope,
    now: datetime,
) -> dict[str, int]:
    """Site participations per channel: the sites of the held occurrences of ``first..last``
    that vcorch ran, by how each took part last (``RunSite.channel``; a site that never
    connected has none and is not counted)."""
    start, end = day_bounds(first, last, zone)
    columns: list[Any] = [RunSite.channel, func.count(RunSite.id).label("n")]
    query = select(*columns)
    statement = _scoped(
        query.join(MeetingRun, MeetingRun.id == RunSite.run_id)
        .join(
            S,
            and_(
                S.meeting_id == MeetingRun.meeting_id,
                S.occurrence_key == MeetingRun.occurrence_key,
            ),
        )
        .where(
            rules.in_register(),
            S.start_at >= start,
            S.start_at < end,
            S.end_at <= now,
            RunSite.channel.is_not(None),
        )
        .group_by(RunSite.channel),
        S.unit_id,
        scope,
    )
    counts: dict[str, int] = dict.fromkeys(CHANNELS, 0)
    for channel, n in await session.execute(statement):
        counts[str(channel)] = counts.get(str(channel), 0) + int(n)
    return counts


def _grouped(cutoff: datetime, dimensions: tuple[Dimension, ...]) -> Select[Any]:
    columns = [getattr(S, d) for d in dimensions]
    return (
        select(*columns, *rules.figures_columns(cutoff))
        .where(rules.in_register())
        .group_by(*columns)
    )


# -- figures --------------------------------------------------------------------------------------


def _ratio(part: int | Fraction | float, whole: int | float) -> float:
    return round(float(part) / float(whole), 4) if whole else 0.0


def online_needed(target: Fraction, held: int | Fraction, verified: int | Fraction) -> int:
    """Online meetings (held and verified) to add so that verified / held reaches target:
    the least x with (verified + x) / (held + x) >= target."""
    missing = target * held - verified
    if missing <= 0:
        return 0
    return math.ceil(missing / (1 - target))


def figures(counts: Counts, target: Fraction) -> schemas.Figures:
    share = _ratio(counts.verified_online, counts.held)
    met = counts.held > 0 and Fraction(counts.verified_online, counts.held) >= target
    return schemas.Figures(
        held=counts.held,
        declared_online=counts.declared_online,
        verified_online=counts.verified_online,
        share=share,
        share_declared=_ratio(counts.declared_online, counts.held),
        target=float(target),
        gap=round(float(target) - share, 4),
        met=met,
        online_needed=online_needed(target, counts.held, counts.verified_online),
        verification_pending=counts.verification_pending,
        booked=max(0, counts.booked),
        booked_online=max(0, counts.booked_online),
        attendance_rate=(
            _ratio(counts.sites_attended, counts.sites_invited) if counts.sites_invited else None
        ),
    )


def projection(period: Period, counts: Counts, target: Fraction) -> schemas.CurrentPeriod:
    """The period's end, if every booked occurrence is held and the booked online ones are
    verified at the rate seen so far in the period.  With no online meeting held yet there is
    no rate to go by: nothing booked is assumed verified and the projection says it is not
    known (a forecast of 100 % with nothing held was the old answer)."""
    known = counts.declared_online > 0
    rate = Fraction(counts.verified_online, counts.declared_online) if known else Fraction(0)
    booked, booked_online = max(0, counts.booked), max(0, counts.booked_online)
    held = counts.held + booked
    declared = counts.declared_online + booked_online
    verified = counts.verified_online + booked_online * rate
    return schemas.CurrentPeriod(
        key=period.key,
        label=period.label,
        from_=period.first,
        to=period.last,
        figures=figures(counts, target),
        assumed_verification_rate=round(float(rate), 4),
        projection_known=known,
        projected_held=held,
        projected_declared_online=declared,
        projected_verified_online=round(float(verified), 2),
        projected_share=_ratio(verified, held),
        projected_share_declared=_ratio(declared, held),
        projected_met=known and held > 0 and verified / held >= target,
        online_needed_by_end=online_needed(target, held, verified),
    )


# -- grouping ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSpec:
    key: str | None
    label: str
    unit_id: int | None = None


def group_specs(
    group_by: schemas.GroupBy, months: list[int], scope: Scope, province_level: str
) -> tuple[list[GroupSpec], Callable[[int, int, str], str | None]]:
    """The groups to show (every one, even when empty) and which group a cell goes to."""
    if group_by in ("month", "quarter", "year"):
        kind: PeriodKind = group_by
        specs = [GroupSpec(key, period_label(key)) for key in period_keys(months, kind)]
        return specs, lambda month, _unit, _kind: period_key(month, kind)
    if group_by == "kind":
        specs = [GroupSpec(k, KIND_LABELS[k]) for k in rules.KINDS]
        return specs, lambda _month, _unit, kind: kind
    if group_by == "level":
        present = {u.level for u in scope.in_subtree()}
        ordered = sorted(present, key=lambda code: (scope.levels.get(code, (code, 999))[1], code))
        specs = [GroupSpec(code, scope.levels.get(code, (code, 0))[0]) for code in ordered]

        def level_of(_month: int, unit_id: int, _kind: str) -> str | None:
            unit = scope.units.get(unit_id)
            return unit.level if unit is not None else None

        return specs, level_of
    if group_by == "unit":
        root = scope.root
        children = sorted(
            (u for u in scope.units.values() if u.parent_id == root.id),
            key=lambda u: fold(u.name),
        )
        specs = [GroupSpec(root.code, f"{root.name} (trực tiếp tổ chức)", root.id)]
        specs += [GroupSpec(u.code, u.name, u.id) for u in children]

        def child_of(_month: int, unit_id: int, _kind: str) -> str | None:
            unit = scope.child_of_root(unit_id)
            return unit.code if unit is not None else None

        return specs, child_of
    # province
    provinces: dict[int, UnitInfo] = {
        u.id: u for u in scope.in_subtree() if u.level == province_level
    }
    above = scope.province_of(scope.root.id, province_level)
    if above is not None:
        provinces[above.id] = above
    specs = [
        GroupSpec(u.code, u.name, u.id)
        for u in sorted(provinces.values(), key=lambda u: fold(u.name))
    ]
    if above is None:
        specs.append(GroupSpec(None, NO_PROVINCE_LABEL))

    def province_key(_month: int, unit_id: int, _kind: str) -> str | None:
        province = scope.province_of(unit_id, province_level)
        return province.code if province is not None else None

    return specs, province_key


def groups_of(
    cells: Cells,
    group_by: schemas.GroupBy,
    months: list[int],
    scope: Scope,
    province_level: str,
    target: Fraction,
) -> list[schemas.Group]:
    specs, key_of = group_specs(group_by, months, scope, province_level)
    folded = cells.fold(key_of)
    listed = []
    for spec in specs:
        counts = folded.get(spec.key, Counts())
        listed.append(
            schemas.Group(
                key=spec.key,
                label=spec.label,
                unit_id=spec.unit_id,
                **figures(counts, target).model_dump(),
            )
        )
    return listed


def current_period_of(now: datetime, zone: ZoneInfo, kind: PeriodKind) -> Period:
    return period_containing(now.astimezone(zone).date(), kind)
