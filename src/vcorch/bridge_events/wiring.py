"""Wires the store of what bridges report; the hooks route hands every pushed event to it."""

from __future__ import annotations

from vcorch.bridge_events.rejected import RejectedBodies
from vcorch.bridge_events.store import EventStore
from vcorch.mcu_adapter import EVENT_SINK, REJECTED_SINK
from vcorch.runtime import Runtime

__all__ = ["setup"]


def setup(runtime: Runtime) -> EventStore:
    events = EventStore(runtime.sessions, runtime.clock)
    runtime.provide(EVENT_SINK, events.store)
    runtime.provide(REJECTED_SINK, RejectedBodies(runtime.sessions, runtime.clock).keep)
    # Closed after the bridges (registered later, closed earlier): they push their last
    # events when they close, and those are written before the engine goes.
    runtime.on_close(events.close)
    return events
