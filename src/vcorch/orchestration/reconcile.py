"""Pure supervision decisions: what a bridge's listing means for a site, when a call
failed, which site wants a call, when a meeting moves off its bridge.

Every function here is a function of (state, listing, now, policy): no I/O, time is a
parameter.  :mod:`vcorch.orchestration.supervise` carries the decisions out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from vcorch.mcu_adapter import (
    BridgeError,
    BridgeUnavailable,
    CapacityExceeded,
    DialFailed,
    NotSupported,
    Participant,
)
from vcorch.orchestration.channels import BROWSER_CHANNELS, Channel
from vcorch.orchestration.policy import SETTLED, OrchestrationPolicy
from vcorch.orchestration.snapshot import SiteView

DIAL_REFUSALS = (NotSupported, CapacityExceeded, DialFailed, BridgeUnavailable)
"""The errors a dial-out is decided on; any other error is the step's trouble."""


@dataclass
class SiteChange:
    """What a step decided for one site; written only if the site did not change meanwhile.

    Keys starting with ``_`` are instructions, not columns: ``_drop`` names a call leg to
    hang up before the site is called again."""

    site: SiteView
    values: dict[str, object]
    fallback_reason: str | None = None


@dataclass(frozen=True)
class Reading:
    """What one listing says about one site: is it connected, and what changes."""

    connected: bool
    change: SiteChange | None


def address_key(address: str) -> str:
    """An address as bridges may list it back: a Cisco Meeting Server names the remote
    party ``room@host`` for the ``sip:room@host`` vcorch dialled (and may add URI
    parameters); a process that restarted knows a call placed before only by it."""
    value = address.strip().lower()
    for scheme in ("sip:", "sips:", "h323:"):
        if value.startswith(scheme):
            value = value[len(scheme) :]
            break
    return value.split(";", 1)[0]


def match(site: SiteView, listed: Sequence[Participant]) -> Participant | None:
    """The site's call in a bridge's listing: by the tag vcorch dials with, by the leg it
    knows, else by address (an untagged call placed before a restart)."""
    tag = str(site.id)
    for participant in listed:
        if participant.site_id == tag:
            return participant
    if site.participant_id:
        for participant in listed:
            if participant.participant_id == site.participant_id:
                return participant
    if site.address:
        wanted = address_key(site.address)
        for participant in listed:
            if (
                participant.address is not None
                and participant.site_id is None
                and address_key(participant.address) == wanted
            ):
                return participant
    return None


def attempt_failed(
    site: SiteView,
    now: datetime,
    reason: str,
    policy: OrchestrationPolicy,
    *,
    drop: str | None = None,
    rand: Callable[[], float] = random.random,
) -> SiteChange:
    """A call that did not get through: call again after a wait, or fall back."""
    if site.attempts >= policy.dial_attempts:
        return SiteChange(site, {"participant_id": None, "_drop": drop}, fallback_reason=reason)
    return SiteChange(
        site,
        {
            "state": "dialling",
            "since": site.since if site.state == "dialling" else now,
            "participant_id": None,
            "dial_deadline": now + policy.retry_delay(site.attempts, rand),
            "last_error": reason,
            "_drop": drop,
        },
    )


def waits_for_people(site: SiteView) -> bool:
    """A site that vcorch no longer calls, whose people may come by browser or call in:
    fallen back, or connected that way (it returns to ``fallback`` when they leave)."""
    return site.state == "fallback" or (
        site.state == "connected" and site.channel in ("browser", "dial_in")
    )


def presence(
    site: SiteView, listed: Sequence[Participant], now: datetime, *, takes_browsers: bool
) -> Reading:
    """What a listing says about a site that waits for its people (:func:`waits_for_people`).

    ``takes_browsers``: the conference is one browsers join (the built-in bridge's, or a
    hosting bridge with ``webrtc_join``), so the site's tagged participant there is its
    browser (``browser``), unless it has the room's own address (its call, answered after
    it fell back: ``room_system``).  Elsewhere a tagged leg is not the site's browser (a
    WebRTC-to-SIP gateway's leg is written by the gateway's own events); the room itself
    calling in, found by its address and carrying no tag, is ``dial_in``.  When the people
    leave, the site is ``fallback`` again.  Nobody is ever called here."""
    found = match(site, listed)
    channel: Channel | None = None
    if found is not None and found.connected:
        own_address = (
            found.address is not None
            and site.address is not None
            and address_key(found.address) == address_key(site.address)
        )
        if site.channel == "dial_in" and found.participant_id == site.participant_id:
            channel = "dial_in"  # the same call as before
        elif found.site_id == str(site.id) and own_address:
            channel = "room_system"  # its own call, answered after it fell back
        elif found.site_id == str(site.id):
            channel = "browser" if takes_browsers else None
        elif found.site_id is None:
            channel = "dial_in"  # untagged, found by the room's address: it called in
    if channel is not None and found is not None:
        if site.state == "connected" and site.channel == channel:
            return Reading(True, None)
        return Reading(
            True,
            SiteChange(
                site,
                {
                    "state": "connected",
                    "channel": channel,
                    "since": now,
                    # A room system's call is a leg vcorch may hang up (an operator's drop).
                    "participant_id": None if channel == "browser" else found.participant_id,
                    "last_error": None,
                    "dial_deadline": None,
                },
            ),
        )
    if site.state == "connected":
        return Reading(
            False,
            SiteChange(
                site,
                {
                    "state": "fallback",
                    "since": now,
                    "participant_id": None,
                    "last_error": "the browser left"
                    if site.channel in BROWSER_CHANNELS
                    else "the call ended",
                },
            ),
        )
    return Reading(False, None)


