"""What the bridges pushed since the supervisor last looked: joins and leaves, read from
``bridge_events`` (stored by the hooks and the in-process bridges before they are
acknowledged), turned into readings of the sites they name.

A pushed event is the main signal: a join connects its site at once, a leave of the call
vcorch knows ends it.  Events are read by the time they were received, with a small
overlap and a memory of what was already read, so that rows committed out of their id
order (PostgreSQL sequences) are not missed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.bridge_events import BridgeEventRecord
from vcorch.mcu_adapter import Participant
from vcorch.orchestration.policy import OrchestrationPolicy
from vcorch.orchestration.reconcile import Reading, address_key, reconcile
from vcorch.orchestration.snapshot import ConferenceView, SiteView

# Rows received this long before the newest one read are read again (and skipped when
# already seen): a transaction that took longer than this to commit would be missed.
OVERLAP = timedelta(seconds=5)


@dataclass(frozen=True)
class Pushed:
    """One join or leave as stored."""

    row_id: int
    kind: str
    participant_id: str
    at: datetime
    site_id: str | None
    display_name: str | None
    address: str | None


@dataclass
class _Cursor:
    watermark: datetime | None = None
    seen: dict[int, datetime] = field(default_factory=dict)


class PushedEvents:
    """Per conference, the events not read yet; in memory (a new leader starts after the
    events that were there, and lists the conference first)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cursors: dict[int, _Cursor] = {}

    def forget(self, conference_id: int) -> None:
        self._cursors.pop(conference_id, None)

    async def new(self, conference: ConferenceView, participant_ids: Sequence[str]) -> list[Pushed]:
        """Events for the conference not returned before; the first call only marks
        where reading starts (what was before is what the first listing shows)."""
        cursor = self._cursors.get(conference.id)
        condition = and_(
            BridgeEventRecord.bridge == conference.bridge,
            or_(
                BridgeEventRecord.conference_id == conference.conference_id,
                and_(
                    BridgeEventRecord.conference_id == "",
                    BridgeEventRecord.participant_id.in_(list(participant_ids)),
                ),
            ),
        )
        async with self._sessions() as session:
            if cursor is None:
                newest = await session.scalar(
                    select(func.max(BridgeEventRecord.received_at)).where(condition)
                )
                self._cursors[conference.id] = _Cursor(watermark=newest)
                if newest is None:
                    return []
                ids = (
                    await session.execute(
                        select(BridgeEventRecord.id).where(
                            condition, BridgeEventRecord.received_at >= newest - OVERLAP
                        )
                    )
                ).scalars()
                self._cursors[conference.id].seen = dict.fromkeys(ids, newest)
                return []
            query = select(BridgeEventRecord).where(condition)
            if cursor.watermark is not None:
                query = query.where(BridgeEventRecord.received_at >= cursor.watermark - OVERLAP)
            rows = list((await session.execute(query.order_by(BridgeEventRecord.id))).scalars())
        fresh = [row for row in rows if row.id not in cursor.seen]
        for row in fresh:
            cursor.seen[row.id] = row.received_at
            if cursor.watermark is None or row.received_at > cursor.watermark:
                cursor.watermark = row.received_at
        if cursor.watermark is not None:
            low = cursor.watermark - OVERLAP
            cursor.seen = {k: v for k, v in cursor.seen.items() if v >= low}
        fresh.sort(key=lambda row: (row.at, row.id))
        return [
            Pushed(
                row_id=row.id,
                kind=row.kind,
                participant_id=row.participant_id,
                at=row.at,
                site_id=row.site_id,
                display_name=row.display_name,
                address=row.address,
            )
            for row in fresh
        ]


def site_of(event: Pushed, sites: Sequence[SiteView]) -> SiteView | None:
    """The site an event is about: by the tag vcorch dials with, by the leg it knows,
    else (an untagged leg) by address."""
    for site in sites:
        if event.site_id is not None and event.site_id == str(site.id):
            return site
    for site in sites:
        if site.participant_id is not None and site.participant_id == event.participant_id:
            return site
    if event.site_id is None and event.address:
        wanted = address_key(event.address)
        for site in sites:
            if site.address and address_key(site.address) == wanted:
                return site
    return None


def read_event(
    event: Pushed,
    site: SiteView,
    now: datetime,
    policy: OrchestrationPolicy,
    *,
    takes_browsers: bool,
    rand: Callable[[], float] | None = None,
) -> Reading | None:
    """What one pushed event means for its site (None: nothing).

    A join connects the site, unless it is of an older call than the one vcorch knows the
    site by (a late report of a call since dropped).  A leave counts only for the call
    vcorch knows the site by: the bridge itself said that call ended."""
    extra = {} if rand is None else {"rand": rand}
    if event.kind == "join":
        if site.participant_id is not None and site.participant_id != event.participant_id:
            return None
        joined = Participant(
            participant_id=event.participant_id,
            display_name=event.display_name or "",
            address=event.address,
            site_id=event.site_id,
            connected=True,
            muted=False,
            joined_at=event.at,
        )
        return reconcile(site, [joined], now, policy, takes_browsers=takes_browsers, **extra)
    if event.kind == "leave":
        if site.participant_id is None or site.participant_id != event.participant_id:
            return None
        return reconcile(site, [], now, policy, takes_browsers=takes_browsers, **extra)
    return None
