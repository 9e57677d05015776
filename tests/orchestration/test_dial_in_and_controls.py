"""Dial-in as the second path, and the meeting's in-call controls, end to end on the
simulated MCU: numbers in the live view and the invitation update, a site calling in is
its site (channel dial_in, counted in attendance), layouts, mute everyone, lock, message."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.api import Api, FakeClock
from tests.orchestration.conftest import UNREACHABLE, book, settle
from tests.world import World
from vcorch.access.models import AuditEntry
from vcorch.mail.models import OutboxMail
from vcorch.mcu_adapter import LAYOUTS, Participant
from vcorch.mcu_adapter.routes import REGISTRY
from vcorch.mcu_adapter.simulated import SimulatedBridge
from vcorch.mcu_adapter.simulated.mcu import SimConference, SimMcuError
from vcorch.orchestration import schemas
from vcorch.orchestration.policy import OrchestrationPolicy
from vcorch.orchestration.reconcile import reconcile
from vcorch.orchestration.snapshot import SiteView
from vcorch.web.keys import SESSIONS

HOST = "mcu-a"


def by_code(live: dict[str, Any], world: World) -> dict[str, dict[str, Any]]:
    names = {room_id: code for code, room_id in world.rooms.items()}
    return {names[s["room_id"]]: s for s in live["sites"]}


def simulated(app: Any) -> SimulatedBridge:
    bridge = app[REGISTRY][HOST]
    assert isinstance(bridge, SimulatedBridge)
    return bridge


def conference_of(app: Any) -> SimConference:
    return next(iter(simulated(app).mcu._conferences.values()))


async def launched(
    api: Api, world: World, clock: FakeClock, app: Any, **overrides: Any
) -> tuple[int, Api, dict[str, Any]]:
    meeting_id = await book(
        api, world, clock.now.replace(microsecond=0) + timedelta(minutes=2), **overrides
    )
    secretariat = api.as_(world.tokens["central_sec"])
    status, body = await secretariat.post(f"/api/meetings/{meeting_id}/start")
    assert status == 202, body
    await settle(app, clock)
    status, live = await secretariat.get(f"/api/meetings/{meeting_id}/live")
    assert status == 200, live
    return meeting_id, secretariat, live


async def test_a_site_that_cannot_be_called_dials_in_and_is_counted(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id, secretariat, live = await launched(
        api, world, clock, app, invited=[{"email": "vanphong@ubdt.gov.vn", "name": "Văn phòng"}]
    )
    # Điện Biên's room never answers vcorch's call: it fell back.
    assert by_code(live, world)["dien-bien"]["state"] == "fallback"
    # The live view tells how to call in: the hosting conference's number and PIN.
    conference = conference_of(app)
    dial_in = live["dial_in"]
    assert dial_in == {
        "bridge": HOST,
        "number": conference.number,
        "pin": conference.pin,
        "uri": None,
    }
    assert dial_in["number"].isdigit() and len(dial_in["pin"]) == 6
    host = next(b for b in live["bridges"] if b["role"] == "host")
    assert host["dial_in"] == dial_in

    # The invitation update carries them too (DESCRIPTION and LOCATION, Vietnamese).
    async with app[SESSIONS]() as session:
        mails = list(
            (
                await session.execute(
                    select(OutboxMail).where(OutboxMail.subject.startswith("Số gọi vào"))
                )
            ).scalars()
        )
    assert len(mails) == 1
    mail = mails[0]
    assert mail.method == "REQUEST" and mail.calendar is not None
    assert f"Số hội nghị: {dial_in['number']}" in mail.body
    assert f"Mã PIN: {dial_in['pin']}" in mail.body
    unfolded = mail.calendar.replace("\r\n ", "")
    location = next(line for line in unfolded.splitlines() if line.startswith("LOCATION:"))
    assert location.endswith(f"; Số hội nghị {dial_in['number']}\\, PIN {dial_in['pin']}")
    assert "Gọi vào hội nghị" in unfolded and f"Mã PIN: {dial_in['pin']}" in unfolded
    # Another step does not look again nor tell again.
    calls = simulated(app).mcu.api_calls
    await settle(app, clock)
    async with app[SESSIONS]() as session:
        again = (
            await session.execute(
                select(OutboxMail.id).where(OutboxMail.subject.startswith("Số gọi vào"))
            )
        ).all()
    assert len(again) == 1
    assert simulated(app).mcu.api_calls - calls <= 4  # listings only

    # A wrong PIN does not get in.
    mcu = simulated(app).mcu
    with pytest.raises(SimMcuError, match="wrong PIN"):
        await mcu.dial_in_call(dial_in["number"], "000000", UNREACHABLE)
    # The room system calls in itself, with the number and PIN.
    leg = await mcu.dial_in_call(dial_in["number"], dial_in["pin"], UNREACHABLE)
    await settle(app, clock)
    status, live = await secretariat.get(f"/api/meetings/{meeting_id}/live")
    dien_bien = by_code(live, world)["dien-bien"]
    assert (dien_bien["state"], dien_bien["channel"]) == ("connected", "dial_in")
    assert dien_bien["bridge"] == HOST  # on the hosting conference by its own call
    assert dien_bien["channel_label"] == "Gọi vào (thiết bị tự quay số)"
    attempts = dien_bien["attempts"]

    clock.advance(minutes=15)
    await mcu.hangup(leg)
    await settle(app, clock)
    status, live = await secretariat.get(f"/api/meetings/{meeting_id}/live")
    dien_bien = by_code(live, world)["dien-bien"]
    # Gone again: waiting for its people, not called (it could not be reached).
    assert dien_bien["state"] == "fallback" and dien_bien["attempts"] == attempts

    status, ended = await secretariat.post(f"/api/meetings/{meeting_id}/end")
    assert status == 200, ended
    status, report = await secretariat.get(f"/api/meetings/{meeting_id}/attendance")
    assert status == 200, report
    names = {room_id: code for code, room_id in world.rooms.items()}
    rows = {names[s["room_id"]]: s for s in report["sites"]}
    assert rows["dien-bien"]["took_part_via"] == "dial_in"
    assert list(rows["dien-bien"]["channels"]) == ["dial_in"]
    # In for 15 minutes, counted from the booked start (it called in before it).
    assert 12 * 60 <= rows["dien-bien"]["channels"]["dial_in"] <= 15 * 60
    assert rows["lao-cai"]["took_part_via"] == "room_system"


async def test_in_call_controls_over_http(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id, secretariat, live = await launched(api, world, clock, app)
    base = f"/api/meetings/{meeting_id}"
    host = next(b for b in live["bridges"] if b["role"] == "host")
    assert host["controls"] == {
        "layouts": list(LAYOUTS),
        "mute_all": True,
        "lock": True,
        "message": True,
        "layout": None,
        "locked": False,
        "all_muted": False,
    }
    conference = conference_of(app)

    # Who: the organiser's secretariat and admins; not the leadership, not a province's
    # operator (the meeting is the centre's).
    for user in ("leader", "laocai_op", "laocai_sec"):
        status, body = await api.as_(world.tokens[user]).post(f"{base}/layout", {"layout": "grid"})
        assert status == 403, (user, body)
    assert conference.layout == "automatic"

    status, body = await secretariat.post(f"{base}/layout", {"layout": "grid"})
    assert status == 200, body
    assert conference.layout == "grid"
    assert next(b for b in body["bridges"] if b["role"] == "host")["controls"]["layout"] == "grid"
    status, body = await secretariat.post(f"{base}/layout", {"layout": "cinema"})
    assert status == 422 and body["errors"][0]["field"] == "layout", body

    status, body = await api.as_(world.tokens["admin"]).post(f"{base}/mute-all", {"muted": True})
    assert status == 200, body
    assert conference.all_muted and all(leg.muted for leg in conference.legs.values())
    connected = [s for s in body["sites"] if s["state"] == "connected"]
    assert connected and all(s["muted"] for s in connected)
    status, body = await secretariat.post(f"{base}/mute-all", {"muted": False})
    assert status == 200 and not any(leg.muted for leg in conference.legs.values())

    status, body = await secretariat.post(f"{base}/lock", {"locked": True})
    assert status == 200 and conference.locked
    assert next(b for b in body["bridges"] if b["role"] == "host")["controls"]["locked"] is True
    # Locked: nobody new gets in by calling, those in stay.
    before = len(conference.legs)
    with pytest.raises(SimMcuError, match="locked"):
        await simulated(app).mcu.dial_in_call(conference.number, conference.pin, UNREACHABLE)
    assert len(conference.legs) == before
    status, body = await secretariat.post(f"{base}/lock", {"locked": False})
    assert status == 200 and not conference.locked

    text = "Đề nghị các điểm cầu tỉnh chuẩn bị báo cáo"
    status, body = await secretariat.post(f"{base}/message", {"text": text, "seconds": 45})
    assert status == 200, body
    assert (conference.message, conference.message_seconds) == (text, 45)
    status, body = await secretariat.post(f"{base}/message", {"text": "x" * 201})
    assert status == 422, body
    status, body = await secretariat.post(f"{base}/message", {"text": "ok", "seconds": 0})
    assert status == 422, body
    status, body = await secretariat.post(f"{base}/message", {"text": "hai\ndòng"})
    assert status == 422, body

    async with app[SESSIONS]() as session:
        actions = list(
            (
                await session.execute(
                    select(AuditEntry.action).where(AuditEntry.action.startswith("meeting."))
                )
            ).scalars()
        )
    for action in ("meeting.layout", "meeting.mute-all", "meeting.lock", "meeting.message"):
        assert action in actions
    # The message's text is the meeting's business; the audit keeps its length.
    async with app[SESSIONS]() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "meeting.message")
        )
    assert entry is not None and entry.after is not None
    assert text not in str(entry.after) and entry.after["chars"] == len(text)

    status, body = await secretariat.post(f"{base}/end")
    assert status == 200
    status, body = await secretariat.post(f"{base}/lock", {"locked": True})
    assert status == 409, body


async def test_a_bridge_that_cannot_is_not_asked_and_answers_409(
    app_client: Any, api: Api, world: World, clock: FakeClock
) -> None:
    app = app_client.server.app
    meeting_id, secretariat, _ = await launched(api, world, clock, app)
    bridge = simulated(app)
    bridge.capabilities = dataclasses.replace(
        bridge.capabilities, lock=False, message=False, layout_names=()
    )
    conference = conference_of(app)
    calls = bridge.mcu.api_calls
    base = f"/api/meetings/{meeting_id}"
    for path, body in (
        ("lock", {"locked": True}),
        ("message", {"text": "Xin chào"}),
        ("layout", {"layout": "grid"}),
    ):
        status, answer = await secretariat.post(f"{base}/{path}", body)
        assert status == 409, answer
        assert answer["type"] == "urn:vcorch:problem:control-not-supported", answer
        assert HOST in answer["detail"]
    assert bridge.mcu.api_calls == calls
    assert not conference.locked and conference.message is None
    status, live = await secretariat.get(f"{base}/live")
    controls = next(b for b in live["bridges"] if b["role"] == "host")["controls"]
    assert (controls["lock"], controls["message"], controls["layouts"]) == (False, False, [])


def _site(**values: Any) -> SiteView:
    base: dict[str, Any] = {
        "id": 7,
        "room_id": 3,
        "room_name": "Phòng họp",
        "unit_path": "/1/3/",
        "endpoint_kind": "sip",
        "address": "sip:phonghop@dien-bien.example.vn",
        "conference_row_id": 1,
        "participant_id": None,
        "state": "pending",
        "since": FakeClock().now,
        "attempts": 0,
        "dial_deadline": None,
        "last_error": None,
        "held": False,
        "operators_told": False,
    }
    base.update(values)
    return SiteView(**base)


def _leg(pid: str, **values: Any) -> Participant:
    base: dict[str, Any] = {
        "participant_id": pid,
        "display_name": "",
        "address": "phonghop@dien-bien.example.vn",
        "site_id": None,
        "connected": True,
        "muted": False,
        "joined_at": None,
        "incoming": True,
    }
    base.update(values)
    return Participant(**base)


def test_a_site_calling_in_while_being_called_is_connected_by_dial_in() -> None:
    now = FakeClock().now
    policy = OrchestrationPolicy()
    ringing = _leg("out-1", site_id="7", connected=False, incoming=False)
    cases: list[tuple[SiteView, list[Participant], str | None, object]] = [
        # Called in before vcorch called: connected by dial-in.
        (_site(), [_leg("in-1")], "dial_in", None),
        # Called in while vcorch's call rings: that call is hung up.
        (
            _site(state="dialling", participant_id="out-1"),
            [ringing, _leg("in-1")],
            "dial_in",
            "out-1",
        ),
        # An untagged call from its address that the bridge does not call incoming is
        # vcorch's own (placed before a restart): a room-system call, as before.
        (_site(), [_leg("out-2", incoming=None)], "room_system", None),
        # Another room calling in is not this site.
        (_site(), [_leg("in-2", address="khac@lao-cai.example.vn")], None, None),
    ]
    for site, listed, channel, dropped in cases:
        reading = reconcile(site, listed, now, policy)
        if channel is None:
            assert reading.change is None or reading.change.values.get("state") != "connected"
            continue
        assert reading.change is not None, (site, listed)
        assert reading.change.values["state"] == "connected"
        assert reading.change.values["channel"] == channel
        assert reading.change.values.get("_drop") == dropped


def test_layout_names_in_the_schema_are_the_contract_s() -> None:
    field = schemas.LayoutIn.model_fields["layout"]
    assert set(field.annotation.__args__) == set(LAYOUTS)  # type: ignore[union-attr]
