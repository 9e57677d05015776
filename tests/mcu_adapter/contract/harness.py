"""The harness protocol: how the contract suite drives one bridge adapter and its far side.

The contract tests (``test_contract.py``) run unchanged against every adapter.  An adapter
takes part by providing a harness: a class that starts the far side (a real server, an
emulator, or nothing for in-process bridges), builds the configured bridge, and can steer
the far side into the situations the contract talks about.

Adding an adapter is one file and one line: create ``harness_<kind>.py`` in this folder
with a class satisfying :class:`Harness` and decorate it with ``@register("<kind>")``.
``conftest.py`` imports every ``harness_*.py`` module here, so nothing else changes.
The class is constructed with one argument: a temporary folder (``pathlib.Path``) of its own.

What a harness must do (see :class:`Harness` for signatures):

``start()``
    Start the far side and return the bridge, built with ``BridgeConfig(timeout_seconds=
    HARNESS_TIMEOUT, retries=HARNESS_RETRIES, ...)`` and its ``start()`` already awaited.
    Events the bridge reports must end up in ``harness.events``: in-process bridges through
    ``BridgeContext.emit``; bridges that push over HTTP through a :class:`HookReceiver`
    (``tests/emulators/hook_receiver.py``) the far side is configured to post to.  When a
    real service the harness needs is missing, call ``tests.services.missing_service``.
``stop()``
    Close the bridge, stop everything started.  Must work after any fault.
``target(site_id, answers)``
    A :class:`DialTarget` whose endpoint answers (``True``) or never picks up (``False``).
``connect(ref, target)``
    Bring the target into the conference the way this bridge does it (dial-out for MCUs;
    for browser-only bridges, a simulated browser opening ``webrtc_join_url``) and return
    the participant id the bridge will report for it.  For a target that does not answer,
    return the id the bridge gave the attempt, or ``None`` when there is none.
``remote_leave(ref, participant_id)``
    The endpoint hangs up by itself.
``take_down()`` / ``bring_up()``
    The far side stops answering at all (connection refused) / comes back.
``hang()``
    The far side accepts requests but never answers them (until ``heal()``).
``garbage()``
    The far side answers malformed bodies (until ``heal()``); return ``False`` when this
    bridge has no wire format to break (the test is then reported as not applicable).
``heal()``
    Back to normal after ``hang`` or ``garbage``.
``hook_request(body, authentic)``
    An :class:`InboundRequest` as the far side would push it, carrying ``body``, with valid
    credentials when ``authentic``; ``None`` when this bridge pushes no HTTP events.
``malformed_push_bodies``
    Bodies that a broken or hostile sender might push; each must give BridgeProtocolError.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from vcorch.mcu_adapter.base import (
    Bridge,
    BridgeEvent,
    ConferenceRef,
    DialTarget,
    InboundRequest,
)

HARNESS_TIMEOUT = 0.4  # seconds per attempt: small, so that the hang tests stay fast
HARNESS_RETRIES = 1


class Harness(Protocol):
    @property
    def events(self) -> list[BridgeEvent]: ...

    malformed_push_bodies: tuple[bytes, ...]

    async def start(self) -> Bridge: ...

    async def stop(self) -> None: ...

    def target(self, site_id: str, answers: bool) -> DialTarget: ...

    async def connect(self, ref: ConferenceRef, target: DialTarget) -> str | None: ...

    async def remote_leave(self, ref: ConferenceRef, participant_id: str) -> None: ...

    async def take_down(self) -> None: ...

    async def bring_up(self) -> None: ...

    async def hang(self) -> None: ...

    async def garbage(self) -> bool: ...

    async def heal(self) -> None: ...

    def hook_request(self, body: bytes, authentic: bool) -> InboundRequest | None: ...


HarnessFactory = Callable[[Path], Harness]

HARNESSES: dict[str, HarnessFactory] = {}


def register(kind: str) -> Callable[[type], type]:
    """Class decorator: ``@register("cisco_cms")`` adds the harness to the contract run."""

    def add(cls: type) -> type:
        if kind in HARNESSES:
            raise ValueError(f"two harnesses registered for {kind!r}")
        HARNESSES[kind] = cls
        return cls

    return add
