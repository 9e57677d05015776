"""Room and occupant events posted by the community ``event_sync`` prosody component.

Shape from jitsi-contrib/prosody-plugins ``event_sync/README.md``: ``POST
{api_prefix}/events/occupant/joined`` and ``.../occupant/left`` with a JSON body
``{"event_name": "muc-occupant-joined"|"muc-occupant-left", "room_name", "room_jid",
"is_breakout", "active_occupants_count", "occupant": {"occupant_jid", "joined_at",
"left_at" (left only), "name", "email", "id" (from the JWT user context)}}``; times are
Unix seconds (``os.time()``).  ``.../room/created`` and ``.../room/destroyed`` carry no
join or leave of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

OCCUPANT_EVENTS = {"muc-occupant-joined": "join", "muc-occupant-left": "leave"}
ROOM_EVENTS = frozenset({"muc-room-created", "muc-room-destroyed"})


class EventMalformed(Exception):
    """The body is not an event_sync payload of the documented shape."""


@dataclass(frozen=True)
class OccupantEvent:
    kind: Literal["join", "leave"]
    room_name: str
    room_jid: str
    occupant_jid: str
    at: datetime  # aware UTC
    joined_at: int
    user_id: str | None
    name: str | None
    email: str | None
    breakout: bool


def parse_event_sync(body: bytes) -> OccupantEvent | None:
    """The occupant event in ``body``; ``None`` for room events (nothing to record)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EventMalformed(f"not JSON ({err})") from err
    if not isinstance(payload, dict):
        raise EventMalformed("the payload is not a JSON object")
    name = payload.get("event_name")
    if name in ROOM_EVENTS:
        return None
    kind = OCCUPANT_EVENTS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise EventMalformed(f"unknown event_name {str(name)[:40]!r}")
    occupant = payload.get("occupant")
    if not isinstance(occupant, dict):
        raise EventMalformed("no occupant object")
    room_name = _required(payload, "room_name")
    room_jid = _required(payload, "room_jid")
    occupant_jid = _required(occupant, "occupant_jid")
    joined_at = _seconds(occupant, "joined_at")
    at = joined_at if kind == "join" else _seconds(occupant, "left_at")
    return OccupantEvent(
        kind="join" if kind == "join" else "leave",
        room_name=room_name,
        room_jid=room_jid,
        occupant_jid=occupant_jid,
        at=datetime.fromtimestamp(at, UTC),
        joined_at=joined_at,
        user_id=_text(occupant, "id"),
        name=_text(occupant, "name"),
        email=_text(occupant, "email"),
        breakout=payload.get("is_breakout") is True,
    )


def _required(source: dict[str, Any], key: str) -> str:
    value = _text(source, key)
    if value is None:
        raise EventMalformed(f"{key} is missing")
    return value


def _text(source: dict[str, Any], key: str) -> str | None:
    value = source.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int):
        raise EventMalformed(f"{key} is not a string")
    return str(value)


def _seconds(source: dict[str, Any], key: str) -> int:
    value = source.get(key)
    # bool is an int in Python; a timestamp never is one.
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise EventMalformed(f"occupant.{key} is not a Unix time")
    return value
