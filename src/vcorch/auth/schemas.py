"""Request and response models of the auth package."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from vcorch.text import Line

Username = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")]
UserRole = Literal["admin", "secretariat", "operator", "leadership"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(BaseModel):
    """OAuth2 token request (RFC 6749 §4.3 password, §4.4 client_credentials), form-encoded."""

    # Extra form fields (scope, ...) are allowed by OAuth2 and ignored.
    model_config = ConfigDict(extra="ignore")

    grant_type: Literal["password", "client_credentials"]
    username: Annotated[str, Field(max_length=64)] | None = None
    password: Annotated[str, Field(max_length=1024)] | None = None
    client_id: Annotated[str, Field(max_length=64)] | None = None
    client_secret: Annotated[str, Field(max_length=1024)] | None = None
    scope: Annotated[str, Field(max_length=256)] | None = None


class TokenResponse(StrictModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class Me(StrictModel):
    kind: Literal["user", "client"]
    id: int
    name: str
    role: str
    unit_id: int


class UserCreate(StrictModel):
    username: Username
    role: UserRole
    unit_id: int
    password: Annotated[str, Field(min_length=10, max_length=1024)]
    full_name: Line | None = None
    email: EmailStr | None = None


class UserUpdate(StrictModel):
    disabled: bool


class UserOut(StrictModel):
    id: int
    username: str
    full_name: str | None
    email: str | None
    role: str
    unit_id: int
    disabled: bool
    created_at: datetime


class UserList(StrictModel):
    items: list[UserOut]


class ClientCreate(StrictModel):
    name: Line
    unit_id: int


class ClientCreated(StrictModel):
    id: int
    client_id: str
    client_secret: str = Field(description="Shown once; store it now")
    name: str
    unit_id: int


class AuditQuery(StrictModel):
    entity: Annotated[str, Field(max_length=64)] | None = None
    entity_id: Annotated[str, Field(max_length=64)] | None = None
    actor: Annotated[str, Field(max_length=128)] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None


class AuditOut(StrictModel):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    address: str | None


class AuditPage(StrictModel):
    items: list[AuditOut]
    next: str | None
