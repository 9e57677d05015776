"""Typed application keys: how handlers reach the objects app.py wired."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vcorch.auth.principal import Principal
from vcorch.config import Settings

if TYPE_CHECKING:
    from vcorch.auth.service import AuthService
    from vcorch.rooms.service import RoomsService

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
PRINCIPAL_RESOLVER = web.AppKey("principal_resolver", Callable[[str], Awaitable[Principal]])
AUTH = web.AppKey("auth", "AuthService")
ROOMS = web.AppKey("rooms", "RoomsService")
