"""Which run and which site a bridge's report belongs to, and how the site took part. Pure.

Rules (the orchestrator dials a site with ``DialTarget.site_id = str(RunSite.id)`` and keeps
the bridge's participant id in ``RunSite.participant_id``):

- a report belongs to a run through the run's conferences ``(bridge, conference_id)``; a
  report that does not name its conference (``conference_id == ""``, e.g. a Cisco
  ``callLegEnd`` read by a process that did not see the call start) belongs to it when its
  participant is one of the run's sites' participants, or was seen in one of the run's
  conferences on that bridge;
- all reports of one participant (bridge, conference, participant id) belong to one site,
  found by the first rule that names one, over all its reports: the bridge's site tag
  (``site_id == str(RunSite.id)``), then the site's participant id, then the address of the
  site's endpoint;
- the way a site took part (the channels of :mod:`vcorch.orchestration.channels`):
  ``browser`` on the built-in WebRTC bridge (a conference of role ``fallback``); when the
  participant is not the site's room system (address not the endpoint's, endpoint not a
  WebRTC one) and the site had fallen back (state ``fallback``) or came by browser (its
  run site's ``channel`` ``browser`` or ``gateway``), that channel (``browser`` when it
  fell back only); ``dial_in`` for the room system found by its address or participant id
  when the run site says it called in; ``room_system`` otherwise.  The run site's channel
  outlives the run (its state does not: ending a run disconnects every site).  Manual
  entries say it themselves.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from vcorch.attendance.intervals import Channel, Observation, Source

FALLBACK_ROLE = "fallback"


@dataclass(frozen=True)
class SiteRef:
    """A run's site as mapping needs it."""

    run_site_id: int
    room_id: int
    participant_id: str | None
    endpoint_address: str | None
    endpoint_kind: str | None
    state: str
    bridge: str | None = None  # of the conference the site is placed on, when known
    channel: str | None = None  # the run site's: how it took part last


@dataclass(frozen=True)
class ConferenceRef:
    bridge: str
    conference_id: str
    role: str


@dataclass(frozen=True)
class Report:
    """A join or leave as stored: a pushed bridge event or a polled observation."""

    key: str
    bridge: str
    kind: str
    conference_id: str
    participant_id: str
    at: datetime
    source: Source
    site_id: str | None = None
    display_name: str | None = None
    address: str | None = None


_SCHEME = re.compile(r"^(sips?|h323|tel):", re.IGNORECASE)


def normalise_address(address: str | None) -> str | None:
    """``sip:Room@Host;transport=tls`` and ``<sip:room@host>`` compare equal to ``room@host``."""
    if not address:
        return None
    value = address.strip().strip("<>").strip()
    value = _SCHEME.sub("", value)
    value = value.split(";", 1)[0].split("?", 1)[0]
    if value.count(":") == 1 and "@" in value:
        # A port on the host part ("room@10.0.0.5:5060") does not make another endpoint.
        user_host, _, port = value.rpartition(":")
        if port.isdigit():
            value = user_host
    value = value.strip().casefold()
    return value or None


def participant_key(bridge: str, conference_id: str, participant_id: str) -> str:
    return f"{bridge}|{conference_id}|{participant_id}"


def reports_of_run(
    reports: Iterable[Report], conferences: Sequence[ConferenceRef], sites: Sequence[SiteRef]
) -> list[Report]:
    """The reports that belong to the run, with an unnamed conference resolved when the
    participant was seen in exactly one of the run's conferences on that bridge."""
    named = {(c.bridge, c.conference_id) for c in conferences}
    bridges = {c.bridge for c in conferences}
    listed = list(reports)
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for report in listed:
        if (report.bridge, report.conference_id) in named:
            seen[(report.bridge, report.participant_id)].add(report.conference_id)
    dialled = {site.participant_id for site in sites if site.participant_id}
    mine: list[Report] = []
    for report in listed:
        if (report.bridge, report.conference_id) in named:
            mine.append(report)
            continue
        if report.conference_id or report.bridge not in bridges:
            continue
        where = seen.get((report.bridge, report.participant_id))
        if not where and report.participant_id not in dialled:
            continue
        if where and len(where) == 1:
            conference = next(iter(where))
        else:
            on_bridge = sorted(c.conference_id for c in conferences if c.bridge == report.bridge)
            conference = on_bridge[0] if len(on_bridge) == 1 else ""
        mine.append(_with_conference(report, conference))
    return mine


