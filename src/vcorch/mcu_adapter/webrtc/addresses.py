"""Which network addresses a peer connection offers, and which it is offered."""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator, Sequence

import aioice.ice

_HOST_ADDRESSES: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "vcorch_webrtc_host_addresses", default=None
)


def install_host_address_hook() -> None:
    """Let a context choose the host candidates aioice gathers (it reads a module function).

    Outside such a context aioice behaves as it always does; checked at every join since
    other code (test harnesses) may swap the function too.
    """
    current = aioice.ice.get_host_addresses
    if getattr(current, "vcorch_hook", False):
        return

    def chosen_or_default(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        chosen = _HOST_ADDRESSES.get()
        if chosen is None:
            return list(current(use_ipv4, use_ipv6))
        return [a for a in chosen if (use_ipv6 if ":" in a else use_ipv4)]

    chosen_or_default.vcorch_hook = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = chosen_or_default


@contextlib.contextmanager
def offered_addresses(addresses: Sequence[str] | None) -> Iterator[None]:
    """Within this block, peer connections gather host candidates on ``addresses`` only."""
    if not addresses:
        yield
        return
    install_host_address_hook()
    token = _HOST_ADDRESSES.set(tuple(addresses))
    try:
        yield
    finally:
        _HOST_ADDRESSES.reset(token)


_MDNS_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ \S+\.local \d+ .*$", re.MULTILINE)


def without_mdns_candidates(sdp: str) -> str:
    """Drop ``.local`` host candidates: resolving them multicasts on the bridge's network and
    a browser's LAN name is never reachable from the bridge anyway (its server-reflexive or
    relay candidates are)."""
    return re.sub(r"\r?\n(?=\r?\n)", "", _MDNS_CANDIDATE.sub("", sdp))
