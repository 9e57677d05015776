"""Which run and site a report belongs to, and how the site took part (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcorch.attendance.mapping import (
    ConferenceRef,
    Report,
    SiteRef,
    normalise_address,
    observations_of_run,
    reports_of_run,
)

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SITES = [
    SiteRef(11, 101, "leg-a", "sip:phonghop@a.example.vn", "sip", "connected", "mcu"),
    SiteRef(12, 102, "leg-b", "sip:phonghop@b.example.vn", "sip", "fallback", "mcu"),
    SiteRef(13, 103, None, "h323:10.0.0.7", "h323", "pending", "mcu"),
    SiteRef(14, 104, "777", "webrtc:phong-d", "webrtc", "connected", "mcu"),
]
CONFERENCES = [ConferenceRef("mcu", "conf", "host"), ConferenceRef("webrtc", "run-1", "fallback")]


def report(
    participant: str,
    kind: str = "join",
    *,
    conference: str = "conf",
    bridge: str = "mcu",
    minutes: int = 0,
    site: str | None = None,
    address: str | None = None,
) -> Report:
    return Report(
        key=f"{bridge}:{conference}:{participant}:{kind}:{minutes}",
        bridge=bridge,
        kind=kind,
        conference_id=conference,
        participant_id=participant,
        at=T0 + timedelta(minutes=minutes),
        source="pushed",
        site_id=site,
        address=address,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sip:PhongHop@A.example.vn", "phonghop@a.example.vn"),
        ("<sips:phonghop@a.example.vn;transport=tls>", "phonghop@a.example.vn"),
        ("phonghop@a.example.vn:5061", "phonghop@a.example.vn"),
        ("sip:phonghop@a.example.vn?subject=x", "phonghop@a.example.vn"),
        ("h323:10.0.0.7", "10.0.0.7"),
        ("", None),
        (None, None),
    ],
)
def test_addresses_compare_without_scheme_parameters_port_or_case(
    raw: str | None, expected: str | None
) -> None:
    assert normalise_address(raw) == expected


def sites_of(observations: list, participant_id: str) -> set[object]:
    return {o.site for o in observations if o.participant.endswith(f"|{participant_id}")}


def test_a_site_is_found_by_tag_then_participant_then_address() -> None:
    found = observations_of_run(
        [
            # Tagged with site 13 although its id is site 11's: the tag wins.
            report("leg-a", site="13"),
            report("leg-b"),
            report("x-1", address="<sip:PHONGHOP@a.example.vn>"),
            # The leave carries nothing: it follows its participant's join.
            report("x-1", "leave", minutes=5),
            report("stranger", address="sip:khach@example.vn"),
        ],
        CONFERENCES,
        SITES,
    )
    assert sites_of(found, "leg-a") == {103}
    assert sites_of(found, "leg-b") == {102}
    assert sites_of(found, "x-1") == {101}
    assert sites_of(found, "stranger") == {None}


def test_reports_without_a_conference_join_the_run_through_known_participants() -> None:
    mine = reports_of_run(
        [
            report("leg-a"),
            report("leg-a", "leave", conference="", minutes=30),
            report("leg-b", "leave", conference="", minutes=31),  # a site's participant
            report("someone-else", "leave", conference="", minutes=32),
            report("leg-a", conference="other-conf"),
            report("leg-a", "leave", conference="", bridge="elsewhere"),
        ],
        CONFERENCES,
        SITES,
    )
    assert [(r.participant_id, r.kind, r.conference_id) for r in mine] == [
        ("leg-a", "join", "conf"),
        ("leg-a", "leave", "conf"),
        ("leg-b", "leave", "conf"),
    ]


def test_how_each_site_took_part() -> None:
    found = observations_of_run(
        [
            report("leg-a"),
            # Site 12 fell back: its browser participant (tagged) is the WebRTC fallback...
            report("web-b", site="12"),
            # ...but its room system, recognised by address, is still the room system.
            report("leg-b2", address="sip:phonghop@b.example.vn"),
            # On the built-in bridge everything is the fallback.
            report("seat-1", conference="run-1", bridge="webrtc", site="11"),
            # A WebRTC room system is a room system.
            report("777"),
        ],
        CONFERENCES,
        SITES,
        builtin_bridges=frozenset({"webrtc"}),
    )
    channel = {o.participant.split("|")[-1]: (o.channel, o.source) for o in found}
    assert channel == {
        "leg-a": ("room_system", "pushed"),
        "web-b": ("browser", "pushed"),
        "leg-b2": ("room_system", "pushed"),
        "seat-1": ("browser", "builtin"),
        "777": ("room_system", "pushed"),
    }


def test_the_run_sites_channel_names_the_way_after_the_run_ended() -> None:
    # Ending a run disconnects every site; its channel says how each took part.
    sites = [
        SiteRef(
            11, 101, None, "sip:phonghop@a.example.vn", "sip", "disconnected", "janus", "browser"
        ),
        SiteRef(
            12, 102, "gw-b", "sip:phonghop@b.example.vn", "sip", "disconnected", "mcu", "gateway"
        ),
        SiteRef(
            13, 103, "in-c", "sip:phonghop@c.example.vn", "sip", "disconnected", "mcu", "dial_in"
        ),
        SiteRef(
            14,
            104,
            "leg-d",
            "sip:phonghop@d.example.vn",
            "sip",
            "disconnected",
            "mcu",
            "room_system",
        ),
    ]
    conferences = [
        ConferenceRef("janus", "room-1", "host"),
        ConferenceRef("mcu", "conf", "cascade"),
    ]
    found = observations_of_run(
        [
            report("web-a", bridge="janus", conference="room-1", site="11"),
            report("gw-b", address="sip:gateway@gw.example.vn"),
            report("in-c", address="sip:phonghop@c.example.vn"),
            report("untagged-c", address="sip:phonghop@c.example.vn"),
            report("leg-d", site="14"),
        ],
        conferences,
        sites,
    )
    channel = {o.participant.split("|")[-1]: o.channel for o in found}
    assert channel == {
        "web-a": "browser",
        "gw-b": "gateway",
        "in-c": "dial_in",
        "untagged-c": "dial_in",
        "leg-d": "room_system",
    }
