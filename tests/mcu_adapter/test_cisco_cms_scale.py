"""Cisco Meeting Server at scale: list calls within a budget, busy is not down, consistent
listings, and the site tag (ownerId) the server echoes in its records."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.emulators.cisco_cms import CmsEmulator
from tests.emulators.hook_receiver import HookReceiver
from tests.waiting import eventually
from vcorch.config import BridgeConfig
from vcorch.mcu_adapter.base import (
    BridgeBusy,
    BridgeContext,
    BridgeError,
    BridgeUnavailable,
    ConferenceRef,
    ConferenceSpec,
    DialTarget,
    ListingUnreliable,
)
from vcorch.mcu_adapter.cisco_cms import CiscoCmsBridge
from vcorch.mcu_adapter.cisco_cms.adapter import owner_id_of_site, site_of_owner_id
from vcorch.mcu_adapter.cisco_cms.client import CmsClient, CmsSettings
from vcorch.mcu_adapter.retry import RetryPolicy

from .test_cisco_cms import NOW


class Maker:
    def __init__(self, http: aiohttp.ClientSession, tmp_path: Path) -> None:
        self.http = http
        self.tmp_path = tmp_path

    def bridge(self, url: str, **options: object) -> CiscoCmsBridge:
        secret = self.tmp_path / "password"
        secret.write_text("apipass", encoding="utf-8")
        hook = self.tmp_path / "hook"
        hook.write_text("cdr-secret", encoding="utf-8")
        config = BridgeConfig.model_validate(
            {
                "name": "cms",
                "type": "cisco_cms",
                "url": url,
                "username": "apiuser",
                "password_file": secret,
                "ports": 1000,
                "timeout_seconds": 1.0,
                "retries": 2,
                "options": {
                    "retry_base_delay": 0.005,
                    "retry_max_delay": 0.02,
                    "hook_secret_file": str(hook),
                    **options,
                },
            }
        )
        return CiscoCmsBridge(config, BridgeContext(http=self.http, clock=lambda: NOW))


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Maker]:
    async with aiohttp.ClientSession() as http:
        yield Maker(http, tmp_path)


@pytest.fixture
async def emulator() -> AsyncIterator[CmsEmulator]:
    emulated = CmsEmulator(ring_delay=0.01, ring_timeout=0.1, page_size=10)
    await emulated.start()
    yield emulated
    await emulated.stop()


def site(number: int) -> DialTarget:
    return DialTarget(
        site_id=str(number),
        kind="sip",
        address=f"sip:room{number}@laocai.example.vn",
        display_name=f"Phòng họp xã {number}",
    )


async def launch(bridge: CiscoCmsBridge, emulator: CmsEmulator, sites: int) -> ConferenceRef:
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=sites))
    for number in range(sites):
        await bridge.dial_out(ref, site(number))

    def all_connected() -> bool:
        legs = emulator.calls[ref.conference_id].legs.values()
        return len(legs) == sites and all(leg.state == "connected" for leg in legs)

    await eventually(all_connected, what="every leg connected on the emulator")
    return ref


def detail_looks(emulator: CmsEmulator) -> int:
    return sum(1 for method, path in emulator.requests if path.startswith("/api/v1/callLegs/"))


# -- listing cost --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("legs", "pages"),
    [(0, 1), (1, 1), (10, 1), (11, 2), (19, 2), (20, 3), (25, 3), (700, 78)],
)
async def test_listing_cost_is_the_number_of_overlapping_pages(
    make: Maker, legs: int, pages: int
) -> None:
    bridge = make.bridge("http://127.0.0.1:9")
    assert bridge.listing_cost(legs) == pages


async def test_a_steady_poll_costs_its_pages_only(make: Maker, emulator: CmsEmulator) -> None:
    bridge = make.bridge(emulator.url)
    ref = await launch(bridge, emulator, 25)
    first = await bridge.participants(ref)  # nothing known yet: one look per leg
    assert all(p.connected for p in first) and len(first) == 25
    emulator.requests.clear()
    second = await bridge.participants(ref)
    assert {p.participant_id for p in second} == {p.participant_id for p in first}
    assert all(p.connected and p.site_id is not None for p in second)
    assert len(emulator.requests) == bridge.listing_cost(25) == 3
    assert detail_looks(emulator) == 0


async def test_cdrs_spare_even_the_first_looks(make: Maker, emulator: CmsEmulator) -> None:
    bridge = make.bridge(emulator.url)
    receiver = HookReceiver(bridge)
    await receiver.start()
    try:
        emulator.cdr_receivers["r"] = receiver.url + "/?token=cdr-secret"
        ref = await launch(bridge, emulator, 12)
        await emulator.drain_cdrs()
        emulator.requests.clear()
        listed = await bridge.participants(ref)
    finally:
        await receiver.stop()
    assert len(listed) == 12 and all(p.connected for p in listed)
    assert detail_looks(emulator) == 0
    assert sorted(int(p.site_id or -1) for p in listed) == list(range(12))


async def test_a_direct_look_is_one_request(make: Maker, emulator: CmsEmulator) -> None:
    bridge = make.bridge(emulator.url)
    ref = await launch(bridge, emulator, 3)
    leg_id = next(iter(emulator.calls[ref.conference_id].legs))
    emulator.requests.clear()
    found = await bridge.participant(ref, leg_id)
    assert found is not None and found.connected and found.site_id == "0"
    assert emulator.requests == [("GET", f"/api/v1/callLegs/{leg_id}")]
    emulator.remote_hangup(leg_id)
    assert await bridge.participant(ref, leg_id) is None


# -- consistent listings ------------------------------------------------------------------------


async def test_a_leg_leaving_between_pages_hides_no_connected_leg(
    make: Maker, emulator: CmsEmulator
) -> None:
    bridge = make.bridge(emulator.url)
    ref = await launch(bridge, emulator, 25)
    await bridge.participants(ref)
    leaving = next(iter(emulator.calls[ref.conference_id].legs))
    emulator.arm_paging_race(leaving)
    listed = await bridge.participants(ref)
    assert emulator.paging_races == 1
    still_there = set(emulator.calls[ref.conference_id].legs)
    # Read again once (the budget had room): the listing is the truth, nobody is missing.
    assert {p.participant_id for p in listed} == still_there
    assert len(still_there) == 24


async def test_a_shifted_listing_without_room_to_reread_is_unreliable(
    make: Maker, emulator: CmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = make.bridge(emulator.url)
    ref = await launch(bridge, emulator, 25)
    await bridge.participants(ref)
    monkeypatch.setattr(bridge.budget, "can_spend", lambda cost, within=0.0: False)
    emulator.arm_paging_race()
    with pytest.raises(ListingUnreliable):
        await bridge.participants(ref)


async def test_a_shifted_page_is_caught_even_when_the_total_stays(
    make: Maker, emulator: CmsEmulator
) -> None:
    # One leg leaves and another comes between the pages: same total, one leg skipped.
    bridge = make.bridge(emulator.url)
    ref = await launch(bridge, emulator, 25)
    client = CmsClient(
        CmsSettings(
            base_url=emulator.url,
            username="apiuser",
            password="apipass",
            bridge="cms",
            policy=RetryPolicy(timeout=1, retries=0),
        ),
        make.http,
    )
    first_page = await client._get_xml(
        f"/calls/{ref.conference_id}/callLegs", {"offset": "0", "limit": "100"}
    )
    assert len(first_page.findall("callLeg")) == 10
    await bridge.dial_out(ref, site(99))
    emulator.remote_hangup(next(iter(emulator.calls[ref.conference_id].legs)))
    # The pages the client reads from here are shifted by one against the first one.
    original = client._get_xml
    pages = iter([first_page])

    async def first_then_live(path: str, query: object = None, *, urgent: bool = True) -> object:
        try:
            return next(pages)
        except StopIteration:
            return await original(path, query, urgent=urgent)  # type: ignore[arg-type]

    client._get_xml = first_then_live  # type: ignore[assignment,method-assign]
    from vcorch.mcu_adapter.cisco_cms.client import CmsListingShifted

    with pytest.raises(CmsListingShifted, match="moved"):
        await client.call_legs_of_call(ref.conference_id)


# -- busy is not down --------------------------------------------------------------------------


async def test_half_the_calls_busy_connects_every_site(make: Maker, emulator: CmsEmulator) -> None:
    bridge = make.bridge(emulator.url, busy_retries=20)
    emulator.busy_fraction = 0.5
    ref = await launch(bridge, emulator, 20)

    async def everyone_listed() -> bool:
        try:
            listed = await bridge.participants(ref)
        except BridgeBusy:
            return False  # busy through every repeat: come back later, nothing is down
        return len(listed) == 20 and all(p.connected for p in listed)

    await eventually(everyone_listed, what="all 20 listed connected")
    assert emulator.busy_answers > 20
    assert emulator.active_legs() == 20  # no create was doubled by a repeat


async def test_the_budget_keeps_within_the_servers_own(make: Maker, emulator: CmsEmulator) -> None:
    emulator.budget_per_second = 40
    bridge = make.bridge(emulator.url, request_budget_per_second=40)
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=60))
    results = await asyncio.gather(
        *(bridge.dial_out(ref, site(number)) for number in range(60)), return_exceptions=True
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert emulator.active_legs() == 60
    # Paced by our own budget, the server's own is (almost) never overrun.
    assert emulator.busy_answers <= 3


async def test_an_unbudgeted_client_is_answered_busy_and_still_gets_through(
    make: Maker, emulator: CmsEmulator
) -> None:
    emulator.budget_per_second = 40
    bridge = make.bridge(emulator.url, request_budget_per_second=0, busy_retries=20)
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=60))
    results = await asyncio.gather(
        *(bridge.dial_out(ref, site(number)) for number in range(60)), return_exceptions=True
    )
    assert not [r for r in results if isinstance(r, BridgeUnavailable)]
    assert emulator.busy_answers > 0
    assert emulator.active_legs() == sum(1 for r in results if not isinstance(r, BridgeError))


@pytest.mark.parametrize("as_date", [False, True])
async def test_retry_after_from_the_server_holds_the_bridges_budget(
    make: Maker, emulator: CmsEmulator, as_date: bool
) -> None:
    bridge = make.bridge(emulator.url, busy_retries=0)
    emulator.busy_fraction = 1.0
    emulator.busy_retry_after = 2
    emulator.busy_retry_after_date = as_date
    with pytest.raises(BridgeBusy) as caught:
        await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=1))
    assert caught.value.retry_after is not None and 0.0 <= caught.value.retry_after <= 2.0
    if not as_date:
        assert caught.value.retry_after == 2.0
        assert bridge.budget.held_for() > 1.0


# -- the site tag -------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["1", "70012", "link-run-12", "Đà Lạt 9", "x" * 13])
def test_the_site_tag_survives_the_owner_id(tag: str) -> None:
    owner = owner_id_of_site(tag)
    assert owner is not None and len(owner) == 36
    assert site_of_owner_id(owner) == tag


@pytest.mark.parametrize(
    "owner",
    [None, "", "43dfe9c0-834f-42bd-aa1c-bbf5017706ba", "not a guid", "7663ff00-0000-0000-0000-0"],
)
def test_owner_ids_vcorch_did_not_set_name_no_site(owner: str | None) -> None:
    assert site_of_owner_id(owner) is None


def test_a_tag_too_long_for_an_owner_id_is_not_sent() -> None:
    assert owner_id_of_site("x" * 14) is None


async def test_cdrs_after_a_restart_map_to_their_sites(make: Maker, emulator: CmsEmulator) -> None:
    first = make.bridge(emulator.url)
    ref = await first.create_conference(ConferenceSpec(key="k", title="t", expected_sites=3))
    # vcorch restarts after dialling: a new adapter instance with nothing in memory
    # receives the CDRs (callLegStart/callLegUpdate carry the ownerId set when dialling).
    restarted = make.bridge(emulator.url)
    receiver = HookReceiver(restarted)
    await receiver.start()
    try:
        emulator.cdr_receivers["r"] = receiver.url + "/?token=cdr-secret"
        legs = {(await first.dial_out(ref, site(n))).participant_id: str(n) for n in range(3)}
        await eventually(
            lambda: len([e for e in receiver.events if e.kind == "join"]) == 3,
            what="three joins",
        )
        joins = [e for e in receiver.events if e.kind == "join"]
        assert {e.participant_id: e.site_id for e in joins} == legs
        # And the listing of the restarted adapter names the sites too.
        listed = await restarted.participants(ref)
        assert {p.participant_id: p.site_id for p in listed} == legs
        # The leave (callLegEnd names no owner) maps through what the start told.
        emulator.remote_hangup(next(iter(legs)))
        await eventually(lambda: any(e.kind == "leave" for e in receiver.events), what="leave")
        (leave,) = [e for e in receiver.events if e.kind == "leave"]
        assert leave.site_id == legs[leave.participant_id]
    finally:
        await receiver.stop()


async def test_the_leg_carries_its_owner_id_on_the_server(
    make: Maker, emulator: CmsEmulator
) -> None:
    bridge = make.bridge(emulator.url)
    ref = await bridge.create_conference(ConferenceSpec(key="k", title="t", expected_sites=1))
    placed = await bridge.dial_out(ref, site(42))
    leg = emulator.calls[ref.conference_id].legs[placed.participant_id]
    assert site_of_owner_id(leg.owner_id) == "42"


# -- the emulator's knobs (the launch benchmark relies on them) --------------------------------


async def statuses(emulator: CmsEmulator, count: int) -> list[tuple[int, str | None]]:
    auth = {"Authorization": "Basic " + base64.b64encode(b"apiuser:apipass").decode()}
    seen = []
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            async with http.get(emulator.url + "/api/v1/system/status", headers=auth) as answer:
                seen.append((answer.status, answer.headers.get("Retry-After")))
    return seen


async def test_the_emulator_enforces_its_request_budget() -> None:
    emulated = CmsEmulator(budget_per_second=5, busy_retry_after=1)
    await emulated.start()
    try:
        seen = await statuses(emulated, 12)
    finally:
        await emulated.stop()
    assert [status for status, _ in seen[:5]] == [200] * 5  # one second's burst
    assert (503, "1") in seen[5:]
    assert emulated.busy_answers == sum(1 for status, _ in seen if status == 503)


async def test_busy_answers_are_a_seeded_fraction() -> None:
    runs = []
    for _ in range(2):
        emulated = CmsEmulator(busy_fraction=0.5, seed=7)
        await emulated.start()
        try:
            runs.append([status for status, _ in await statuses(emulated, 30)])
        finally:
            await emulated.stop()
    assert runs[0] == runs[1]  # the same seed, the same answers
    assert 5 < runs[0].count(503) < 25
    assert all(status in (200, 503) for status in runs[0])


async def test_busy_answers_may_carry_retry_after_as_a_date() -> None:
    emulated = CmsEmulator(busy_fraction=1.0, busy_retry_after=3, busy_retry_after_date=True)
    await emulated.start()
    try:
        ((status, header),) = await statuses(emulated, 1)
    finally:
        await emulated.stop()
    assert status == 503 and header is not None and header.endswith("GMT")


async def test_the_emulator_answers_after_its_latency() -> None:
    emulated = CmsEmulator(latency=0.1)
    await emulated.start()
    try:
        started = asyncio.get_running_loop().time()
        await statuses(emulated, 2)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await emulated.stop()
    assert elapsed >= 0.2
