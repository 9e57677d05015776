"""Units, rooms and endpoints as the API and the audit log show them."""

from __future__ import annotations

from typing import Any

from vcorch.rooms.models import Endpoint, Room, Unit


def unit_view(unit: Unit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "code": unit.code,
        "name": unit.name,
        "level": unit.level,
        "parent_id": unit.parent_id,
        "timezone": unit.timezone,
    }


def room_view(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "unit_id": room.unit_id,
        "name": room.name,
        "seats": room.seats,
        "location": room.location,
    }


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "room_id": endpoint.room_id,
        "name": endpoint.name,
        "kind": endpoint.kind,
        "address": endpoint.address,
        "vendor": endpoint.vendor,
        "model": endpoint.model,
        "management_url": endpoint.management_url,
        "probe_enabled": endpoint.probe_enabled,
        "probe_interval_seconds": endpoint.probe_interval_seconds,
        "probe_transport": endpoint.probe_transport,
    }