def _with_conference(report: Report, conference_id: str) -> Report:
    return Report(
        key=report.key,
        bridge=report.bridge,
        kind=report.kind,
        conference_id=conference_id,
        participant_id=report.participant_id,
        at=report.at,
        source=report.source,
        site_id=report.site_id,
        display_name=report.display_name,
        address=report.address,
    )


@dataclass(frozen=True)
class Matched:
    site: SiteRef | None
    how: str  # "tag" | "participant" | "address" | ""


def match_site(reports: Sequence[Report], sites: Sequence[SiteRef]) -> Matched:
    """The site of one participant, from all its reports (see the module's rules)."""
    by_tag = {str(site.run_site_id): site for site in sites}
    for report in sorted(reports, key=lambda r: (r.at, r.key)):
        if report.site_id and report.site_id in by_tag:
            return Matched(by_tag[report.site_id], "tag")
    ids = {r.participant_id for r in reports}
    bridges = {r.bridge for r in reports}
    for site in sorted(sites, key=lambda s: s.run_site_id):
        if (
            site.participant_id
            and site.participant_id in ids
            and (site.bridge is None or site.bridge in bridges)
        ):
            return Matched(site, "participant")
    addresses = {normalise_address(r.address) for r in reports} - {None}
    if addresses:
        for site in sorted(sites, key=lambda s: s.run_site_id):
            if normalise_address(site.endpoint_address) in addresses:
                return Matched(site, "address")
    return Matched(None, "")


def channel_of(
    matched: Matched, reports: Sequence[Report], conference_role: str, builtin_bridge: bool
) -> Channel:
    if builtin_bridge or conference_role == FALLBACK_ROLE:
        return "browser"
    site = matched.site
    if site is None:
        return "room_system"
    if site.channel == "dial_in" and matched.how in ("address", "participant"):
        return "dial_in"
    if matched.how == "address":
        return "room_system"
    by_browser = site.channel in ("browser", "gateway")
    if (site.state == "fallback" or by_browser) and site.endpoint_kind != "webrtc":
        addresses = {normalise_address(r.address) for r in reports} - {None}
        if normalise_address(site.endpoint_address) not in addresses:
            return "gateway" if site.channel == "gateway" else "browser"
    return "room_system"


def observations_of_run(
    reports: Iterable[Report],
    conferences: Sequence[ConferenceRef],
    sites: Sequence[SiteRef],
    *,
    builtin_bridges: frozenset[str] = frozenset(),
) -> list[Observation]:
    """The run's reports as observations, each with its site (a room id) and channel."""
    roles = {(c.bridge, c.conference_id): c.role for c in conferences}
    grouped: dict[str, list[Report]] = defaultdict(list)
    for report in reports_of_run(reports, conferences, sites):
        if report.kind not in ("join", "leave"):
            continue
        grouped[participant_key(report.bridge, report.conference_id, report.participant_id)].append(
            report
        )
    observations: list[Observation] = []
    for key, group in grouped.items():
        first = group[0]
        matched = match_site(group, sites)
        channel = channel_of(
            matched,
            group,
            roles.get((first.bridge, first.conference_id), "host"),
            first.bridge in builtin_bridges,
        )
        source_override: Source | None = "builtin" if first.bridge in builtin_bridges else None
        for report in group:
            observations.append(
                Observation(
                    key=report.key,
                    kind="join" if report.kind == "join" else "leave",
                    participant=key,
                    at=report.at,
                    source=source_override
                    if source_override and report.source == "pushed"
                    else report.source,
                    channel=channel,
                    site=matched.site.room_id if matched.site else None,
                    display_name=report.display_name,
                )
            )
    return observations
