"""Logins, tokens, users and integration clients."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vcorch.access import USER_ROLES, Actor, AuditEntry, Principal, Role, audit
from vcorch.auth.errors import AuthenticationFailed, InvalidToken, TooManyAttempts
from vcorch.auth.models import Client, LoginFailure, RevokedToken, ServiceSecret, User
from vcorch.auth.passwords import SecretHasher
from vcorch.auth.tokens import IssuedToken, TokenService
from vcorch.errors import (
    Conflict,
    FieldProblem,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Reference,
)
from vcorch.rooms import Unit

MIN_PASSWORD_LENGTH = 10
REFERENCE_LIST_LIMIT = 20


async def account_references(session: AsyncSession, kind: str, ident: int) -> list[Reference]:
    """The users and clients a unit still has (the rooms service refuses to delete it)."""
    if kind != "unit":
        return []
    users = await session.execute(
        select(User.id, User.username).where(User.unit_id == ident).limit(REFERENCE_LIST_LIMIT)
    )
    found = [Reference("user", i, n) for i, n in users]
    clients = await session.execute(
        select(Client.id, Client.name).where(Client.unit_id == ident).limit(REFERENCE_LIST_LIMIT)
    )
    found += [Reference("client", i, n) for i, n in clients]
    return found


@dataclass(frozen=True)
class ThrottlePolicy:
    """Free failures per (account, address) and per address within ``window``; beyond them
    each further failure doubles the wait, from ``first_delay`` up to ``max_delay``.

    Nothing is counted per account alone: a stranger's guesses from elsewhere must never
    keep the owner out (the password hash's cost is what slows a distributed guesser).
    """

    max_per_account: int
    max_per_address: int
    window: timedelta
    first_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=5)
    max_checkins_per_address: int = 200


def throttle_key(kind: str, *parts: str) -> str:
    """A row key for ``kind`` and its parts; long ones are hashed to fit the column."""
    key = f"{kind}:" + "@".join(parts)
    if len(key) <= 128:
        return key
    return f"{kind}:" + hashlib.sha256("@".join(parts).encode("utf-8")).hexdigest()


def user_view(user: User) -> dict[str, Any]:
    """What may be shown or logged of a user: never the hash."""
    return {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "role": user.role,
        "unit_id": user.unit_id,
        "disabled": user.disabled,
    }


def client_view(client: Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "client_id": client.client_id,
        "name": client.name,
        "unit_id": client.unit_id,
        "disabled": client.disabled,
    }


async def signing_key(sessions: async_sessionmaker[AsyncSession], configured: str | None) -> str:
    """The configured key, or one the service made once and keeps in the database.

    Keeping it in the database lets several processes share it without configuration.
    """
    if configured:
        return configured
    async with sessions.begin() as session:
        stored = await session.get(ServiceSecret, "token_signing_key")
        if stored is None:
            stored = ServiceSecret(name="token_signing_key", value=secrets.token_urlsafe(48))
            session.add(stored)
        return stored.value


class AuthService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        hasher: SecretHasher,
        tokens: TokenService,
        throttle: ThrottlePolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._tokens = tokens
        self._throttle = throttle
        self._clock = clock

    # -- logins -------------------------------------------------------------------------

    def _wait(self, count: int, limit: int) -> timedelta | None:
        if count < limit:
            return None
        # 2**n is bounded by the cap long before n grows: the exponent is clamped first.
        doublings = min(count - limit, 32)
        wait: timedelta = self._throttle.first_delay * (2**doublings)
        return min(wait, self._throttle.max_delay)

    async def _check_throttle(
        self, keys: list[tuple[str, int]], what: str = "failed logins"
    ) -> None:
        now = self._clock()
        since = now - self._throttle.window
        retry = 0
        async with self._sessions() as session:
            for key, limit in keys:
                count, latest = (
                    await session.execute(
                        select(func.count(), func.max(LoginFailure.at)).where(
                            LoginFailure.key == key, LoginFailure.at > since
                        )
                    )
                ).one()
                wait = self._wait(count, limit)
                if wait is not None and latest is not None and latest + wait > now:
                    retry = max(retry, int((latest + wait - now).total_seconds() + 0.999))
        if retry:
            raise TooManyAttempts(max(retry, 1), what)

    async def _record_failure(self, keys: list[str]) -> None:
        now = self._clock()
        async with self._sessions.begin() as session:
            session.add_all([LoginFailure(key=key, at=now) for key in keys])
            # Old rows are useless once outside the window; prune as we go.
            await session.execute(
                delete(LoginFailure).where(LoginFailure.at < now - self._throttle.window)
            )

    async def _clear_failures(self, key: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(LoginFailure).where(LoginFailure.key == key))

    def _login_keys(self, kind: str, account: str, address: str) -> tuple[str, str]:
        return throttle_key(kind, account, address), throttle_key("ip", address)

    async def password_login(self, username: str, password: str, address: str) -> IssuedToken:
        pair_key, address_key = self._login_keys("user", username.casefold(), address)
        await self._check_throttle(
            [
                (pair_key, self._throttle.max_per_account),
                (address_key, self._throttle.max_per_address),
            ]
        )
        async with self._sessions() as session:
            user = (
                await session.execute(select(User).where(User.username == username))
            ).scalar_one_or_none()
        valid = await self._hasher.verify(user.password_hash if user else None, password)
        if user is None or not valid or user.disabled:
            await self._record_failure([pair_key, address_key])
            raise AuthenticationFailed("unknown user, wrong password or disabled account")
        await self._clear_failures(pair_key)
        return self._tokens.issue("user", user.id, user.token_version)

    async def client_login(self, client_id: str, client_secret: str, address: str) -> IssuedToken:
        pair_key, address_key = self._login_keys("client", client_id, address)
        await self._check_throttle(
            [
                (pair_key, self._throttle.max_per_account),
                (address_key, self._throttle.max_per_address),
            ]
        )
        async with self._sessions() as session:
            client = (
                await session.execute(select(Client).where(Client.client_id == client_id))
            ).scalar_one_or_none()
        valid = await self._hasher.verify(client.secret_hash if client else None, client_secret)
        if client is None or not valid or client.disabled:
            await self._record_failure([pair_key, address_key])
            raise AuthenticationFailed("unknown client, wrong secret or disabled client")
        await self._clear_failures(pair_key)
        return self._tokens.issue("client", client.id, client.token_version)

    async def check_in_attempt(self, address: str) -> None:
        """Count one self check-in from ``address``; beyond the allowance it waits, growing.

        The link is the credential and many people share one, so only the address is
        counted: one phone cannot take a meeting's every check-in, a site's Wi-Fi can still
        check its room in.
        """
        key = throttle_key("checkin", address)
        await self._check_throttle(
            [(key, self._throttle.max_checkins_per_address)], "check-ins from this address"
        )
        await self._record_failure([key])

    async def principal_for(self, token: str) -> Principal:
        claims = self._tokens.decode(token)
        async with self._sessions() as session:
            if await session.get(RevokedToken, claims.jti) is not None:
                raise InvalidToken("the token has been revoked")
            subject: User | Client | None
            if claims.kind == "user":
                subject = await session.get(User, claims.subject_id)
            else:
                subject = await session.get(Client, claims.subject_id)
            if subject is None or subject.disabled or subject.token_version != claims.token_version:
                raise InvalidToken("the token is no longer valid")
            unit = await session.get(Unit, subject.unit_id)
            if unit is None:
                raise InvalidToken("the token is no longer valid")
            if isinstance(subject, User):
                return Principal(
                    "user", subject.id, subject.username, Role(subject.role), unit.id, unit.path
                )
            return Principal(
                "client", subject.id, subject.client_id, Role.INTEGRATION, unit.id, unit.path
            )

    async def revoke(self, token: str) -> None:
        claims = self._tokens.decode(token)
        async with self._sessions.begin() as session:
            if await session.get(RevokedToken, claims.jti) is None:
                session.add(RevokedToken(jti=claims.jti, expires_at=claims.expires_at))
            await session.execute(
                delete(RevokedToken).where(RevokedToken.expires_at < self._clock())
            )

    # -- accounts -----------------------------------------------------------------------

    async def _unit_in_scope(self, session: AsyncSession, actor: Actor, unit_id: int) -> Unit:
        unit = await session.get(Unit, unit_id)
        if unit is None or not actor.principal.sees(unit.path):
            raise InvalidInput(
                "unknown unit", problems=[FieldProblem("unit_id", "no such unit in your scope")]
            )
        return unit

    async def create_user(
        self,
        actor: Actor,
        *,
        username: str,
        role: str,
        unit_id: int,
        password: str,
        full_name: str | None = None,
        email: str | None = None,
    ) -> User:
        if role not in {r.value for r in USER_ROLES}:
            raise InvalidInput(
                "unknown role",
                problems=[FieldProblem("role", f"one of {[r.value for r in USER_ROLES]}")],
            )
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(
                "password too short",
                problems=[FieldProblem("password", f"at least {MIN_PASSWORD_LENGTH} characters")],
            )
        password_hash = await self._hasher.hash(password)
        async with self._sessions.begin() as session:
            unit = await self._unit_in_scope(session, actor, unit_id)
            taken = await session.execute(select(User.id).where(User.username == username))
            if taken.first() is not None:
                raise Conflict(
                    "username taken", problems=[FieldProblem("username", "already in use")]
                )
            user = User(
                username=username,
                role=role,
                unit_id=unit.id,
                password_hash=password_hash,
                full_name=full_name,
                email=email,
            )
            session.add(user)
            await session.flush()
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="create",
                entity="user",
                entity_id=user.id,
                unit_path=unit.path,
                after=user_view(user),
            )
            return user

    async def list_users(self, actor: Actor) -> list[tuple[User, Unit]]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(User, Unit)
                .join(Unit, User.unit_id == Unit.id)
                .where(Unit.path.startswith(actor.principal.unit_path))
                .order_by(User.id)
            )
            return [(user, unit) for user, unit in rows]

    async def set_user_disabled(self, actor: Actor, username: str, disabled: bool) -> User:
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(User, Unit)
                    .join(Unit, User.unit_id == Unit.id)
                    .where(User.username == username)
                )
            ).first()
            if row is None or not actor.principal.sees(row[1].path):
                raise NotFound("no such user")
            user, unit = row
            if user.id == actor.principal.id and actor.principal.kind == "user" and disabled:
                raise PermissionDenied("you cannot disable your own account")
            before = user_view(user)
            if disabled and not user.disabled:
                # Disabling ends every token at once; enabling (again) leaves tokens as they
                # are (those of before a disable stay dead: their version is old).
                user.token_version += 1
            user.disabled = disabled
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="update",
                entity="user",
                entity_id=user.id,
                unit_path=unit.path,
                before=before,
                after=user_view(user),
            )
            return user

    async def create_client(self, actor: Actor, *, name: str, unit_id: int) -> tuple[Client, str]:
        secret = secrets.token_urlsafe(32)
        secret_hash = await self._hasher.hash(secret)
        async with self._sessions.begin() as session:
            unit = await self._unit_in_scope(session, actor, unit_id)
            client = Client(
                client_id="vc_" + secrets.token_hex(10),
                name=name,
                unit_id=unit.id,
                secret_hash=secret_hash,
            )
            session.add(client)
            await session.flush()
            audit.record(
                session,
                actor,
                at=self._clock(),
                action="create",
                entity="client",
                entity_id=client.id,
                unit_path=unit.path,
                after=client_view(client),
            )
            return client, secret

    async def unit_by_code(self, code: str) -> Unit:
        async with self._sessions() as session:
            unit = (
                await session.execute(select(Unit).where(Unit.code == code))
            ).scalar_one_or_none()
            if unit is None:
                raise NotFound(f"no unit with code {code!r}")
            return unit

    async def list_audit(
        self,
        who: Principal,
        *,
        entity: str | None,
        entity_id: str | None,
        actor: str | None,
        after: int | None,
        limit: int,
    ) -> tuple[list[AuditEntry], int | None]:
        """Newest first; entries about units outside the caller's scope are not shown."""
        async with self._sessions() as session:
            stmt = select(AuditEntry).where(AuditEntry.unit_path.startswith(who.unit_path))
            if entity:
                stmt = stmt.where(AuditEntry.entity == entity)
            if entity_id:
                stmt = stmt.where(AuditEntry.entity_id == entity_id)
            if actor:
                stmt = stmt.where(AuditEntry.actor == actor)
            if after is not None:
                stmt = stmt.where(AuditEntry.id < after)
            rows = list(
                (
                    await session.execute(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1))
                ).scalars()
            )
            more = len(rows) > limit
            rows = rows[:limit]
            return rows, (rows[-1].id if more and rows else None)
