"""Reading what a Pexip Infinity event sink receives.

Shapes from Pexip's "Event sink API" reference (docs.pexip.com/admin/api_event_sink.htm):
every message is a JSON object with ``node`` (the Conferencing Node's address), ``seq``
(its sequence number on that node, from when the sink started), ``version``, ``time``
(Unix time, a float), ``event`` (the name) and ``data`` (the event's fields).  Events:
``eventsink_started`` / ``_updated`` / ``_stopped`` (empty data), ``conference_started`` /
``_updated`` / ``_ended`` (``name``, ``is_locked``, ``guests_muted``, ``start_time``,
``end_time`` ...), ``participant_connected`` / ``_updated`` / ``_disconnected`` (``uuid``,
``conference`` (the service name), ``call_id``, ``display_name``, ``destination_alias``,
``source_alias``, ``call_direction``, ``role``, ``service_type``, ``has_media``,
``connect_time``; on disconnect ``disconnect_reason``, ``duration``, ``end_time``).  With bulk
support a node sends ``{"event": "eventsink_bulk", "data": [<message>, ...]}``.

A participant is in the conference (a join) once a ``participant_connected`` or
``participant_updated`` says it is in a conference service (``service_type`` ``conference``
or ``lecture``) with media: a call still ``connecting`` (ringing, or at a PIN prompt) is not.
Unknown event names are not errors (Pexip adds events between versions); a body that is not
such a message is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

IN_CONFERENCE = frozenset({"conference", "lecture"})
PARTICIPANT_EVENTS = frozenset(
    {"participant_connected", "participant_updated", "participant_disconnected"}
)
_MAX_BULK = 10_000


class SinkMalformed(Exception):
    """The body is not an event sink message as the reference describes it."""


@dataclass(frozen=True)
class SinkEvent:
    """One participant message, reduced to what vcorch reads."""

    event: str
    node: str
    seq: int
    time: datetime  # aware UTC
    participant_id: str
    conference: str
    display_name: str | None
    address: str | None  # the far end's alias: destination for dial-outs, source for calls in
    in_conference: bool  # in a conference service, with media
    reason: str | None  # disconnect_reason, for participant_disconnected
    kind: Literal["connected", "updated", "disconnected"]


def parse_sink_body(body: bytes) -> list[SinkEvent]:
    """Participant messages of one POST, in order (conference and sink messages are read for
    shape, then left out: they name no participant)."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise SinkMalformed("the body is not JSON") from err
    if not isinstance(message, dict):
        raise SinkMalformed("the body is not a JSON object")
    if message.get("event") == "eventsink_bulk":
        inner = message.get("data")
        if not isinstance(inner, list) or len(inner) > _MAX_BULK:
            raise SinkMalformed("eventsink_bulk without a list of messages")
        events: list[SinkEvent] = []
        for item in inner:
            if not isinstance(item, dict):
                raise SinkMalformed("eventsink_bulk holds something that is not a message")
            found = _message(item)
            if found is not None:
                events.append(found)
        return events
    found = _message(message)
    return [found] if found is not None else []


def _message(message: Mapping[str, Any]) -> SinkEvent | None:
    name = message.get("event")
    if not isinstance(name, str) or not name:
        raise SinkMalformed("a message without an event name")
    at = _unix(message.get("time"), "time")
    data = message.get("data")
    if not isinstance(data, dict):
        raise SinkMalformed(f"{name}: data is not an object")
    node = message.get("node")
    seq = message.get("seq")
    if not isinstance(node, str) or isinstance(seq, bool) or not isinstance(seq, int):
        raise SinkMalformed(f"{name}: no node or seq")
    if name not in PARTICIPANT_EVENTS:
        if name.startswith("conference_") and not isinstance(data.get("name"), str):
            raise SinkMalformed(f"{name}: no conference name")
        return None
    uuid = data.get("uuid")
    conference = data.get("conference")
    if not isinstance(uuid, str) or not uuid:
        raise SinkMalformed(f"{name}: no participant uuid")
    if not isinstance(conference, str):
        raise SinkMalformed(f"{name}: no conference name")
    kind: Literal["connected", "updated", "disconnected"] = (
        "connected"
        if name == "participant_connected"
        else "updated"
        if name == "participant_updated"
        else "disconnected"
    )
    if kind == "disconnected" and data.get("end_time") is not None:
        at = _unix(data.get("end_time"), "end_time")
    direction = data.get("call_direction")
    address = _text(
        data.get("destination_alias") if direction == "out" else data.get("source_alias")
    )
    reason = _text(data.get("disconnect_reason")) if kind == "disconnected" else None
    return SinkEvent(
        event=name,
        node=node,
        seq=seq,
        time=at,
        participant_id=uuid,
        conference=conference,
        display_name=_text(data.get("display_name")),
        address=address,
        in_conference=data.get("service_type") in IN_CONFERENCE
        and data.get("has_media") is not False,
        reason=reason[:200] if reason else None,
        kind=kind,
    )


def _unix(value: object, field: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SinkMalformed(f"{field} is not a Unix time")
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 <= seconds < 32_503_680_000:  # before year 3000
        raise SinkMalformed(f"{field} is not a Unix time")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
