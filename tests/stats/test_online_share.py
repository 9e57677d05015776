"""The online share computed from a calendar built here, every figure worked out by hand.

The calendar (Hà Nội time; units: central, the provinces Lào Cai and Điện Biên, the commune
Bắc Hà under Lào Cai).  The clock stands at 20 March 2026, 10:00.

| | day | organiser | kind | mode | what happened | held | declared | verified |
|---|---|---|---|---|---|---|---|---|
| A | 10 Jan | central | meeting | in person | | 1 | | |
| B | 12 Jan | Lào Cai | conference | online | Lào Cai and Bắc Hà connected together | 1 | 1 | 1 |
| C | 14 Jan | Điện Biên | workshop | hybrid | Điện Biên 9:00-9:30, central 9:10-10:00 | 1 | 1 | 1 |
| D | 16 Jan | central | training | online | only central connected | 1 | 1 | |
| E | 18 Jan | central | meeting | online | start missed | | | |
| F | 20 Jan | Lào Cai | meeting | online | cancelled beforehand | | | |
| G | 22 Jan | Bắc Hà | conference | online | Lào Cai 9:00-9:20, Bắc Hà 9:30-10:00 | 1 | 1 | |
| H | Mondays of Feb | Điện Biên | training | in person | 4 weeks, 9 Feb cancelled | 3 | | |
| I | 25 Feb | Điện Biên | meeting | online | recorded 20 Mar; a CMS's records linked | 1 | 1 | 1 |
| J | 26 Feb | central | workshop | online | recorded 20 Mar; no record anywhere | 1 | 1 | |
| K | 10 Mar | Lào Cai | meeting | online | Lào Cai and Điện Biên connected | 1 | 1 | 1 |
| L | 25 Mar | central | meeting | online | still ahead (booked) | | | |
| M | 15 Apr | Bắc Hà | training | in person | still ahead (booked) | | | |

G had two sites, but never at the same moment: verification asks for two at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api import Api
from tests.stats.conftest import Calendar, local
from tests.world import World
from vcorch.stats.routes import STATS

NOW = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
Q1 = "from=2026-01-01&to=2026-03-31"
FIGURES = ("held", "declared_online", "verified_online")


async def build(calendar: Calendar) -> None:
    book = calendar.book
    await book("A", day="2026-01-10", mode="in_person", sites=("central", "lao-cai"))
    await book(
        "B",
        day="2026-01-12",
        mode="online",
        kind="conference",
        organizer="lao-cai",
        sites=("lao-cai", "lao-cai.bac-ha"),
    )
    await book(
        "C",
        day="2026-01-14",
        mode="hybrid",
        kind="workshop",
        organizer="dien-bien",
        sites=("dien-bien", "central"),
    )
    await book(
        "D",
        day="2026-01-16",
        mode="online",
        kind="training",
        sites=("central", "dien-bien"),
    )
    await book("E", day="2026-01-18", mode="online", sites=("central", "lao-cai"))
    await book(
        "F", day="2026-01-20", mode="online", organizer="lao-cai", sites=("lao-cai", "central")
    )
    await book(
        "G",
        day="2026-01-22",
        mode="online",
        kind="conference",
        organizer="lao-cai.bac-ha",
        sites=("lao-cai", "lao-cai.bac-ha"),
    )
    await book(
        "H",
        day="2026-02-02",
        mode="in_person",
        kind="training",
        organizer="dien-bien",
        sites=("dien-bien",),
        rrule="FREQ=WEEKLY;COUNT=4",
    )
    await book(
        "K",
        day="2026-03-10",
        mode="online",
        organizer="lao-cai",
        sites=("lao-cai", "dien-bien"),
    )
    await book("L", day="2026-03-25", mode="online", sites=("central", "lao-cai"))
    await book(
        "M",
        day="2026-04-15",
        mode="in_person",
        kind="training",
        organizer="lao-cai.bac-ha",
        sites=("lao-cai.bac-ha",),
    )
    await calendar.cancel("F")
    await calendar.cancel_occurrence("H", local("2026-02-09", 9))

    # What happened, as the orchestrator and the bridges stored it.
    start, end = local("2026-01-12", 9), local("2026-01-12", 10)
    await calendar.ran(
        "B",
        start,
        end,
        {"lao-cai": [(start, end)], "lao-cai.bac-ha": [(start + timedelta(minutes=5), end)]},
        invited=("lao-cai", "lao-cai.bac-ha"),
    )
    start, end = local("2026-01-14", 9), local("2026-01-14", 10)
    await calendar.ran(
        "C",
        start,
        end,
        {
            "dien-bien": [(start, local("2026-01-14", 9, 30))],
            "central": [(local("2026-01-14", 9, 10), end)],
        },
        invited=("dien-bien", "central"),
    )
    start, end = local("2026-01-16", 9), local("2026-01-16", 10)
    await calendar.ran(
        "D", start, end, {"central": [(start, end)]}, invited=("central", "dien-bien")
    )
    start, end = local("2026-01-18", 9), local("2026-01-18", 10)
    await calendar.ran("E", start, end, {}, invited=("central", "lao-cai"), status="missed")
    start, end = local("2026-01-22", 9), local("2026-01-22", 10)
    await calendar.ran(
        "G",
        start,
        end,
        {
            "lao-cai": [(start, local("2026-01-22", 9, 20))],
            "lao-cai.bac-ha": [(local("2026-01-22", 9, 30), end)],
        },
        invited=("lao-cai", "lao-cai.bac-ha"),
    )
    start, end = local("2026-03-10", 9), local("2026-03-10", 10)
    await calendar.ran(
        "K",
        start,
        end,
        {"lao-cai": [(start, end)], "dien-bien": [(start, end)]},
        invited=("lao-cai", "dien-bien"),
    )

    # 20 March: two meetings of February recorded after the fact.
    calendar.clock.now = NOW
    await book(
        "I",
        day="2026-02-25",
        mode="online",
        organizer="dien-bien",
        sites=("dien-bien", "central"),
    )
    await book(
        "J",
        day="2026-02-26",
        mode="online",
        kind="workshop",
        sites=("central", "lao-cai"),
    )
    start, end = local("2026-02-25", 9), local("2026-02-25", 10)
    await calendar.bridge_records(
        "cms-1",
        "cospace-77",
        {"dien-bien": [(start, end)], "central": [(start + timedelta(minutes=2), end)]},
    )
    status, link = await calendar.api.as_(await calendar.token("dienbien_sec")).post(
        f"/api/meetings/{calendar.ids['I']}/conference-links",
        {"bridge": "cms-1", "conference_id": "cospace-77"},
    )
    assert status == 201, link


@pytest.fixture
async def built(calendar: Calendar) -> Calendar:
    await build(calendar)
    await calendar.app[STATS].refresher.refresh()
    return calendar


def numbers(item: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(item[name] for name in (names or FIGURES))


def by_key(body: dict[str, Any]) -> dict[Any, tuple[Any, ...]]:
    return {group["key"]: numbers(group) for group in body["groups"]}


async def report(calendar: Calendar, query: str, who: str = "leader") -> dict[str, Any]:
    status, body = await calendar.api.as_(await calendar.token(who)).get(
        f"/api/stats/online-share?{query}"
    )
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def test_every_figure_of_the_quarter_by_month(built: Calendar) -> None:
    body = await report(built, f"{Q1}&group_by=month")
    assert body["target"] == 0.3
    assert body["from"] == "2026-01-01" and body["to"] == "2026-03-31"
    # Jan: A B C D G held (E missed, F cancelled); B C verified.  Feb: H three times, I, J;
    # I verified.  Mar: K verified; L still ahead.
    assert by_key(body) == {"2026-01": (5, 4, 2), "2026-02": (5, 2, 1), "2026-03": (1, 1, 1)}
    january, february, march = body["groups"]
    assert january["label"] == "Tháng 1/2026"
    assert numbers(january, "share", "share_declared", "met", "gap") == (0.4, 0.8, True, -0.1)
    # 1 of 5: 0.2 < 0.3; one more verified online meeting makes 2/6 >= 0.3.
    assert numbers(february, "share", "share_declared", "met", "gap", "online_needed") == (
        0.2,
        0.4,
        False,
        0.1,
        1,
    )
    assert numbers(march, "share", "booked", "booked_online") == (1.0, 1, 1)
    total = body["total"]
    assert numbers(total) == (11, 7, 4)
    assert numbers(total, "share", "share_declared", "met", "online_needed") == (
        round(4 / 11, 4),
        round(7 / 11, 4),
        True,
        0,
    )
    assert total["verification_pending"] == 0
    # Sites that took part / sites invited over the judged online meetings:
    # B 2/2, C 2/2, D 1/2, G 2/2, I 2/2, J 0/2, K 2/2 = 11/14.
    assert total["attendance_rate"] == round(11 / 14, 4)
    assert body["as_of"].startswith("2026-03-20T03:00:00")


async def test_the_quarter_by_province_kind_level_and_unit(built: Calendar) -> None:
    provinces = await report(built, f"{Q1}&group_by=province")
    # Central units: A, D, J.  Lào Cai (with Bắc Hà): B, G, K.  Điện Biên: C, H x3, I.
    assert by_key(provinces) == {
        "dien-bien": (5, 2, 2),
        "lao-cai": (3, 3, 2),
        None: (3, 2, 0),
    }
    labels = {group["key"]: group["label"] for group in provinces["groups"]}
    assert labels["lao-cai"] == "Tỉnh Lào Cai"

    kinds = await report(built, f"{Q1}&group_by=kind")
    # meeting: A, I, K; conference: B, G; workshop: C, J; training: D, H x3.
    assert by_key(kinds) == {
        "meeting": (3, 2, 2),
        "conference": (2, 2, 1),
        "workshop": (2, 2, 1),
        "training": (4, 1, 0),
    }
    levels = await report(built, f"{Q1}&group_by=level")
    # central: A, D, J; province: B, C, H x3, I, K; commune: G.
    assert by_key(levels) == {
        "central": (3, 2, 0),
        "province": (7, 4, 4),
        "commune": (1, 1, 0),
    }
    units = await report(built, f"{Q1}&group_by=unit")
    assert by_key(units) == {"central": (3, 2, 0), "dien-bien": (5, 2, 2), "lao-cai": (3, 3, 2)}
    quarters = await report(built, f"{Q1}&group_by=quarter")
    assert by_key(quarters) == {"2026-Q1": (11, 7, 4)}
    assert quarters["groups"][0]["label"] == "Quý I/2026"


async def test_drill_down_and_scope(built: Calendar, world: World) -> None:
    lao_cai = world.units["lao-cai"]
    drilled = await report(built, f"{Q1}&group_by=unit&unit={lao_cai}")
    # Lào Cai's own meetings B and K; its commune Bắc Hà's G.
    assert by_key(drilled) == {"lao-cai": (2, 2, 2), "lao-cai.bac-ha": (1, 1, 0)}
    assert numbers(drilled["total"]) == (3, 3, 2)
    assert drilled["unit"]["code"] == "lao-cai"

    # A provincial leader sees the province's subtree only, and not another province.
    own = await report(built, f"{Q1}&group_by=month", who="laocai_leader")
    assert numbers(own["total"]) == (3, 3, 2)
    assert own["unit"]["code"] == "lao-cai"
    api = built.api.as_(await built.token("laocai_leader"))
    status, body = await api.get(f"/api/stats/online-share?{Q1}&unit={world.units['dien-bien']}")
    assert status == 404, body
    assert body["errors"] == [{"field": "unit", "message": "no such unit"}]
    # The secretariat of Điện Biên: C, H x3, I.
    secretariat = await report(built, f"{Q1}&group_by=year", who="dienbien_sec")
    assert by_key(secretariat) == {"2026": (5, 2, 2)}
    # Operators do not read statistics.
    status, body = await built.api.as_(await built.token("laocai_op")).get(
        f"/api/stats/online-share?{Q1}"
    )
    assert status == 403
    assert body["type"].endswith("forbidden")


async def test_an_integration_client_reads_its_unit(built: Calendar, world: World) -> None:
    from tests.api import TEST_ACTOR
    from vcorch.auth.routes import AUTH

    client, secret = await built.app[AUTH].create_client(
        TEST_ACTOR, name="Cổng Lào Cai", unit_id=world.units["lao-cai"]
    )
    status, token = await built.api.call(
        "POST",
        "/api/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": secret,
        },
    )
    assert status == 200, token
    status, body = await built.api.as_(token["access_token"]).get(
        f"/api/stats/online-share?{Q1}&group_by=kind"
    )
    assert status == 200, body
    assert numbers(body["total"]) == (3, 3, 2)


async def test_the_current_year_and_its_projection(built: Calendar) -> None:
    body = await report(built, f"{Q1}&group_by=month")
    current = body["current_period"]
    assert (current["key"], current["label"], current["from"], current["to"]) == (
        "2026",
        "Năm 2026",
        "2026-01-01",
        "2026-12-31",
    )
    assert numbers(current["figures"]) == (11, 7, 4)
    # Still booked this year: L (online, 25 Mar) and M (in person, 15 Apr).
    assert numbers(current["figures"], "booked", "booked_online") == (2, 1)
    # L is taken to be verified at the year's rate so far, 4/7: 4 + 4/7 of 13.
    assert current["assumed_verification_rate"] == round(4 / 7, 4)
    assert current["projected_held"] == 13
    assert current["projected_declared_online"] == 8
    assert current["projected_verified_online"] == round(4 + 4 / 7, 2)
    assert current["projected_share"] == round((4 + 4 / 7) / 13, 4)
    assert current["projected_share_declared"] == round(8 / 13, 4)
    assert current["projected_met"] is True
    assert current["online_needed_by_end"] == 0
    # The default period is the current one.
    whole = await report(built, "group_by=quarter")
    assert (whole["from"], whole["to"]) == ("2026-01-01", "2026-12-31")
    assert by_key(whole) == {
        "2026-Q1": (11, 7, 4),
        "2026-Q2": (0, 0, 0),
        "2026-Q3": (0, 0, 0),
        "2026-Q4": (0, 0, 0),
    }
    assert numbers(whole["groups"][1], "booked") == (1,)


async def test_partial_months_and_time_passing_count_as_of_now(built: Calendar) -> None:
    # Cut inside months (from the occurrences) and whole months (from the summary) agree.
    body = await report(built, "from=2026-01-13&to=2026-02-25&group_by=month")
    # Jan 13 on: C, D, G (E missed).  Feb to the 25th: H x3, I.
    assert by_key(body) == {"2026-01": (3, 3, 1), "2026-02": (4, 1, 1)}
    # L ends on 25 March, 10:00: held from then on, before the next refresh as well.
    built.clock.now = local("2026-03-25", 10, 30)
    march = await report(built, "from=2026-03-01&to=2026-03-31&group_by=month")
    assert by_key(march) == {"2026-03": (2, 2, 1)}
    assert numbers(march["groups"][0], "booked", "verification_pending") == (0, 1)
    # Nothing connected on L's bridge: once judged it stays unverified.
    await built.app[STATS].refresher.refresh()
    march = await report(built, "from=2026-03-01&to=2026-03-31&group_by=month")
    assert by_key(march) == {"2026-03": (2, 2, 1)}
    assert march["groups"][0]["verification_pending"] == 0


async def test_a_change_to_the_register_counts_before_the_next_refresh(
    built: Calendar, world: World
) -> None:
    # Recording another in-person meeting of January: held at once (its month is dirty).
    await built.book("N", day="2026-01-28", mode="in_person", organizer="dien-bien")
    body = await report(built, f"{Q1}&group_by=month")
    assert by_key(body)["2026-01"] == (6, 4, 2)
    # The summary catches up; the figures stay.
    await built.app[STATS].refresher.refresh()
    body = await report(built, f"{Q1}&group_by=month")
    assert by_key(body)["2026-01"] == (6, 4, 2)
    # A series cancelled part-way keeps what it held before: cancelling H now changes nothing.
    await built.cancel("H")
    body = await report(built, f"{Q1}&group_by=month")
    assert by_key(body)["2026-02"] == (5, 2, 1)


async def test_records_arriving_late_change_the_verdict(built: Calendar) -> None:
    # D's second site reported late (a CDR batch): central and Điện Biên overlapped.
    from sqlalchemy import select

    from vcorch.mcu_adapter.base import BridgeEvent
    from vcorch.mcu_adapter.routes import EVENT_SINK
    from vcorch.orchestration.models import MeetingRun, RunConference, RunSite
    from vcorch.web.keys import SESSIONS

    meeting_id = built.ids["D"]
    async with built.app[SESSIONS]() as session:
        run = (
            await session.execute(select(MeetingRun).where(MeetingRun.meeting_id == meeting_id))
        ).scalar_one()
        conference = (
            await session.execute(select(RunConference).where(RunConference.run_id == run.id))
        ).scalar_one()
        site = (
            await session.execute(
                select(RunSite).where(
                    RunSite.run_id == run.id, RunSite.room_id == built.world.rooms["dien-bien"]
                )
            )
        ).scalar_one()
    start = local("2026-01-16", 9, 15)
    await built.app[EVENT_SINK](
        "mcu-a",
        [
            BridgeEvent(
                "join", conference.conference_id, "late-leg", start, "late-1", str(site.id)
            ),
            BridgeEvent(
                "leave",
                conference.conference_id,
                "late-leg",
                start + timedelta(minutes=30),
                "late-2",
                str(site.id),
            ),
        ],
    )
    result = await built.app[STATS].refresher.refresh()
    assert result.rejudge == 1 and result.judged == 1
    body = await report(built, f"{Q1}&group_by=month")
    assert by_key(body)["2026-01"] == (5, 4, 3)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-02-30&to=2026-03-01", "from"),
        ("from=20260101&to=2026-03-01", "from"),
        ("from=1767225600&to=2026-03-01", "from"),
        ("from=2026-03-01&to=2026-01-01", "from"),
        ("from=2000-01-01&to=2026-01-01", "to"),
        ("group_by=week", "group_by"),
        ("group_by=month&colour=red", "colour"),
        ("format=pdf", "format"),
        ("unit=abc", "unit"),
    ],
)
async def test_bad_queries_are_refused_with_a_problem(
    api: Api, world: World, query: str, field: str
) -> None:
    status, body = await api.as_(world.tokens["leader"]).get(f"/api/stats/online-share?{query}")
    assert status == 422, body
    assert body["status"] == 422
    assert any(problem["field"] == field for problem in body["errors"]), body


async def test_statistics_need_a_token(api: Api) -> None:
    status, body = await api.get("/api/stats/online-share")
    assert status == 401
    assert body["type"].endswith("invalid-token")


async def test_nothing_held_is_a_zero_share(api: Api, world: World) -> None:
    status, body = await api.as_(world.tokens["leader"]).get(
        "/api/stats/online-share?from=2025-01-01&to=2025-12-31&group_by=year"
    )
    assert status == 200, body
    assert numbers(body["total"], "held", "share", "met", "online_needed") == (0, 0.0, False, 0)


async def test_occurrences_the_scheduler_adds_to_open_series_are_counted(
    calendar: Calendar,
) -> None:
    from sqlalchemy import func, select

    from vcorch.booking.models import MeetingOccurrence
    from vcorch.booking.routes import BOOKING
    from vcorch.stats.models import StatsOccurrence
    from vcorch.web.keys import SESSIONS

    meeting_id = await calendar.book(
        "weekly", day="2026-01-07", mode="online", organizer="dien-bien", rrule="FREQ=WEEKLY"
    )

    async def counts() -> tuple[int, int]:
        async with calendar.app[SESSIONS]() as session:
            stored = await session.scalar(
                select(func.count()).where(MeetingOccurrence.meeting_id == meeting_id)
            )
            mine = await session.scalar(
                select(func.count()).where(StatsOccurrence.meeting_id == meeting_id)
            )
        return int(stored or 0), int(mine or 0)

    await calendar.app[STATS].refresher.refresh()
    stored, mine = await counts()
    assert stored == mine > 100  # two years of Wednesdays
    # As time passes the scheduler stores further occurrences, without a booking write.
    calendar.clock.advance(days=60)
    assert await calendar.app[BOOKING].roll_horizon(calendar.clock.now) == 1
    grown, mine = await counts()
    assert grown > stored and mine == stored
    result = await calendar.app[STATS].refresher.refresh()
    assert result.series == 1
    assert await counts() == (grown, grown)


async def test_a_taken_conference_is_refused_without_saying_whose_it_is(built: Calendar) -> None:
    from vcorch.orchestration.models import MeetingRun, RunConference
    from vcorch.web.keys import SESSIONS

    # A conference vcorch ran for another unit's meeting, and one another unit linked.
    async with built.app[SESSIONS].begin() as session:
        start = local("2026-01-15", 9)  # any key: only its conference matters here
        run = MeetingRun(
            meeting_id=built.ids["C"],
            occurrence_key=start,
            start_at=start,
            end_at=start + timedelta(hours=1),
            status="ended",
        )
        session.add(run)
        await session.flush()
        session.add(
            RunConference(
                run_id=run.id, bridge="cms-1", conference_id="cospace-88", conference_key="c"
            )
        )
    # Lào Cai's own meeting, which vcorch did not run.
    own = await built.book(
        "Z", day="2026-03-02", mode="online", organizer="lao-cai", sites=("lao-cai",)
    )
    laocai = built.api.as_(await built.token("laocai_sec"))
    answers = []
    for conference in ("cospace-77", "cospace-88"):
        status, body = await laocai.post(
            f"/api/meetings/{own}/conference-links",
            {"bridge": "cms-1", "conference_id": conference},
        )
        assert status == 409, body
        answers.append((body["type"], body["detail"]))
    assert answers[0] == answers[1], answers
    assert "vcorch ran" not in answers[0][1] and "linked" not in answers[0][1]