def dialled_in(site: SiteView, listed: Sequence[Participant]) -> Participant | None:
    """The site's room system in the conference by its own call: connected, untagged
    (nobody dialled it), incoming as the bridge says, from the address of the site's
    endpoint (the rooms registry)."""
    if not site.address:
        return None
    wanted = address_key(site.address)
    for participant in listed:
        if (
            participant.connected
            and participant.incoming
            and participant.site_id is None
            and participant.address is not None
            and address_key(participant.address) == wanted
        ):
            return participant
    return None


def came_by_dial_in(
    site: SiteView, called_in: Participant, now: datetime, *, drop: Participant | None
) -> SiteChange | None:
    """The site called in while vcorch was calling it (or before): it is connected by
    ``dial_in``, and vcorch's own call, still ringing, is hung up."""
    if (
        site.state == "connected"
        and site.channel == "dial_in"
        and site.participant_id == called_in.participant_id
    ):
        return None
    return SiteChange(
        site,
        {
            "state": "connected",
            "channel": "dial_in",
            "since": now,
            "participant_id": called_in.participant_id,
            "last_error": None,
            "dial_deadline": None,
            "_drop": drop.participant_id if drop is not None else None,
        },
    )


def dial_in_beside_fallback(
    site: SiteView, hosting: Sequence[Participant], now: datetime
) -> Reading:
    """A site placed on the built-in bridge's conference (it fell back from a SIP-only MCU)
    whose room system called the hosting conference itself: read against the hosting
    conference's listing.  Connected by ``dial_in`` while that call lasts, ``fallback``
    (waiting for its people, its browser link still good) when it ends."""
    if site.held:
        return Reading(False, None)
    if site.state == "connected" and site.channel == "dial_in":
        if any(p.participant_id == site.participant_id and p.connected for p in hosting):
            return Reading(True, None)
        return Reading(
            False,
            SiteChange(
                site,
                {
                    "state": "fallback",
                    "since": now,
                    "participant_id": None,
                    "last_error": "the call ended",
                },
            ),
        )
    if site.state != "fallback":
        return Reading(False, None)
    called_in = dialled_in(site, hosting)
    if called_in is None:
        return Reading(False, None)
    return Reading(True, came_by_dial_in(site, called_in, now, drop=None))


def reconcile(
    site: SiteView,
    listed: Sequence[Participant],
    now: datetime,
    policy: OrchestrationPolicy,
    rand: Callable[[], float] = random.random,
    *,
    takes_browsers: bool = False,
) -> Reading:
    """What the bridge's list says about one site (no calls are made here)."""
    if site.held:
        return Reading(False, None)
    if site.channel == "gateway" and site.state in ("connected", "fallback"):
        # The gateway's own events write its arrival and departure (channels.mark_browser).
        return Reading(site.state == "connected", None)
    if waits_for_people(site):
        return presence(site, listed, now, takes_browsers=takes_browsers)
    if site.state in SETTLED:
        return Reading(False, None)
    found = match(site, listed)
    called_in = dialled_in(site, listed)
    if called_in is not None and (
        found is None or not found.connected or found.participant_id == called_in.participant_id
    ):
        drop = found if found is not None and found is not called_in else None
        return Reading(True, came_by_dial_in(site, called_in, now, drop=drop))
    if found is not None and found.connected:
        if site.state == "connected" and site.participant_id == found.participant_id:
            return Reading(True, None)
        return Reading(
            True,
            SiteChange(
                site,
                {
                    "state": "connected",
                    "channel": "room_system",
                    "since": now,
                    "participant_id": found.participant_id,
                    "last_error": None,
                    "dial_deadline": None,
                },
            ),
        )
    if found is not None:  # ringing
        if site.state == "pending" or site.participant_id != found.participant_id:
            return Reading(
                False,
                SiteChange(
                    site,
                    {
                        "state": "dialling",
                        "since": now,
                        "participant_id": found.participant_id,
                        "dial_deadline": now + policy.ring_timeout,
                    },
                ),
            )
        if site.dial_deadline is not None and now >= site.dial_deadline:
            return Reading(
                False,
                attempt_failed(
                    site, now, "no answer", policy, drop=found.participant_id, rand=rand
                ),
            )
        return Reading(False, None)
    # Not on the bridge at all.
    if site.state == "connected":
        return Reading(
            False,
            SiteChange(
                site,
                {
                    "state": "dialling",
                    "since": now,
                    "participant_id": None,
                    "attempts": 0,
                    "dial_deadline": now,
                    "last_error": "the call dropped",
                },
            ),
        )
    if site.state == "dialling" and site.participant_id is not None:
        return Reading(
            False, attempt_failed(site, now, "the call was not answered", policy, rand=rand)
        )
    return Reading(False, None)


