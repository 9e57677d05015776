"""Which endpoints meetings make hot: the endpoint a site names, else every endpoint of
its room."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vcorch.monitoring.meetings import SiteInMeeting, hot_endpoint_ids
from vcorch.monitoring.targets import Target

START = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)


def target(endpoint_id: int, room_id: int) -> Target:
    return Target(endpoint_id, "sip", room_id, 1, "/1/", None, None, True, None)


def site(room_id: int, endpoint_id: int | None, *, running: bool = False) -> SiteInMeeting:
    return SiteInMeeting(9, "Họp", START, START + timedelta(hours=1), room_id, endpoint_id, running)


TARGETS = [target(1, 10), target(2, 10), target(3, 20), target(4, 30)]


@pytest.mark.parametrize(
    ("sites", "hot"),
    [
        pytest.param([], set(), id="no-meeting"),
        pytest.param([site(10, 1)], {1}, id="named-endpoint-only"),
        pytest.param([site(10, None)], {1, 2}, id="room-without-endpoint-all-of-it"),
        pytest.param([site(20, None), site(30, 4, running=True)], {3, 4}, id="two-rooms"),
        pytest.param([site(10, 99)], {99}, id="endpoint-not-probed-still-named"),
        pytest.param([site(40, None)], set(), id="room-without-endpoints"),
        pytest.param([site(10, 1), site(10, None)], {1, 2}, id="both-ways"),
    ],
)
def test_hot_endpoint_ids(sites: list[SiteInMeeting], hot: set[int]) -> None:
    assert hot_endpoint_ids(sites, TARGETS) == hot
