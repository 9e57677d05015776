"""Telling people what the orchestrator found: mail queued in the caller's transaction.

A site's operators are the enabled operators of the site's own unit; where that unit has
none, those of the nearest unit above it that has some (a district room without its own
operator is looked after by the province).  The organiser's secretariat hears about the
meeting as a whole (missed, failed over, ending soon).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.auth import User
from vcorch.booking import Meeting
from vcorch.mail import OutboxMail
from vcorch.rooms import Unit


def _ancestors(path: str) -> list[str]:
    """``/1/5/9/`` → ``['/1/5/9/', '/1/5/', '/1/']``, nearest first."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:n]) + "/" for n in range(len(parts), 0, -1)]


async def _with_role(session: AsyncSession, role: str, paths: Sequence[str]) -> list[str]:
    rows = (
        await session.execute(
            select(User.email, User.full_name, Unit.path)
            .join(Unit, Unit.id == User.unit_id)
            .where(
                User.role == role,
                User.disabled.is_(False),
                User.email.is_not(None),
                Unit.path.in_(list(paths)),
            )
        )
    ).all()
    for path in paths:
        found = [
            f"{name} <{email}>" if name else str(email) for email, name, p in rows if p == path
        ]
        if found:
            return sorted(found)
    return []


async def site_operators(session: AsyncSession, unit_path: str) -> list[str]:
    """Mail addresses of the operators looking after a room of this unit."""
    return await _with_role(session, "operator", _ancestors(unit_path))


async def organizer_secretariat(session: AsyncSession, unit_path: str) -> list[str]:
    return await _with_role(session, "secretariat", _ancestors(unit_path))


async def queue_mail(
    session: AsyncSession,
    *,
    dedupe_key: str,
    meeting_id: int | None,
    recipients: Sequence[str],
    subject: str,
    body: str,
    now: datetime,
) -> bool:
    """Queue one message (nothing when there is nobody to tell); the key makes it once-only."""
    if not recipients:
        return False
    key = dedupe_key[:255]
    known = await session.scalar(select(OutboxMail.id).where(OutboxMail.dedupe_key == key))
    if known is not None:
        return False
    session.add(
        OutboxMail(
            dedupe_key=key,
            meeting_id=meeting_id,
            recipients=list(recipients),
            subject=subject[:500],
            body=body,
            status="pending",
            next_attempt_at=now,
        )
    )
    return True


async def tell_secretariat(
    session: AsyncSession,
    meeting: Meeting,
    *,
    dedupe_key: str,
    subject: str,
    body: str,
    now: datetime,
) -> bool:
    """Queue a message about a meeting for its organiser's secretariat."""
    organizer = await session.get(Unit, meeting.organizer_unit_id)
    return await queue_mail(
        session,
        dedupe_key=dedupe_key,
        meeting_id=meeting.id,
        recipients=await organizer_secretariat(session, organizer.path if organizer else "/"),
        subject=subject,
        body=body,
        now=now,
    )
