"""Wires the demo: its service (booking the demo meeting, logging its fallback links) and
the reading again of which meetings are the demo's."""

from __future__ import annotations

import asyncio
import logging

from vcorch.booking import BookingService
from vcorch.demo.routes import DEMO
from vcorch.demo.service import Demo, FallbackLinks, demo_meeting_ids
from vcorch.runtime import Runtime

__all__ = ["setup"]

log = logging.getLogger("vcorch.demo")

# How often the set of demo meetings is read again (a `vcorch demo` run while serving).
REFRESH_SECONDS = 60.0


async def setup(runtime: Runtime, *, booking: BookingService, links: FallbackLinks) -> Demo:
    """The demo, wrapping the fallback links the orchestrator is to be given."""
    demo = Demo(
        links,
        await demo_meeting_ids(runtime.sessions),
        booking=booking,
        sessions=runtime.sessions,
        clock=runtime.clock,
    )
    runtime.provide(DEMO, demo)

    async def refresh_forever() -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                demo.demo_meetings = await demo_meeting_ids(runtime.sessions)
            except Exception:
                log.exception("reading the demo meetings failed")

    runtime.process_work["demo-meetings"] = refresh_forever
    return demo
