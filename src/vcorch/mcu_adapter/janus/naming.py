"""Numbers and links derived from vcorch's own names, so that nothing needs storing.

Room and participant ids are numeric (Janus' default, ``string_ids = false``) and stay
below 2**53 so that the browser join page reads them exactly as JavaScript numbers.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import urlencode

SAFE_INTEGER = 2**53
# Reserved participant ids live in the upper half of the safe range; ids Janus picks
# itself for anonymous joins are random over the whole range, so clashes are improbable.
RESERVED_BASE = 2**52


def _digest(*parts: str) -> int:
    data = "\x1f".join(parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def room_id_for(key: str) -> int:
    """The room number for a conference key: the same key always gives the same room."""
    return 1 + _digest("room", key) % (RESERVED_BASE - 1)


# The lower quarter of the reserved range carries a numeric site id as it is (readable back
# after a restart: the site tag Janus echoes in every event and listing); other site ids
# are hashed into the upper quarter.  Site numbers beyond SITE_NUMBER_LIMIT are hashed too.
_NUMERIC_SPAN = 2**51
SITE_NUMBER_LIMIT = 2**31


def participant_id_for(room: int, site_id: str) -> int:
    """The participant id reserved for one site in one room."""
    if site_id.isascii() and site_id.isdigit() and str(int(site_id)) == site_id:
        number = int(site_id)
        if number < SITE_NUMBER_LIMIT:
            return RESERVED_BASE + number
    return RESERVED_BASE + _NUMERIC_SPAN + _digest("site", str(room), site_id) % _NUMERIC_SPAN


def site_of_participant(participant: int | str) -> str | None:
    """The site a reserved participant id names (``None``: not one vcorch reserved for a
    numbered site).  An id Janus picked itself lands here once in about four million."""
    try:
        number = int(participant) - RESERVED_BASE
    except ValueError:
        return None
    return str(number) if 0 <= number < SITE_NUMBER_LIMIT else None


def room_secret(admin_secret: str, room: int) -> str:
    """The room's moderation secret (kick, mute, destroy), derived from the admin secret so
    that a restarted vcorch still holds it; browsers never see it."""
    mac = hmac.new(admin_secret.encode("utf-8"), f"room:{room}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def room_pin(admin_secret: str, room: int) -> str:
    """The room's six-digit PIN (``options.room_pin``), derived like its secret so that a
    repeated create (or a restarted vcorch) offers the same one."""
    mac = hmac.new(admin_secret.encode("utf-8"), f"pin:{room}".encode(), hashlib.sha256)
    return f"{int.from_bytes(mac.digest()[:8], 'big') % 1_000_000:06d}"


def join_url(
    page: str,
    *,
    bridge: str,
    signalling: str,
    room: int,
    participant_id: int,
    display: str,
    video: bool,
    expires_at: datetime,
    pin: str | None,
) -> str:
    """The browser link for one site (format documented in docs/bridges.md, "Janus").

    Query: ``bridge``, ``janus`` (the Janus HTTP API base the page signals to), ``room``,
    ``id`` (the reserved participant id), ``display``, ``video`` (1 when a VideoRoom room
    exists too), ``expires`` (unix seconds).  The room PIN, when there is one, rides in the
    fragment (``#pin=...``), which browsers never send to a server.
    """
    query = urlencode(
        {
            "bridge": bridge,
            "janus": signalling,
            "room": str(room),
            "id": str(participant_id),
            "display": display,
            "video": "1" if video else "0",
            "expires": str(int(expires_at.timestamp())),
        }
    )
    separator = "&" if "?" in page else "?"
    fragment = f"#{urlencode({'pin': pin})}" if pin else ""
    return f"{page}{separator}{query}{fragment}"
