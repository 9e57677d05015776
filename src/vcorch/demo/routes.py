"""The demo's key in the application (it has no routes)."""

from __future__ import annotations

from aiohttp import web

from vcorch.demo.service import Demo

DEMO = web.AppKey("demo", Demo)
