"""The audit log: who changed what, when, with the record before and after.

Entries are written in the same transaction as the change they describe, so a
change without its entry (or the reverse) cannot be committed.  The caller says when the
change happened (from its clock), so an entry's time is the change's time, and tests with
a fake clock see the fake time here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vcorch.access.models import AuditEntry
from vcorch.access.principal import Actor

# Field names whose values never enter the log, whatever entity they belong to.
_SECRET_FIELDS = frozenset({"password", "password_hash", "secret", "secret_hash", "client_secret"})


def _scrub(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {key: value for key, value in record.items() if key not in _SECRET_FIELDS}


def record(
    session: AsyncSession,
    actor: Actor,
    *,
    at: datetime,
    action: str,
    entity: str,
    entity_id: object,
    unit_path: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=at,
            actor=actor.principal.label,
            actor_kind=actor.principal.kind,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            unit_path=unit_path,
            before=_scrub(before),
            after=_scrub(after),
            request_id=actor.request_id,
            address=actor.address,
        )
    )
