"""HTTP edge of access control: tokens, users, integration clients, the audit log."""

from __future__ import annotations

from aiohttp import web

from vcorch.access import Actor, Principal, Role
from vcorch.auth import schemas
from vcorch.auth.service import AuthService
from vcorch.errors import FieldProblem, InvalidInput
from vcorch.web import (
    ApiRoutes,
    Created,
    NoContent,
    Reply,
    client_address,
    decode_cursor,
    encode_cursor,
)

routes = ApiRoutes(tag="Access")
AUTH = web.AppKey("auth", AuthService)


@routes.post(
    "/api/auth/token",
    summary="Obtain a bearer token (OAuth2 password or client_credentials grant)",
    form=schemas.TokenRequest,
    response=schemas.TokenResponse,
    authenticated=False,
)
async def issue_token(form: schemas.TokenRequest, request: web.Request) -> Reply:
    auth = request.app[AUTH]
    address = client_address(request)
    if form.grant_type == "password":
        if not form.username or not form.password:
            raise InvalidInput(
                "username and password are required",
                problems=[
                    FieldProblem(name, "required")
                    for name in ("username", "password")
                    if not getattr(form, name)
                ],
            )
        issued = await auth.password_login(form.username, form.password, address)
    else:
        if not form.client_id or not form.client_secret:
            raise InvalidInput(
                "client_id and client_secret are required",
                problems=[
                    FieldProblem(name, "required")
                    for name in ("client_id", "client_secret")
                    if not getattr(form, name)
                ],
            )
        issued = await auth.client_login(form.client_id, form.client_secret, address)
    return Reply(
        schemas.TokenResponse(access_token=issued.token, expires_in=issued.expires_in),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@routes.post("/api/auth/revoke", summary="Revoke the token this request carries", status=204)
async def revoke_token(request: web.Request) -> NoContent:
    token = request.headers["Authorization"].partition(" ")[2].strip()
    await request.app[AUTH].revoke(token)
    return NoContent()


@routes.get("/api/auth/me", summary="Who the token belongs to", response=schemas.Me)
async def who_am_i(me: Principal) -> schemas.Me:
    return schemas.Me(kind=me.kind, id=me.id, name=me.name, role=me.role.value, unit_id=me.unit_id)


@routes.get(
    "/api/users", summary="List users in your scope", response=schemas.UserList, roles=(Role.ADMIN,)
)
async def list_users(actor: Actor, app: web.Application) -> schemas.UserList:
    rows = await app[AUTH].list_users(actor)
    items = [schemas.UserOut.model_validate(user, from_attributes=True) for user, _unit in rows]
    return schemas.UserList(items=items)


@routes.post(
    "/api/users",
    summary="Create a user in your scope",
    body=schemas.UserCreate,
    response=schemas.UserOut,
    status=201,
    roles=(Role.ADMIN,),
)
async def create_user(
    data: schemas.UserCreate, actor: Actor, app: web.Application
) -> schemas.UserOut:
    user = await app[AUTH].create_user(
        actor,
        username=data.username,
        role=data.role,
        unit_id=data.unit_id,
        password=data.password,
        full_name=data.full_name,
        email=data.email,
    )
    return schemas.UserOut.model_validate(user, from_attributes=True)


@routes.patch(
    "/api/users/{username}",
    summary="Disable or re-enable a user",
    body=schemas.UserUpdate,
    response=schemas.UserOut,
    roles=(Role.ADMIN,),
)
async def update_user(
    username: str, data: schemas.UserUpdate, actor: Actor, app: web.Application
) -> schemas.UserOut:
    user = await app[AUTH].set_user_disabled(actor, username, data.disabled)
    return schemas.UserOut.model_validate(user, from_attributes=True)


@routes.post(
    "/api/clients",
    summary="Create an integration client (the secret is shown once)",
    body=schemas.ClientCreate,
    response=schemas.ClientCreated,
    status=201,
    roles=(Role.ADMIN,),
)
async def create_client(data: schemas.ClientCreate, actor: Actor, app: web.Application) -> Created:
    client, secret = await app[AUTH].create_client(actor, name=data.name, unit_id=data.unit_id)
    return Created(
        schemas.ClientCreated(
            id=client.id,
            client_id=client.client_id,
            client_secret=secret,
            name=client.name,
            unit_id=client.unit_id,
        ),
        headers={"Cache-Control": "no-store"},
    )


@routes.get(
    "/api/audit",
    summary="The audit log of your scope, newest first",
    query=schemas.AuditQuery,
    response=schemas.AuditPage,
    roles=(Role.ADMIN,),
)
async def list_audit(
    query: schemas.AuditQuery, me: Principal, app: web.Application
) -> schemas.AuditPage:
    rows, after = await app[AUTH].list_audit(
        me,
        entity=query.entity,
        entity_id=query.entity_id,
        actor=query.actor,
        after=decode_cursor(query.cursor),
        limit=query.limit,
    )
    items = [schemas.AuditOut.model_validate(row, from_attributes=True) for row in rows]
    return schemas.AuditPage(items=items, next=encode_cursor(after) if after else None)
