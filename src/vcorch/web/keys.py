"""Typed application keys of what every part of the service shares: settings, database,
clock, the caller's resolution, the metrics export and the mail outbox's rounds.

A package's own service is reached through the key its ``routes.py`` defines; ``web`` knows
no domain service, only these shared objects and the shapes (``Protocol``) it needs of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vcorch.access import Principal
from vcorch.config import Settings
from vcorch.errors import VcorchError
from vcorch.web.problems import HttpProblem

__all__ = [
    "CHECKIN_THROTTLE",
    "CLOCK",
    "ENGINE",
    "METRICS",
    "OUTBOX",
    "PRINCIPAL_RESOLVER",
    "PROBLEMS",
    "SESSIONS",
    "SETTINGS",
    "MetricsExport",
    "OutboxRounds",
    "ProblemMapper",
]


class MetricsExport(Protocol):
    """What ``GET /metrics`` serves: the text exposition and its content type."""

    content_type: str

    def render(self) -> bytes: ...


class OutboxRounds(Protocol):
    """The mail outbox as operations (and tests) drive it: one delivery round at a time."""

    async def run_once(self) -> int: ...


class ProblemMapper(Protocol):
    """Turns an error a handler let through into its problem, or None where none is defined
    (that error then answers 500 as any unexpected one)."""

    def __call__(self, err: VcorchError) -> HttpProblem | None: ...


SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey[async_sessionmaker[AsyncSession]]("sessions")
CLOCK = web.AppKey[Callable[[], datetime]]("clock")
PRINCIPAL_RESOLVER = web.AppKey[Callable[[str], Awaitable[Principal]]]("principal_resolver")
# Counts one self check-in from a client address; raises (429) beyond its allowance.
CHECKIN_THROTTLE = web.AppKey[Callable[[str], Awaitable[None]]]("checkin_throttle")
METRICS = web.AppKey[MetricsExport]("metrics")
PROBLEMS = web.AppKey[ProblemMapper]("problems")
OUTBOX = web.AppKey[OutboxRounds]("outbox")