def wants_call(site: SiteView, change: SiteChange | None, now: datetime) -> bool:
    """Whether the site (with this step's change applied) is to be called now."""
    if change is not None:
        if change.fallback_reason is not None:
            return False
        state = change.values.get("state", site.state)
        participant = change.values.get("participant_id", site.participant_id)
        deadline = change.values.get("dial_deadline", site.dial_deadline)
    else:
        if site.held or site.state in SETTLED:
            return False
        state, participant, deadline = site.state, site.participant_id, site.dial_deadline
    if state == "pending":
        return True
    return (
        state == "dialling"
        and participant is None
        and (deadline is None or (isinstance(deadline, datetime) and deadline <= now))
    )


def call_placed(
    site: SiteView, participant_id: str, now: datetime, policy: OrchestrationPolicy
) -> SiteChange:
    """The bridge took the call: it rings until the ring timeout."""
    return SiteChange(
        site,
        {
            "state": "dialling",
            "since": now if site.state != "dialling" else site.since,
            "participant_id": participant_id,
            "attempts": site.attempts + 1,
            "dial_deadline": now + policy.ring_timeout,
        },
    )


def bridge_busy(
    site: SiteView,
    reason: str,
    retry_after: float | None,
    now: datetime,
    policy: OrchestrationPolicy,
) -> SiteChange:
    """The bridge said busy to a call: call again once it asked (or after the first retry
    wait); busy is not the site's fault, so it is not counted as an attempt."""
    wait = timedelta(seconds=retry_after) if retry_after else policy.retry_base / 2
    return SiteChange(
        site,
        {
            "state": "dialling",
            "since": now if site.state != "dialling" else site.since,
            "participant_id": None,
            "dial_deadline": now + wait,
            "last_error": reason,
        },
    )


@dataclass(frozen=True)
class Refusal:
    """How a refused dial-out counts: its metric label, whether calling again is pointless,
    whether it says the bridge itself is down."""

    result: str
    fatal: bool
    bridge_down: bool = False


def refusal(err: BridgeError) -> Refusal:
    if isinstance(err, NotSupported):
        return Refusal("not_supported", fatal=True)
    if isinstance(err, CapacityExceeded):
        return Refusal("capacity", fatal=True)
    if isinstance(err, DialFailed):
        return Refusal("failed", fatal=False)
    if isinstance(err, BridgeUnavailable):
        return Refusal("bridge_unavailable", fatal=False, bridge_down=True)
    return Refusal("failed", fatal=False)


def call_refused(
    site: SiteView,
    reason: str,
    fatal: bool,
    now: datetime,
    policy: OrchestrationPolicy,
    rand: Callable[[], float] = random.random,
) -> SiteChange:
    """The bridge refused the call: call again after a wait, or fall back."""
    attempts = site.attempts + 1
    if fatal or attempts >= policy.dial_attempts:
        return SiteChange(site, {"attempts": attempts}, fallback_reason=reason)
    return SiteChange(
        site,
        {
            "state": "dialling",
            "since": now if site.state != "dialling" else site.since,
            "participant_id": None,
            "attempts": attempts,
            "dial_deadline": now + policy.retry_delay(attempts, rand),
            "last_error": reason,
        },
    )


Look = Literal["reconcile", "wait", "fail_over"]


def after_look(
    bridge_known: bool, answered: bool, failed_looks: int, policy: OrchestrationPolicy
) -> Look:
    """What a look at a conference's bridge leads to: read its listing, wait for the next
    look, or move the meeting (the bridge is gone, or failed ``failover_after`` looks)."""
    if not bridge_known:
        return "fail_over"
    if answered:
        return "reconcile"
    return "fail_over" if failed_looks >= policy.failover_after else "wait"


def dial_gate(limit: int, policy: OrchestrationPolicy) -> int:
    """Calls placed at once on one bridge: its ``dial_concurrency`` option when lower."""
    return min(limit, policy.dial_concurrency) if limit > 0 else policy.dial_concurrency
