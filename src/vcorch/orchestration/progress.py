"""Each site's progress written as it lands: short group commits during a step.

A supervisor step used to decide for every site and write everything when its dial phase
ended, so for a launch of hundreds of sites the live view showed nothing until then and a
crash in the middle left no trace.  :class:`Progress` holds the step's view of each site;
a change is applied to that view at once and written, with whatever else landed within
``window`` seconds, in one short transaction.  A change is written only when the site did
not change in the database meanwhile (an operator's redial or hold wins), the same rule
the step's single write had.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.orchestration.models import RunSite
from vcorch.orchestration.reconcile import SiteChange
from vcorch.orchestration.snapshot import SiteView, fingerprint

log = logging.getLogger(__name__)

FallBack = Callable[[int, str], Awaitable[None]]

_COLUMNS = frozenset(f.name for f in dataclasses.fields(SiteView))


class Progress:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sites: Iterable[SiteView],
        *,
        window: float,
        fall_back: FallBack,
    ) -> None:
        self._sessions = sessions
        self._views = {site.id: site for site in sites}
        self._window = window
        self._fall_back = fall_back
        self._pending: list[SiteChange] = []
        self._writer: asyncio.Task[None] | None = None
        self._now = asyncio.Event()  # set by ``flush``: write without waiting the window
        self._failed: BaseException | None = None
        self.written = 0
        self.fallen_back = 0
        self.commits = 0

    def view(self, site_id: int) -> SiteView:
        return self._views[site_id]

    def views(self) -> list[SiteView]:
        return list(self._views.values())

    def apply(self, change: SiteChange) -> bool:
        """Take the change into the step's view and queue it to be written; False when it
        was decided from an older view of the site (something else changed it since)."""
        current = self._views.get(change.site.id)
        if current is None or fingerprint(current) != fingerprint(change.site):
            return False
        values = {k: v for k, v in change.values.items() if k in _COLUMNS}
        self._views[current.id] = dataclasses.replace(current, **values)  # type: ignore[arg-type]
        self._pending.append(change)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_soon(), name="site-progress")
        return True

    async def flush(self) -> None:
        """Write what is queued now, and wait for it; raises what a write raised."""
        self._now.set()
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        self._now.clear()
        while self._pending:
            await self._write_batch()
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed

    async def _write_soon(self) -> None:
        # One writer at a time, so changes to a site are written in the order they landed.
        while self._pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._now.wait(), self._window)
            await self._write_batch()

    async def _write_batch(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        fallbacks: list[tuple[int, str]] = []
        try:
            async with self._sessions.begin() as session:
                ids = sorted({c.site.id for c in batch})
                rows = {
                    s.id: s
                    for s in (
                        await session.execute(select(RunSite).where(RunSite.id.in_(ids)))
                    ).scalars()
                }
                for change in batch:
                    row = rows.get(change.site.id)
                    if row is None or fingerprint(row) != fingerprint(change.site):
                        continue  # changed by an operator meanwhile: theirs wins
                    for key, value in change.values.items():
                        if not key.startswith("_"):
                            setattr(row, key, value)
                    self.written += 1
                    if change.fallback_reason is not None:
                        fallbacks.append((row.id, change.fallback_reason))
            self.commits += 1
        except Exception as err:  # the step reports it at its flush
            log.warning("writing %d site change(s) failed: %s", len(batch), err)
            self._failed = err
            return
        for site_id, reason in fallbacks:
            self.fallen_back += 1
            await self._fall_back(site_id, reason)
