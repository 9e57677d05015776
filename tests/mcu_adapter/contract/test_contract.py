"""The bridge contract, run unchanged against every adapter that registers a harness.

Each test states one promise of ``vcorch.mcu_adapter.base.Bridge`` as the orchestrator relies
on it.  Where a bridge kind honestly cannot do something, its capabilities say so and the
test checks that it answers ``NotSupported`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.mcu_adapter.contract.harness import HARNESS_RETRIES, HARNESS_TIMEOUT, Harness
from vcorch.mcu_adapter.base import (
    LAYOUTS,
    Bridge,
    BridgeEvent,
    BridgeProtocolError,
    BridgeUnavailable,
    ConferenceNotFound,
    ConferenceRef,
    ConferenceSpec,
    DialTarget,
    NotSupported,
    Participant,
)

WAIT = 5.0  # seconds to wait for something the far side does by itself


def spec(label: str = "") -> ConferenceSpec:
    return ConferenceSpec(
        key=f"meeting-{uuid.uuid4().hex[:8]}{label}@2026-12-01T02:00Z",
        title="Giao ban trực tuyến Chương trình 1719",
        expected_sites=3,
    )


async def eventually(check: Callable[[], bool], what: str, within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)


async def listed(bridge: Bridge, ref: ConferenceRef, participant_id: str) -> Participant | None:
    for participant in await bridge.participants(ref):
        if participant.participant_id == participant_id:
            return participant
    return None


async def wait_connected(bridge: Bridge, ref: ConferenceRef, participant_id: str) -> Participant:
    deadline = time.monotonic() + WAIT
    while True:
        found = await listed(bridge, ref, participant_id)
        if found is not None and found.connected:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{participant_id} not connected within {WAIT} s: {found}")
        await asyncio.sleep(0.05)


async def wait_gone(bridge: Bridge, ref: ConferenceRef, participant_id: str) -> None:
    deadline = time.monotonic() + WAIT
    while await listed(bridge, ref, participant_id) is not None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{participant_id} still listed {WAIT} s after it left")
        await asyncio.sleep(0.05)


def events_for(harness: Harness, kind: str, participant_id: str) -> list[BridgeEvent]:
    return [
        event
        for event in harness.events
        if event.kind == kind and event.participant_id == participant_id
    ]


async def joined(harness: Harness, bridge: Bridge, ref: ConferenceRef, site: str) -> str:
    target = harness.target(site, answers=True)
    participant_id = await harness.connect(ref, target)
    assert participant_id
    await wait_connected(bridge, ref, participant_id)
    return participant_id


# -- health -------------------------------------------------------------------------------


async def test_health_of_a_running_bridge(bridge: Bridge) -> None:
    health = await bridge.health()
    assert health.reachable, health.detail
    if health.ports_total is not None and health.ports_in_use is not None:
        assert 0 <= health.ports_in_use <= health.ports_total


async def test_far_side_down_is_reported_not_raised_then_recovers(
    harness: Harness, bridge: Bridge
) -> None:
    await harness.take_down()
    health = await bridge.health()
    assert not health.reachable
    assert health.detail  # the operator sees why
    with pytest.raises(BridgeUnavailable):
        await bridge.create_conference(spec())
    await harness.bring_up()
    assert (await bridge.health()).reachable


# -- conferences ---------------------------------------------------------------------------


async def test_create_is_idempotent_per_key(bridge: Bridge) -> None:
    first_spec = spec("a")
    first = await bridge.create_conference(first_spec)
    again = await bridge.create_conference(first_spec)
    other = await bridge.create_conference(spec("b"))
    assert first.bridge == bridge.name
    assert again.conference_id == first.conference_id
    assert other.conference_id != first.conference_id


async def test_answering_site_connects_is_listed_and_reported(
    harness: Harness, bridge: Bridge
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    ref = await bridge.create_conference(spec())
    participant_id = await joined(harness, bridge, ref, "101")
    participant = await wait_connected(bridge, ref, participant_id)
    assert participant.display_name
    await eventually(lambda: bool(events_for(harness, "join", participant_id)), "a join event")
    event = events_for(harness, "join", participant_id)[0]
    assert event.conference_id in (ref.conference_id, "")
    assert event.at.utcoffset() == timedelta(0)
    assert before <= event.at <= datetime.now(UTC) + timedelta(seconds=2)
    assert event.event_id


async def test_dial_out_follows_capabilities(harness: Harness, bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    sip = harness.target("102", answers=True)
    if bridge.capabilities.dial_sip:
        made = await bridge.dial_out(ref, sip)
        assert made.conference_id == ref.conference_id
        assert made.participant_id
    else:
        sip = DialTarget(site_id="102", kind="sip", address="sip:r@10.0.0.5", display_name="R")
        with pytest.raises(NotSupported):
            await bridge.dial_out(ref, sip)
    if not bridge.capabilities.dial_h323:
        h323 = DialTarget(site_id="103", kind="h323", address="h323:10.0.0.7", display_name="H")
        with pytest.raises(NotSupported):
            await bridge.dial_out(ref, h323)


async def test_site_that_does_not_answer_never_connects(harness: Harness, bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    attempt = await harness.connect(ref, harness.target("104", answers=False))
    answering = await joined(harness, bridge, ref, "105")
    if attempt is not None:
        # Ringing ends in a leave that has no join before it; the site is then gone.
        await eventually(lambda: bool(events_for(harness, "leave", attempt)), "a ring-out leave")
        assert not events_for(harness, "join", attempt)
        await wait_gone(bridge, ref, attempt)
    ids = {participant.participant_id for participant in await bridge.participants(ref)}
    assert answering in ids


async def test_mute_and_unmute(harness: Harness, bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    participant_id = await joined(harness, bridge, ref, "106")
    if not bridge.capabilities.mute:
        with pytest.raises(NotSupported):
            await bridge.mute(ref, participant_id, True)
        return
    await bridge.mute(ref, participant_id, True)
    muted = await listed(bridge, ref, participant_id)
    assert muted is not None
    assert muted.muted
    await bridge.mute(ref, participant_id, False)
    unmuted = await listed(bridge, ref, participant_id)
    assert unmuted is not None
    assert not unmuted.muted


async def test_disconnect_drops_one_site_and_reports_leave(
    harness: Harness, bridge: Bridge
) -> None:
    ref = await bridge.create_conference(spec())
    leaving = await joined(harness, bridge, ref, "107")
    staying = await joined(harness, bridge, ref, "108")
    if not bridge.capabilities.disconnect:
        with pytest.raises(NotSupported):
            await bridge.disconnect(ref, leaving)
        return
    await bridge.disconnect(ref, leaving)
    # Real bridges finish hanging up asynchronously: gone soon, not necessarily at once.
    await wait_gone(bridge, ref, leaving)
    ids = {participant.participant_id for participant in await bridge.participants(ref)}
    assert staying in ids
    await eventually(lambda: bool(events_for(harness, "leave", leaving)), "a leave event")
    with pytest.raises(ConferenceNotFound):
        await bridge.disconnect(ref, leaving)


async def test_site_hanging_up_is_reported(harness: Harness, bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    participant_id = await joined(harness, bridge, ref, "109")
    await eventually(lambda: bool(events_for(harness, "join", participant_id)), "a join event")
    await harness.remote_leave(ref, participant_id)
    await eventually(lambda: bool(events_for(harness, "leave", participant_id)), "a leave event")
    leave = events_for(harness, "leave", participant_id)[0]
    join = events_for(harness, "join", participant_id)[0]
    assert leave.at >= join.at
    assert leave.event_id != join.event_id
    await wait_gone(bridge, ref, participant_id)


async def test_end_conference(harness: Harness, bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    participant_id = await joined(harness, bridge, ref, "110")
    if not bridge.capabilities.disconnect:
        with pytest.raises(NotSupported):
            await bridge.end_conference(ref)
        await harness.remote_leave(ref, participant_id)
        await eventually(lambda: bool(events_for(harness, "leave", participant_id)), "a leave")
        await bridge.end_conference(ref)  # nobody left in it: ending is fine
    else:
        await bridge.end_conference(ref)
        await eventually(lambda: bool(events_for(harness, "leave", participant_id)), "a leave")
    with contextlib.suppress(ConferenceNotFound):
        assert await bridge.participants(ref) == []
    await bridge.end_conference(ref)  # ending twice is not an error


async def test_unknown_conference_is_not_found_or_empty(bridge: Bridge) -> None:
    ghost = ConferenceRef(bridge=bridge.name, conference_id=f"ghost-{uuid.uuid4().hex[:8]}")
    with contextlib.suppress(ConferenceNotFound):
        assert await bridge.participants(ghost) == []


async def test_webrtc_join_url_follows_capabilities(harness: Harness, bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    target = harness.target("111", answers=True)
    expires = datetime.now(UTC) + timedelta(hours=2)
    if bridge.capabilities.webrtc_join:
        url = await bridge.webrtc_join_url(ref, target, expires)
        assert url.startswith(("https://", "http://"))
    else:
        with pytest.raises(NotSupported):
            await bridge.webrtc_join_url(ref, target, expires)


# -- faults -------------------------------------------------------------------------------


async def test_far_side_that_hangs_times_out_as_unavailable(
    harness: Harness, bridge: Bridge
) -> None:
    ref = await bridge.create_conference(spec())
    await harness.hang()
    # Bounded: every attempt has its timeout, and there are at most HARNESS_RETRIES repeats.
    bound = (HARNESS_RETRIES + 1) * HARNESS_TIMEOUT + 1.0
    started = time.monotonic()
    with pytest.raises(BridgeUnavailable):
        await bridge.participants(ref)
    assert time.monotonic() - started < bound
    started = time.monotonic()
    health = await bridge.health()
    assert not health.reachable
    assert time.monotonic() - started < bound
    await harness.heal()
    assert (await bridge.health()).reachable


async def test_malformed_answers_are_protocol_errors(harness: Harness, bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    if not await harness.garbage():
        pytest.skip("not applicable: this bridge has no wire format to break")
    with pytest.raises(BridgeProtocolError):
        await bridge.participants(ref)
    with pytest.raises(BridgeProtocolError):
        await bridge.create_conference(spec())
    health = await bridge.health()
    assert not health.reachable
    await harness.heal()
    assert (await bridge.health()).reachable


async def test_pushed_events_need_credentials_and_a_readable_body(
    harness: Harness, bridge: Bridge
) -> None:
    probe = harness.hook_request(b"", authentic=True)
    if probe is None:
        assert not bridge.capabilities.events_pushed or bridge.context.emit is not None
        return
    forged = harness.hook_request(b"", authentic=False)
    assert forged is not None
    assert bridge.authenticate_hook(probe)
    assert not bridge.authenticate_hook(forged)
    assert harness.malformed_push_bodies
    for body in harness.malformed_push_bodies:
        request = harness.hook_request(body, authentic=True)
        assert request is not None
        with pytest.raises(BridgeProtocolError):
            bridge.parse_events(request)


# -- dial-in and in-call control ----------------------------------------------------------


async def test_dial_in_follows_capabilities(bridge: Bridge) -> None:
    """A conference has a numeric ID (and maybe a PIN) a room system dials in with; the
    same key gives the same numbers (what the invitation told stays true)."""
    same = spec("dial-in")
    ref = await bridge.create_conference(same)
    if not bridge.capabilities.dial_in_id:
        with pytest.raises(NotSupported):
            await bridge.dial_in(ref)
        return
    dial_in = await bridge.dial_in(ref)
    assert dial_in.number.isdigit()
    assert dial_in.pin is None or dial_in.pin.isdigit()
    again = await bridge.dial_in(await bridge.create_conference(same))
    assert again == dial_in
    other = await bridge.dial_in(await bridge.create_conference(spec("other")))
    assert other.number != dial_in.number


async def test_layouts_follow_capabilities(harness: Harness, bridge: Bridge) -> None:
    """Layouts are named vendor-neutrally; each one declared can be chosen, others not
    (in a conference someone is in: some bridges run a conference only then)."""
    ref = await bridge.create_conference(spec())
    names = bridge.capabilities.layout_names
    assert set(names) <= set(LAYOUTS)
    if names:
        await joined(harness, bridge, ref, "121")
    for layout in names:
        await bridge.set_layout(ref, layout)
    for layout in set(LAYOUTS) - set(names) | {"cinema"}:
        with pytest.raises(NotSupported):
            await bridge.set_layout(ref, layout)


async def test_mute_all_follows_capabilities(harness: Harness, bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    if not bridge.capabilities.mute_all:
        with pytest.raises(NotSupported):
            await bridge.mute_all(ref, True)
        return
    participant_id = await joined(harness, bridge, ref, "120")
    await bridge.mute_all(ref, True)
    await bridge.mute_all(ref, True)  # twice is the same
    await bridge.mute_all(ref, False)
    still = await listed(bridge, ref, participant_id)
    assert still is not None
    assert still.connected  # muting everyone drops nobody


async def test_lock_follows_capabilities(harness: Harness, bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    if not bridge.capabilities.lock:
        with pytest.raises(NotSupported):
            await bridge.lock(ref, True)
        return
    participant_id = await joined(harness, bridge, ref, "121")
    await bridge.lock(ref, True)
    inside = await listed(bridge, ref, participant_id)
    assert inside is not None
    assert inside.connected  # those in stay in
    await bridge.lock(ref, False)


async def test_message_follows_capabilities(bridge: Bridge) -> None:
    ref = await bridge.create_conference(spec())
    if not bridge.capabilities.message:
        with pytest.raises(NotSupported):
            await bridge.show_message(ref, "Các điểm cầu chuẩn bị phát biểu", 20)
        return
    await bridge.show_message(ref, "Các điểm cầu chuẩn bị phát biểu", 20)
