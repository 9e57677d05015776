"""What to probe for each endpoint.

An endpoint's probe follows from its kind:

- ``sip``: SIP OPTIONS to its address, over the endpoint's ``probe_transport`` when set
  (``tcp`` adds ``;transport=tcp``); ``sips:`` and ``tls`` are not probed (no TLS probe yet).
- ``h323``: TCP connect to the call-signalling port (``h323:`` is added when missing).
- ``webrtc``: a WebRTC site is a browser or a room gateway.  An address that is an
  ``http(s)`` URL names the room's Janus gateway: the media probe runs through its
  EchoTest.  Otherwise the endpoint's ``management_url``, when set, gets the HTTP probe;
  with neither there is nothing to reach and the endpoint stays ``unknown``.

Which meetings make endpoints hot or alert-worthy is the meeting side's answer
(:mod:`vcorch.monitoring.meetings`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.monitoring.models import EndpointHealthRecord
from vcorch.rooms import Endpoint, Room, Unit


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """How one endpoint is probed: the probe kind and what it is given."""

    kind: str  # sip | h323 | http | webrtc
    address: str


def probe_plan(
    kind: str, address: str, management_url: str | None, transport: str | None
) -> ProbePlan | None:
    """The probe for an endpoint, or None when nothing about it can be probed."""
    address = address.strip()
    if kind == "sip":
        if address.lower().startswith("sips:") or transport == "tls":
            return None
        if transport in ("udp", "tcp"):
            # The stored transport wins over a parameter in the URI.
            params = [
                part
                for part in address.split(";")[1:]
                if part.split("=", 1)[0].strip().lower() != "transport"
            ]
            base = address.split(";", 1)[0]
            if transport == "tcp":
                params.append("transport=tcp")
            address = ";".join([base, *params])
        return ProbePlan("sip", address)
    if kind == "h323":
        return ProbePlan(
            "h323", address if address.lower().startswith("h323:") else f"h323:{address}"
        )
    if kind == "webrtc":
        if address.lower().startswith(("http://", "https://")):
            return ProbePlan("webrtc", address)
        if management_url:
            return ProbePlan("http", management_url)
        return None
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint as the monitor sees it."""

    endpoint_id: int
    endpoint_kind: str
    room_id: int
    unit_id: int
    unit_path: str
    plan: ProbePlan | None
    own_interval: timedelta | None
    enabled: bool
    last_checked_at: datetime | None


def _target(row: Any) -> Target:
    return Target(
        endpoint_id=row.id,
        endpoint_kind=row.kind,
        room_id=row.room_id,
        unit_id=row.unit_id,
        unit_path=row.path,
        plan=probe_plan(row.kind, row.address, row.management_url, row.probe_transport),
        own_interval=(
            timedelta(seconds=row.probe_interval_seconds) if row.probe_interval_seconds else None
        ),
        enabled=bool(row.probe_enabled),
        last_checked_at=row.last_checked_at,
    )


def _target_query() -> Any:
    return (
        select(
            Endpoint.id,
            Endpoint.kind,
            Endpoint.address,
            Endpoint.management_url,
            Endpoint.probe_transport,
            Endpoint.probe_interval_seconds,
            Endpoint.probe_enabled,
            Endpoint.room_id,
            Room.unit_id,
            Unit.path,
            EndpointHealthRecord.last_checked_at,
        )
        .join(Room, Room.id == Endpoint.room_id)
        .join(Unit, Unit.id == Room.unit_id)
        .outerjoin(EndpointHealthRecord, EndpointHealthRecord.endpoint_id == Endpoint.id)
    )


async def load_targets(session: AsyncSession) -> list[Target]:
    """Every endpoint with probing enabled, in id order."""
    rows = await session.execute(
        _target_query().where(Endpoint.probe_enabled.is_(True)).order_by(Endpoint.id)
    )
    return [_target(row) for row in rows]


async def load_targets_by_id(session: AsyncSession, endpoint_ids: Collection[int]) -> list[Target]:
    """The named endpoints, enabled or not, in id order (unknown ids are left out)."""
    found: list[Target] = []
    ids = sorted(set(endpoint_ids))
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            _target_query().where(Endpoint.id.in_(ids[start : start + 500])).order_by(Endpoint.id)
        )
        found.extend(_target(row) for row in rows)
    return found
