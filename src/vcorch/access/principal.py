"""Who is calling: a user or an integration client, its role and its unit scope."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    ADMIN = "admin"
    SECRETARIAT = "secretariat"
    OPERATOR = "operator"
    LEADERSHIP = "leadership"
    # Integration clients (provincial portals, the national data exchange) act in this role.
    INTEGRATION = "integration"


USER_ROLES = (Role.ADMIN, Role.SECRETARIAT, Role.OPERATOR, Role.LEADERSHIP)
# Route access groups, shared by every routes.py so that the policy reads the same everywhere.
STAFF = USER_ROLES
EVERYONE = (*USER_ROLES, Role.INTEGRATION)


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "client"]
    id: int
    name: str
    role: Role
    unit_id: int
    unit_path: str

    def sees(self, path: str) -> bool:
        """True when ``path`` (a unit's materialised path) lies in this principal's subtree."""
        return path.startswith(self.unit_path)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Actor:
    """A principal acting through one request; what the audit log records as "who"."""

    principal: Principal
    request_id: str | None = None
    address: str | None = None


SYSTEM = Principal(kind="user", id=0, name="system", role=Role.ADMIN, unit_id=0, unit_path="/")
SYSTEM_ACTOR = Actor(SYSTEM)
