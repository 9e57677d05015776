"""Supervision decisions: what a listing means for a site, when a call failed, who wants a
call, when a meeting moves — pure functions of (state, listing, now, policy)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vcorch.mcu_adapter.base import (
    BridgeError,
    BridgeProtocolError,
    BridgeUnavailable,
    CapacityExceeded,
    DialFailed,
    NotSupported,
    Participant,
)
from vcorch.orchestration.policy import OrchestrationPolicy
from vcorch.orchestration.reconcile import (
    DIAL_REFUSALS,
    SiteChange,
    address_key,
    after_look,
    call_placed,
    call_refused,
    dial_gate,
    match,
    reconcile,
    refusal,
    wants_call,
)
from vcorch.orchestration.snapshot import SiteView

NOW = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=3)
POLICY = OrchestrationPolicy(
    dial_attempts=3,
    retry_base=timedelta(seconds=4),
    retry_max=timedelta(seconds=30),
    ring_timeout=timedelta(seconds=60),
    failover_after=3,
)


def no_jitter() -> float:
    return 0.0


def site(**values: Any) -> SiteView:
    base = SiteView(
        id=7,
        room_id=70,
        room_name="Phòng họp UBND tỉnh",
        unit_path="/1/10/",
        endpoint_kind="sip",
        address="sip:phonghop@lao-cai.example.vn",
        conference_row_id=1,
        participant_id=None,
        state="pending",
        since=EARLIER,
        attempts=0,
        dial_deadline=None,
        last_error=None,
        held=False,
        operators_told=False,
    )
    return replace(base, **values)


def leg(
    participant_id: str = "leg-1",
    *,
    tag: str | None = "7",
    address: str | None = None,
    connected: bool = True,
) -> Participant:
    return Participant(participant_id, "room", address, tag, connected, False, None)


def columns(change: SiteChange | None) -> dict[str, object] | None:
    return None if change is None else dict(change.values)


# -- address_key and match -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("sip:phonghop@lao-cai.example.vn", "phonghop@lao-cai.example.vn"),
        ("SIPS:PhongHop@Lao-Cai.example.vn", "phonghop@lao-cai.example.vn"),
        ("h323:10.0.0.5", "10.0.0.5"),
        ("sip:room@host;transport=tcp", "room@host"),
        ("  room@host  ", "room@host"),
    ],
)
def test_address_key(address: str, key: str) -> None:
    assert address_key(address) == key


@pytest.mark.parametrize(
    ("the_site", "listed", "found"),
    [
        pytest.param(site(), [leg("a", tag="7")], "a", id="by-tag"),
        pytest.param(site(), [leg("a", tag="8")], None, id="another-sites-tag"),
        pytest.param(
            site(participant_id="b"), [leg("a", tag="8"), leg("b", tag=None)], "b", id="by-leg"
        ),
        pytest.param(
            site(),
            [leg("c", tag=None, address="phonghop@lao-cai.example.vn;x=1")],
            "c",
            id="by-address-after-a-restart",
        ),
        pytest.param(
            site(),
            [leg("c", tag="8", address="phonghop@lao-cai.example.vn")],
            None,
            id="address-of-a-tagged-call-is-not-ours",
        ),
        pytest.param(site(address=None), [leg("c", tag=None, address="x@y")], None, id="none"),
        pytest.param(
            site(participant_id="b"),
            [leg("b", tag=None), leg("a", tag="7")],
            "a",
            id="tag-wins-over-leg",
        ),
    ],
)
def test_match(the_site: SiteView, listed: list[Participant], found: str | None) -> None:
    matched = match(the_site, listed)
    assert (matched.participant_id if matched else None) == found


# -- reconcile: what a listing says about one site -------------------------------------------

RING = NOW + POLICY.ring_timeout
CASES = [
    pytest.param(site(held=True), [leg()], False, None, None, id="held-site-is-left-alone"),
    pytest.param(
        site(state="fallback"),
        [leg()],
        False,
        None,
        None,
        id="fallback-tagged-leg-on-a-bridge-without-browsers-is-not-its-browser",
    ),
    pytest.param(site(state="failed"), [], False, None, None, id="settled-failed"),
    pytest.param(
        site(state="connected", participant_id="leg-1"),
        [leg()],
        True,
        None,
        None,
        id="connected-and-listed-no-change",
    ),
    pytest.param(
        site(state="dialling", participant_id="leg-1", attempts=1),
        [leg()],
        True,
        {
            "state": "connected",
            "channel": "room_system",
            "since": NOW,
            "participant_id": "leg-1",
            "last_error": None,
            "dial_deadline": None,
        },
        None,
        id="answered",
    ),
    pytest.param(
        site(),
        [leg(connected=False)],
        False,
        {"state": "dialling", "since": NOW, "participant_id": "leg-1", "dial_deadline": RING},
        None,
        id="pending-found-ringing-is-adopted",
    ),
    pytest.param(
        site(state="dialling", participant_id="leg-1", dial_deadline=NOW + timedelta(seconds=1)),
        [leg(connected=False)],
        False,
        None,
        None,
        id="still-ringing-in-time",
    ),
    pytest.param(
        site(state="dialling", participant_id="leg-1", dial_deadline=NOW, attempts=1),
        [leg(connected=False)],
        False,
        {
            "state": "dialling",
            "since": EARLIER,
            "participant_id": None,
            "dial_deadline": NOW + timedelta(seconds=2),
            "last_error": "no answer",
            "_drop": "leg-1",
        },
        None,
        id="rang-too-long-call-again-later",
    ),
    pytest.param(
        site(state="dialling", participant_id="leg-1", dial_deadline=NOW, attempts=3),
        [leg(connected=False)],
        False,
        {"participant_id": None, "_drop": "leg-1"},
        "no answer",
        id="rang-too-long-last-attempt-falls-back",
    ),
    pytest.param(
        site(state="connected", participant_id="leg-1", attempts=2),
        [],
        False,
        {
            "state": "dialling",
            "since": NOW,
            "participant_id": None,
            "attempts": 0,
            "dial_deadline": NOW,
            "last_error": "the call dropped",
        },
        None,
        id="dropped-call-is-called-again-at-once",
    ),
    pytest.param(
        site(state="dialling", participant_id="leg-1", attempts=1),
        [],
        False,
        {
            "state": "dialling",
            "since": EARLIER,
            "participant_id": None,
            "dial_deadline": NOW + timedelta(seconds=2),
            "last_error": "the call was not answered",
            "_drop": None,
        },
        None,
        id="placed-call-gone-unanswered",
    ),
    pytest.param(
        site(state="dialling", participant_id="leg-1", attempts=3),
        [],
        False,
        {"participant_id": None, "_drop": None},
        "the call was not answered",
        id="placed-call-gone-last-attempt",
    ),
    pytest.param(site(), [], False, None, None, id="pending-not-listed-waits-for-a-call"),
    pytest.param(
        site(state="dialling", participant_id=None, attempts=1),
        [],
        False,
        None,
        None,
        id="waiting-to-be-called-again",
    ),
]


@pytest.mark.parametrize(("the_site", "listed", "connected", "values", "fallback"), CASES)
def test_reconcile(
    the_site: SiteView,
    listed: list[Participant],
    connected: bool,
    values: dict[str, object] | None,
    fallback: str | None,
) -> None:
    reading = reconcile(the_site, listed, NOW, POLICY, no_jitter)
    assert reading.connected is connected
    assert columns(reading.change) == values
    assert (reading.change.fallback_reason if reading.change else None) == fallback


# -- presence: a fallen-back site's people, by browser or calling in ---------------------------

ROOM = "sip:phonghop@lao-cai.example.vn"
ARRIVED = {"state": "connected", "since": NOW, "last_error": None, "dial_deadline": None}
PRESENCE = [
    pytest.param(
        site(state="fallback"),
        [leg("web-1")],
        True,
        True,
        {**ARRIVED, "channel": "browser", "participant_id": None},
        id="browser-in-the-builtin-conference-connects-the-site",
    ),
    pytest.param(
        site(state="fallback"),
        [leg("web-1", connected=False)],
        True,
        False,
        None,
        id="browser-still-negotiating-is-not-there-yet",
    ),
    pytest.param(
        site(state="fallback"),
        [leg("web-1", tag="8")],
        True,
        False,
        None,
        id="another-sites-browser",
    ),
    pytest.param(
        site(state="connected", channel="browser"),
        [leg("web-1")],
        True,
        True,
        None,
        id="browser-still-there",
    ),
    pytest.param(
        site(state="connected", channel="browser"),
        [],
        True,
        False,
        {
            "state": "fallback",
            "since": NOW,
            "participant_id": None,
            "last_error": "the browser left",
        },
        id="browser-left-back-to-fallback-not-redialled",
    ),
    pytest.param(
        site(state="fallback"),
        [leg("in-1", tag=None, address=ROOM)],
        False,
        True,
        {**ARRIVED, "channel": "dial_in", "participant_id": "in-1"},
        id="room-called-in-itself-is-dial-in",
    ),
    pytest.param(
        site(state="connected", channel="dial_in", participant_id="in-1"),
        [leg("in-1", tag=None, address=ROOM)],
        False,
        True,
        None,
        id="dial-in-still-there",
    ),
    pytest.param(
        site(state="connected", channel="dial_in", participant_id="in-1"),
        [],
        False,
        False,
        {"state": "fallback", "since": NOW, "participant_id": None, "last_error": "the call ended"},
        id="dial-in-hung-up-back-to-fallback",
    ),
    pytest.param(
        site(state="fallback"),
        [leg("leg-1", address=ROOM)],
        True,
        True,
        {**ARRIVED, "channel": "room_system", "participant_id": "leg-1"},
        id="its-own-call-answered-late-is-the-room-system",
    ),
    pytest.param(
        site(state="fallback"),
        [leg("gw-1", tag="7", address="sip:gw@gateway")],
        False,
        False,
        None,
        id="tagged-leg-on-an-mcu-is-left-to-the-gateway-events",
    ),
]


@pytest.mark.parametrize(("the_site", "listed", "browsers", "connected", "values"), PRESENCE)
def test_presence(
    the_site: SiteView,
    listed: list[Participant],
    browsers: bool,
    connected: bool,
    values: dict[str, object] | None,
) -> None:
    reading = reconcile(the_site, listed, NOW, POLICY, no_jitter, takes_browsers=browsers)
    assert reading.connected is connected
    assert columns(reading.change) == values
    assert not wants_call(the_site, reading.change, NOW)


@pytest.mark.parametrize(
    ("state", "listed", "connected"),
    [
        pytest.param("connected", [], True, id="connected-by-gateway-not-dropped-by-a-listing"),
        pytest.param("fallback", [leg("x")], False, id="gateway-left-not-adopted-by-a-listing"),
    ],
)
def test_gateway_sites_follow_the_gateway_events(
    state: str, listed: list[Participant], connected: bool
) -> None:
    reading = reconcile(site(state=state, channel="gateway"), listed, NOW, POLICY, no_jitter)
    assert (reading.connected, reading.change) == (connected, None)


def test_retry_waits_double_up_to_the_cap_with_jitter() -> None:
    delays = [POLICY.retry_delay(attempts, no_jitter) for attempts in range(1, 7)]
    assert delays == [timedelta(seconds=s) for s in (2, 4, 8, 15, 15, 15)]
    assert POLICY.retry_delay(4, lambda: 1.0) == timedelta(seconds=30)


# -- wants_call: which site is called in this step -------------------------------------------


@pytest.mark.parametrize(
    ("the_site", "change", "wanted"),
    [
        pytest.param(site(), None, True, id="pending"),
        pytest.param(site(held=True), None, False, id="held"),
        pytest.param(site(state="fallback"), None, False, id="fallen-back"),
        pytest.param(site(state="disconnected"), None, False, id="disconnected"),
        pytest.param(site(state="connected", participant_id="a"), None, False, id="connected"),
        pytest.param(
            site(state="dialling", participant_id="a"), None, False, id="ringing-not-again"
        ),
        pytest.param(site(state="dialling"), None, True, id="dialling-no-deadline"),
        pytest.param(site(state="dialling", dial_deadline=NOW), None, True, id="deadline-now"),
        pytest.param(
            site(state="dialling", dial_deadline=NOW + timedelta(seconds=1)),
            None,
            False,
            id="deadline-ahead",
        ),
        pytest.param(
            site(state="connected", participant_id="a"),
            SiteChange(site(), {"state": "dialling", "participant_id": None, "dial_deadline": NOW}),
            True,
            id="dropped-now-called-at-once",
        ),
        pytest.param(
            site(state="dialling", participant_id="a"),
            SiteChange(site(), {"participant_id": None}, fallback_reason="no answer"),
            False,
            id="falling-back-is-not-called",
        ),
        pytest.param(
            site(),
            SiteChange(site(), {"state": "dialling", "participant_id": "a"}),
            False,
            id="adopted-ringing-call",
        ),
    ],
)
def test_wants_call(the_site: SiteView, change: SiteChange | None, wanted: bool) -> None:
    assert wants_call(the_site, change, NOW) is wanted


# -- after a dial-out ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_site", "since"),
    [
        pytest.param(site(), NOW, id="first-call"),
        pytest.param(site(state="dialling", attempts=1), EARLIER, id="again-keeps-since"),
    ],
)
def test_call_placed(the_site: SiteView, since: datetime) -> None:
    change = call_placed(the_site, "leg-9", NOW, POLICY)
    assert change.values == {
        "state": "dialling",
        "since": since,
        "participant_id": "leg-9",
        "attempts": the_site.attempts + 1,
        "dial_deadline": RING,
    }
    assert change.fallback_reason is None


@pytest.mark.parametrize(
    ("err", "result", "fatal", "bridge_down"),
    [
        (NotSupported("mcu", "no H.323"), "not_supported", True, False),
        (CapacityExceeded("mcu", "full"), "capacity", True, False),
        (DialFailed("mcu", "busy here"), "failed", False, False),
        (BridgeUnavailable("mcu", "timeout"), "bridge_unavailable", False, True),
        (BridgeProtocolError("mcu", "bad XML"), "bridge_unavailable", False, True),
    ],
)
def test_refusal(err: BridgeError, result: str, fatal: bool, bridge_down: bool) -> None:
    assert isinstance(err, DIAL_REFUSALS)
    refused = refusal(err)
    assert (refused.result, refused.fatal, refused.bridge_down) == (result, fatal, bridge_down)


@pytest.mark.parametrize(
    ("attempts", "fatal", "values", "fallback"),
    [
        pytest.param(
            0,
            False,
            {
                "state": "dialling",
                "since": NOW,
                "participant_id": None,
                "attempts": 1,
                "dial_deadline": NOW + timedelta(seconds=2),
                "last_error": "busy",
            },
            None,
            id="first-refusal-waits",
        ),
        pytest.param(
            1,
            False,
            {
                "state": "dialling",
                "since": NOW,
                "participant_id": None,
                "attempts": 2,
                "dial_deadline": NOW + timedelta(seconds=4),
                "last_error": "busy",
            },
            None,
            id="second-refusal-waits-longer",
        ),
        pytest.param(2, False, {"attempts": 3}, "busy", id="last-attempt-falls-back"),
        pytest.param(0, True, {"attempts": 1}, "busy", id="fatal-falls-back-at-once"),
    ],
)
def test_call_refused(
    attempts: int, fatal: bool, values: dict[str, object], fallback: str | None
) -> None:
    change = call_refused(site(attempts=attempts), "busy", fatal, NOW, POLICY, no_jitter)
    assert change.values == values
    assert change.fallback_reason == fallback


# -- when a meeting moves, how many calls at once --------------------------------------------


@pytest.mark.parametrize(
    ("known", "answered", "failed_looks", "look"),
    [
        pytest.param(True, True, 0, "reconcile", id="answers"),
        pytest.param(True, False, 1, "wait", id="first-failure"),
        pytest.param(True, False, 2, "wait", id="second-failure"),
        pytest.param(True, False, 3, "fail_over", id="third-failure-moves"),
        pytest.param(True, False, 9, "fail_over", id="long-down"),
        pytest.param(False, False, 0, "fail_over", id="bridge-no-longer-configured"),
        pytest.param(True, False, 0, "wait", id="conference-re-created"),
    ],
)
def test_after_look(known: bool, answered: bool, failed_looks: int, look: str) -> None:
    assert after_look(known, answered, failed_looks, POLICY) == look


@pytest.mark.parametrize(("limit", "gate"), [(0, 8), (-1, 8), (3, 3), (8, 8), (20, 8)])
def test_dial_gate(limit: int, gate: int) -> None:
    assert dial_gate(limit, OrchestrationPolicy(dial_concurrency=8)) == gate
