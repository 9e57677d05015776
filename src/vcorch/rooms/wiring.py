"""Wires the organisation (units, rooms, endpoints) into the service."""

from __future__ import annotations

from collections.abc import Sequence

from vcorch.rooms.routes import ROOMS
from vcorch.rooms.service import ReferenceFinder, RoomsService
from vcorch.runtime import Runtime

__all__ = ["setup"]


def setup(runtime: Runtime, *, reference_finders: Sequence[ReferenceFinder] = ()) -> RoomsService:
    rooms = RoomsService(runtime.sessions, reference_finders, clock=runtime.clock)
    runtime.provide(ROOMS, rooms)
    return rooms
