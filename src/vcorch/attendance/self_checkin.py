"""Self check-in: signed links (and their QR codes) and the public page behind them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access import Actor, Principal, Role, audit
from vcorch.attendance import schemas
from vcorch.attendance.base import (
    LEAD,
    MAX_SELF_CHECKINS,
    NOT_HELD,
    not_cancelled,
)
from vcorch.attendance.checkins import CheckInsPart
from vcorch.attendance.links import CheckInClaims, qr_svg
from vcorch.attendance.loader import OccurrenceRef
from vcorch.attendance.models import CheckIn
from vcorch.attendance.views import parse_key
from vcorch.booking import Meeting, occurrence_key_text
from vcorch.errors import Conflict, FieldProblem, NotFound, PermissionDenied
from vcorch.rooms import Room, Unit


@dataclass(frozen=True)
class IssuedLink:
    url: str
    token: str
    occurrence_key: datetime
    room_id: int | None
    expires_at: datetime
    qr_svg: str


@dataclass(frozen=True)
class LinkPage:
    """What the public check-in page shows about its link."""

    claims: CheckInClaims
    title: str
    start: datetime
    end: datetime
    zone: str
    room_name: str | None


class SelfCheckInPart(CheckInsPart):
    # -- self check-in ---------------------------------------------------------------------

    async def issue_link(
        self, actor: Actor, meeting_id: int, data: schemas.LinkCreate
    ) -> IssuedLink:
        now = self._clock()
        async with self._sessions.begin() as session:
            meeting = await self._meeting(session, actor.principal, meeting_id)
            if meeting.status in NOT_HELD:
                raise Conflict("the meeting is cancelled or a draft: nobody can check in")
            ref = await self._occurrence(
                session, meeting, parse_key(data.occurrence), prefer_run=False
            )
            not_cancelled(ref)
            path = await self._organizer_path(session, meeting)
            if data.room_id is not None:
                path = (await self._site(session, actor, meeting, ref, data.room_id)).unit_path
            elif not await self._organises(session, actor.principal, meeting):
                raise PermissionDenied(
                    "name the site (room_id) the code will be shown at",
                    problems=[FieldProblem("room_id", "required outside the organising unit")],
                )
            run = await self._run(session, meeting.id, ref.key)
            end = run.end_at if run is not None else ref.end
            if data.valid_minutes is not None:
                expires = now + timedelta(minutes=data.valid_minutes)
            else:
                expires = max(end, now) + self._grace
            token = self._links.issue(meeting.id, ref.key, data.room_id, expires)
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="create",
                entity="checkin_link",
                entity_id=meeting.id,
                unit_path=path,
                after={
                    "meeting_id": meeting.id,
                    "occurrence": occurrence_key_text(ref.key),
                    "room_id": data.room_id,
                    "expires_at": expires.isoformat(),
                },
            )
        url = self._links.url(token)
        return IssuedLink(
            url=url,
            token=token,
            occurrence_key=ref.key,
            room_id=data.room_id,
            # As signed (whole seconds, rounded up).
            expires_at=self._links.verify(token).expires_at,
            qr_svg=qr_svg(url),
        )

    def link_url(self, token: str) -> str:
        self._links.verify(token)
        return self._links.url(token)

    async def link_page(self, token: str) -> LinkPage:
        claims = self._links.verify(token)
        async with self._sessions() as session:
            meeting, ref = await self._claimed(session, claims)
            room = await session.get(Room, claims.room_id) if claims.room_id else None
            zone = await self._zone_of(session, meeting)
        return LinkPage(
            claims=claims,
            title=meeting.title,
            start=ref.start,
            end=ref.end,
            zone=zone,
            room_name=room.name if room is not None else None,
        )

    async def _claimed(
        self, session: AsyncSession, claims: CheckInClaims
    ) -> tuple[Meeting, OccurrenceRef]:
        meeting = await session.get(Meeting, claims.meeting_id)
        if meeting is None or meeting.status in NOT_HELD:
            raise NotFound("this meeting no longer takes check-ins")
        ref = await self._occurrence(session, meeting, claims.occurrence_key, prefer_run=False)
        if ref.cancelled:
            raise NotFound("this occurrence was cancelled")
        return meeting, ref

    async def self_check_in(
        self, token: str, data: schemas.SelfCheckInForm, address: str | None
    ) -> tuple[CheckIn, bool]:
        claims = self._links.verify(token)
        actor = Actor(
            Principal("user", 0, "self-check-in", Role.INTEGRATION, 0, "/"), address=address
        )
        async with self._sessions.begin() as session:
            meeting, ref = await self._claimed(session, claims)
            if self._clock() < ref.start - LEAD:
                raise Conflict("check-in opens an hour before the meeting starts")
            count = await session.scalar(
                select(func.count(CheckIn.id)).where(
                    CheckIn.meeting_id == meeting.id,
                    CheckIn.occurrence_key == ref.key,
                    CheckIn.method == "self",
                )
            )
            if (count or 0) >= MAX_SELF_CHECKINS:
                raise Conflict("this meeting has taken all the self check-ins it can")
            path = await self._organizer_path(session, meeting)
            if claims.room_id is not None:
                room = await session.get(Room, claims.room_id)
                unit = await session.get(Unit, room.unit_id) if room is not None else None
                path = unit.path if unit is not None else path
            return await self._insert_checkin(
                session,
                actor,
                meeting,
                ref,
                claims.room_id,
                path,
                full_name=data.full_name,
                unit_name=data.unit_name,
                position=data.position,
                method="self",
            )
