"""Joins and leaves from the bodies Janus' sample event handler posts.

Shapes (janus-gateway 1.1: ``src/events.c``, ``src/events/janus_sampleevh.c``, the
``notify_event`` calls of ``janus_audiobridge.c`` / ``janus_videoroom.c``; captured from a
real Janus 1.1.2 in ``tests/fixtures/janus/``):

- a body is a JSON array of events when the handler groups them (``grouping = true``),
  else one event object; ``Content-Encoding: gzip`` when it compresses;
- every event has an integer ``type`` and ``timestamp`` (microseconds of real time since
  the epoch), and ``session_id`` / ``handle_id`` when it belongs to one;
- type 64 (plugin): ``event.plugin`` and ``event.data``; AudioBridge ``data.event`` is
  ``joined`` (with ``setup``: whether media is already up), ``left`` or ``kicked``;
  VideoRoom ``joined``, ``leaving``, ``kicked``; ``room`` and ``id`` name the participant.
  A ``left`` after a kick or a hang-up has no session or handle, hence room + id as key.
  ``destroyed`` (room) comes with no ``left`` for those still inside: they get a leave;
- type 16 (WebRTC): ``event.connection`` is ``webrtcup`` when ICE and DTLS are done and
  media can flow, ``hangup`` when the PeerConnection went away;
- type 2 (handle): ``event.name`` ``detached``.

A participant counts as joined when its media is up: the AudioBridge ``joined`` event
comes before ICE even starts, and a peer whose ICE fails still "joined".  So by default
(``join_on = "media"``) a ``joined`` with ``setup: false`` is held until the ``webrtcup``
of the same handle, and the join carries that event's time.  That pairing is kept in
memory; run one vcorch process per bridge hook, or set ``join_on = "joined"``.
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vcorch.mcu_adapter.base import BridgeEvent, BridgeProtocolError

TYPE_HANDLE = 2
TYPE_WEBRTC = 16
TYPE_PLUGIN = 64
PLUGIN_SHORT = {"janus.plugin.audiobridge": "audiobridge", "janus.plugin.videoroom": "videoroom"}
JOIN_EVENTS = frozenset({"joined"})
LEAVE_EVENTS = {
    "audiobridge": frozenset({"left"}),
    # VideoRoom sends exactly one of these per leaving publisher.
    "videoroom": frozenset({"leaving", "kicked"}),
}
MAX_BODY_BYTES = 4 * 1024 * 1024
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def janus_time(microseconds: int) -> datetime:
    """A Janus event timestamp as an aware UTC datetime, exact to the microsecond."""
    return EPOCH + timedelta(microseconds=microseconds)


def decode_body(body: bytes, content_encoding: str | None, bridge: str) -> list[dict[str, Any]]:
    """The list of event objects in one POST; anything else is a protocol error."""
    if content_encoding and content_encoding.strip().lower() == "gzip":
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_BODY_BYTES)
        except zlib.error as err:
            raise BridgeProtocolError(bridge, "event body: broken gzip") from err
        if inflater.unconsumed_tail:
            raise BridgeProtocolError(bridge, "event body: too large once inflated")
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BridgeProtocolError(bridge, "event body: not JSON") from err
    items = parsed if isinstance(parsed, list) else [parsed]
    for item in items:
        if not isinstance(item, dict):
            raise BridgeProtocolError(bridge, "event body: an event is not a JSON object")
        if not _is_int(item.get("type")) or not _is_int(item.get("timestamp")):
            raise BridgeProtocolError(bridge, "event body: an event lacks type or timestamp")
        if not isinstance(item.get("event", {}), dict):
            raise BridgeProtocolError(bridge, "event body: 'event' is not an object")
    return items


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _id_text(value: object) -> str | None:
    """Room and participant ids: numbers by default, strings with ``string_ids``."""
    if _is_int(value):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


@dataclass(frozen=True)
class _Pending:
    room: str
    participant: str
    display: str | None
    plugin: str


class _Bounded(OrderedDict[Any, Any]):
    """An insertion-ordered dict that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class EventTracker:
    """Turns event bodies into :class:`BridgeEvent` lists; remembers what pairing needs.

    ``site_of(room, participant)`` names the vcorch site a reserved participant id belongs
    to, when this process knows it.
    """

    def __init__(
        self,
        bridge: str,
        *,
        presence_plugins: Collection[str] = ("audiobridge",),
        join_on_media: bool = True,
        site_of: Callable[[str, str], str | None] = lambda room, participant: None,
        limit: int = 10_000,
    ) -> None:
        self.bridge = bridge
        self.presence_plugins = frozenset(presence_plugins)
        self.join_on_media = join_on_media
        self.site_of = site_of
        self._pending: _Bounded = _Bounded(limit)  # handle id -> _Pending
        self._media_up: _Bounded = _Bounded(limit)  # handle id -> webrtcup timestamp
        self._joined: _Bounded = _Bounded(limit)  # (room, participant) -> datetime
        self._kicked: _Bounded = _Bounded(limit)  # (room, participant) -> True

    def joined_at(self, room: str, participant: str) -> datetime | None:
        value = self._joined.get((room, participant))
        return value if isinstance(value, datetime) else None

    def parse(self, body: bytes, content_encoding: str | None = None) -> list[BridgeEvent]:
        events: list[BridgeEvent] = []
        for item in decode_body(body, content_encoding, self.bridge):
            kind = item["type"]
            if kind == TYPE_PLUGIN:
                events.extend(self._plugin(item))
            elif kind == TYPE_WEBRTC:
                events.extend(self._webrtc(item))
            elif kind == TYPE_HANDLE:
                self._handle(item)
        return events

    # -- per event type -----------------------------------------------------------------

    def _plugin(self, item: dict[str, Any]) -> list[BridgeEvent]:
        event = item.get("event", {})
        plugin = PLUGIN_SHORT.get(str(event.get("plugin")))
        if plugin is None or plugin not in self.presence_plugins:
            return []
        data = event.get("data")
        if not isinstance(data, dict):
            raise BridgeProtocolError(self.bridge, f"{plugin} event without a data object")
        name = data.get("event")
        if name == "destroyed":
            return self._room_destroyed(plugin, data, int(item["timestamp"]))
        if name == "kicked" and plugin == "audiobridge":
            room, participant = self._room_and_id(data, plugin, "kicked")
            self._kicked.put((room, participant), True)
            return []
        is_join = name in JOIN_EVENTS
        if not is_join and name not in LEAVE_EVENTS[plugin]:
            return []
        room, participant = self._room_and_id(data, plugin, str(name))
        display = data.get("display") if isinstance(data.get("display"), str) else None
        stamp = int(item["timestamp"])
        if not is_join:
            return [self._leave(plugin, str(name), room, participant, display, stamp)]
        handle = item.get("handle_id")
        media_ready = data.get("setup") is True or not self.join_on_media or handle is None
        if not media_ready and handle in self._media_up:
            # webrtcup came first (it can, across two POSTs): media is up already.
            del self._media_up[handle]
            media_ready = True
        if media_ready:
            return [self._join(plugin, room, participant, display, stamp, f"joined:{stamp}")]
        self._pending.put(handle, _Pending(room, participant, display, plugin))
        return []

    def _room_destroyed(self, plugin: str, data: dict[str, Any], stamp: int) -> list[BridgeEvent]:
        """Leaves for everyone still in a destroyed room: Janus drops them without a
        ``left`` event (it detaches them from the room before closing their connections)."""
        room = _id_text(data.get("room"))
        if room is None:
            raise BridgeProtocolError(self.bridge, f"{plugin} 'destroyed' event without room")
        inside = {participant for (r, participant) in self._joined if r == room}
        inside |= {p.participant for p in self._pending.values() if p.room == room}
        return [
            self._leave(plugin, "destroyed", room, participant, None, stamp)
            for participant in sorted(inside)
        ]

    def _webrtc(self, item: dict[str, Any]) -> list[BridgeEvent]:
        connection = item.get("event", {}).get("connection")
        handle = item.get("handle_id")
        if connection not in {"webrtcup", "hangup"}:
            return []
        if not _is_int(handle):
            raise BridgeProtocolError(self.bridge, f"{connection} event without a handle_id")
        stamp = int(item["timestamp"])
        if connection == "hangup":
            self._pending.pop(handle, None)
            self._media_up.pop(handle, None)
            return []
        pending = self._pending.pop(handle, None)
        if not isinstance(pending, _Pending):
            self._media_up.put(handle, stamp)
            return []
        return [
            self._join(
                pending.plugin,
                pending.room,
                pending.participant,
                pending.display,
                stamp,
                f"webrtcup:{handle}:{stamp}",
            )
        ]

    def _handle(self, item: dict[str, Any]) -> None:
        if item.get("event", {}).get("name") == "detached":
            handle = item.get("handle_id")
            self._pending.pop(handle, None)
            self._media_up.pop(handle, None)

    # -- helpers ------------------------------------------------------------------------

    def _room_and_id(self, data: dict[str, Any], plugin: str, name: str) -> tuple[str, str]:
        room = _id_text(data.get("room"))
        participant = _id_text(data.get("id"))
        if room is None or participant is None:
            raise BridgeProtocolError(self.bridge, f"{plugin} '{name}' event without room or id")
        return room, participant

    def _join(
        self,
        plugin: str,
        room: str,
        participant: str,
        display: str | None,
        stamp: int,
        source: str,
    ) -> BridgeEvent:
        at = janus_time(stamp)
        self._joined.put((room, participant), at)
        return BridgeEvent(
            kind="join",
            conference_id=room,
            participant_id=participant,
            at=at,
            event_id=f"janus:{self.bridge}:{plugin}:{room}:{participant}:{source}",
            site_id=self.site_of(room, participant),
            display_name=display,
        )

    def _leave(
        self,
        plugin: str,
        name: str,
        room: str,
        participant: str,
        display: str | None,
        stamp: int,
    ) -> BridgeEvent:
        self._joined.pop((room, participant), None)
        for handle, pending in list(self._pending.items()):
            if pending.room == room and pending.participant == participant:
                del self._pending[handle]
        kicked = self._kicked.pop((room, participant), None) is not None or name == "kicked"
        reason = "conference ended" if name == "destroyed" else "kicked" if kicked else "left"
        return BridgeEvent(
            kind="leave",
            conference_id=room,
            participant_id=participant,
            at=janus_time(stamp),
            event_id=f"janus:{self.bridge}:{plugin}:{room}:{participant}:{name}:{stamp}",
            site_id=self.site_of(room, participant),
            display_name=display,
            reason=reason,
        )
