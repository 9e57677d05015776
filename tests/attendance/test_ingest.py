"""The ingest path under concurrency: calls written together, each counted once, each stored
before it returns, and one bad call failing alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from vcorch.bridge_events.models import BridgeEventRecord
from vcorch.bridge_events.store import EventStore
from vcorch.mcu_adapter.base import BridgeEvent
from vcorch.web.keys import SESSIONS

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def events(ids: range | list[int], at: datetime = T0) -> list[BridgeEvent]:
    return [
        BridgeEvent(
            kind="join",
            conference_id="c",
            participant_id=f"p{n}",
            at=at + timedelta(seconds=n),
            event_id=f"e{n}",
            display_name="Điểm cầu\x00 Lào Cai",
        )
        for n in ids
    ]


async def rows(store_sessions: Any) -> int:
    async with store_sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(BridgeEventRecord)))


async def test_concurrent_calls_are_each_counted_once_and_stored_before_returning(
    app_client: TestClient[Any, Any],
) -> None:
    sessions = app_client.server.app[SESSIONS]
    store = EventStore(sessions, lambda: T0)
    missing_after_return: list[int] = []

    async def call(ids: list[int]) -> int:
        stored = await store.store("mcu", events(ids))
        async with sessions() as session:
            found = set(
                (
                    await session.execute(
                        select(BridgeEventRecord.event_id).where(
                            BridgeEventRecord.event_id.in_([f"e{n}" for n in ids])
                        )
                    )
                ).scalars()
            )
        missing_after_return.extend(n for n in ids if f"e{n}" not in found)
        return stored

    # 40 callers at once, overlapping: each event id appears in up to three calls.
    batches = [[n, n + 1, n + 2] for n in range(40)]
    counts = await asyncio.gather(*(call(ids) for ids in batches))
    assert sum(counts) == 42 == await rows(sessions)
    # Every caller found its own events in the table when it returned.
    assert missing_after_return == []
    # Replaying everything stores nothing new.
    again = await asyncio.gather(*(store.store("mcu", events(ids)) for ids in batches))
    assert again == [0] * 40
    async with sessions() as session:
        names = set((await session.execute(select(BridgeEventRecord.display_name))).scalars())
    assert names == {"Điểm cầu Lào Cai"}


async def test_a_bad_call_fails_alone(app_client: TestClient[Any, Any]) -> None:
    sessions = app_client.server.app[SESSIONS]
    store = EventStore(sessions, lambda: T0)
    naive = datetime(2026, 12, 1, 2, 0)  # the point: a naive time is refused
    results = await asyncio.gather(
        store.store("mcu", events(range(0, 5))),
        store.store("mcu", events([99], at=naive)),
        store.store("mcu", events(range(5, 10))),
        return_exceptions=True,
    )
    assert results[0] == 5 and results[2] == 5
    assert isinstance(results[1], Exception)
    assert await rows(sessions) == 10
    await store.close()


@pytest.mark.parametrize("per_post", [1, 5])
async def test_concurrent_hook_posts_answer_what_they_stored(
    app_client: TestClient[Any, Any], per_post: int
) -> None:
    """Through the route, with the app's own store: 30 posts at once, half of them replays."""
    app = app_client.server.app
    from vcorch.mcu_adapter.routes import EVENT_SINK

    sink = app[EVENT_SINK]
    posts = [events(range(n * per_post, (n + 1) * per_post)) for n in range(15)]
    first = await asyncio.gather(*(sink("mcu", batch) for batch in posts + posts))
    assert sum(first) == 15 * per_post == await rows(app[SESSIONS])
