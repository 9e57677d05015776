"""Calls to a bridge whose failure changes nothing: hanging up a leg, ending a conference."""

from __future__ import annotations

import logging

from vcorch.mcu_adapter import Bridge, BridgeError, BridgeRegistry, ConferenceRef

log = logging.getLogger(__name__)


async def drop_quietly(bridge: Bridge, ref: ConferenceRef, leg: str) -> None:
    try:
        await bridge.disconnect(ref, leg)
    except BridgeError as err:
        log.debug("dropping %s on %s: %s", leg, bridge.name, err.reason)


async def end_quietly(registry: BridgeRegistry, bridge_name: str, ref: ConferenceRef) -> None:
    bridge = registry.get(bridge_name)
    if bridge is None:
        return
    try:
        await bridge.end_conference(ref)
    except BridgeError as err:
        log.info("ending %s on %s: %s", ref.conference_id, bridge_name, err.reason)
