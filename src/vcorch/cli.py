"""The command line: vcorch serve | db upgrade | demo | users ... | clients ..."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import select

from vcorch import __version__
from vcorch.access import Actor, Principal, Role
from vcorch.auth import AuthService, ThrottlePolicy, TokenService, User
from vcorch.config import ConfigError, Settings, load_settings
from vcorch.db import make_engine, make_sessionmaker, upgrade, utcnow
from vcorch.errors import DomainError
from vcorch.rooms import load_demo

log = logging.getLogger("vcorch")


def _cli_actor() -> Actor:
    # Commands run with the operating system account's authority over the whole tree.
    name = f"cli:{getpass.getuser()}"
    return Actor(Principal("user", 0, name, Role.ADMIN, 0, "/"), address="local")


# Libraries that log every statement they send with its parameters at DEBUG (password and
# token hashes, personal data): kept at INFO even when vcorch itself logs at DEBUG.
CHATTY_LIBRARIES = ("aiosqlite",)


def quiet_chatty_libraries() -> None:
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.INFO)


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    quiet_chatty_libraries()


async def _with_auth(settings: Settings, work: Callable[[AuthService], Awaitable[int]]) -> int:
    from datetime import timedelta

    from vcorch.auth import make_hasher

    engine = make_engine(settings.database_url)
    try:
        auth = AuthService(
            make_sessionmaker(engine),
            make_hasher(settings),
            TokenService("unused-by-the-command-line", settings.token_ttl_seconds, utcnow),
            ThrottlePolicy(1, 1, timedelta(seconds=1)),
            utcnow,
        )
        return await work(auth)
    finally:
        await engine.dispose()


async def _db_upgrade(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return 0


async def _demo(settings: Settings) -> int:
    from vcorch.app import create_app
    from vcorch.demo import DEMO

    engine = make_engine(settings.database_url)
    try:
        await load_demo(make_sessionmaker(engine), _cli_actor())
    finally:
        await engine.dispose()
    # The meeting is booked through the service as the API would book it, so that every
    # listener (statistics, invitations, the scheduler) hears of it; nothing runs meanwhile.
    runner = web.AppRunner(create_app(settings, background=False))
    await runner.setup()
    try:
        await runner.app[DEMO].book_next(_cli_actor())
    finally:
        await runner.cleanup()
    return 0


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    from vcorch.app import create_app
    from vcorch.web import PathOnlyAccessLogger

    if settings.is_sqlite:
        asyncio.run(_db_upgrade(settings))
    app = create_app(settings)
    web.run_app(
        app,
        host=host or settings.host,
        port=port or settings.port,
        access_log_class=PathOnlyAccessLogger,
        # Requests in flight get this long; the runtime's closers bound the rest.
        shutdown_timeout=settings.shutdown_grace_seconds,
        print=lambda line: log.info("%s", line),
    )
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if not args.password_stdin:
        raise ConfigError("--password-stdin is required: passwords never go on the command line")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ConfigError("no password on standard input")
    return password


def _users_create(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args)

    async def work(auth: AuthService) -> int:
        unit = await auth.unit_by_code(args.unit)
        user = await auth.create_user(
            _cli_actor(),
            username=args.username,
            role=args.role,
            unit_id=unit.id,
            password=password,
            full_name=args.full_name,
            email=args.email,
        )
        print(user.id)
        return 0

    return asyncio.run(_with_auth(settings, work))


def _users_list(settings: Settings, _args: argparse.Namespace) -> int:
    async def work(auth: AuthService) -> int:
        for user, unit in await auth.list_users(_cli_actor()):
            state = "disabled" if user.disabled else "active"
            print(f"{user.id}\t{user.username}\t{user.role}\t{unit.code}\t{state}")
        return 0

    return asyncio.run(_with_auth(settings, work))


def _users_disable(settings: Settings, args: argparse.Namespace) -> int:
    async def work(auth: AuthService) -> int:
        await auth.set_user_disabled(_cli_actor(), args.username, True)
        return 0

    return asyncio.run(_with_auth(settings, work))


def _users_bootstrap(settings: Settings, args: argparse.Namespace) -> int:
    """Create the first admin when no user exists; print its password once."""

    async def work(auth: AuthService) -> int:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                if (await session.execute(select(User.id).limit(1))).first() is not None:
                    return 0
        finally:
            await engine.dispose()
        unit = await auth.unit_by_code("central")
        password = secrets.token_urlsafe(12)
        await auth.create_user(
            _cli_actor(), username=args.username, role="admin", unit_id=unit.id, password=password
        )
        print(f"Created the first administrator: username {args.username!r}, password {password!r}")
        print("This password is shown only now. Change it or create personal accounts.")
        return 0

    return asyncio.run(_with_auth(settings, work))


def _clients_create(settings: Settings, args: argparse.Namespace) -> int:
    async def work(auth: AuthService) -> int:
        unit = await auth.unit_by_code(args.unit)
        client, secret = await auth.create_client(_cli_actor(), name=args.name, unit_id=unit.id)
        print(json.dumps({"client_id": client.client_id, "client_secret": secret}))
        return 0

    return asyncio.run(_with_auth(settings, work))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vcorch", description="Video-conferencing orchestration")
    parser.add_argument("--version", action="version", version=f"vcorch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API until SIGTERM/SIGINT")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations")

    commands.add_parser(
        "demo",
        help="load the demo organisation and book the demo meeting a few minutes ahead"
        " (idempotent: keeps one still ahead)",
    )

    users = commands.add_parser("users", help="user accounts")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    create = user_commands.add_parser("create", help="create a user")
    create.add_argument("--username", required=True)
    create.add_argument(
        "--role", required=True, choices=[r.value for r in Role if r is not Role.INTEGRATION]
    )
    create.add_argument("--unit", required=True, help="unit code, e.g. central or lao-cai")
    create.add_argument("--password-stdin", action="store_true")
    create.add_argument("--full-name")
    create.add_argument("--email")
    user_commands.add_parser("list", help="list users")
    disable = user_commands.add_parser("disable", help="disable a user (its tokens stop working)")
    disable.add_argument("--username", required=True)
    bootstrap = user_commands.add_parser(
        "bootstrap-admin", help="create the first admin if no user exists"
    )
    bootstrap.add_argument("--username", default="admin")

    clients = commands.add_parser("clients", help="integration clients")
    client_commands = clients.add_subparsers(dest="clients_command", required=True)
    client_create = client_commands.add_parser(
        "create", help="create a client; prints its secret once"
    )
    client_create.add_argument("--name", required=True)
    client_create.add_argument("--unit", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        _setup_logging(settings)
        handlers: dict[tuple[str, ...], Callable[[], int]] = {
            ("serve",): lambda: _serve(settings, args.host, args.port),
            ("db", "upgrade"): lambda: asyncio.run(_db_upgrade(settings)),
            ("demo",): lambda: asyncio.run(_demo(settings)),
            ("users", "create"): lambda: _users_create(settings, args),
            ("users", "list"): lambda: _users_list(settings, args),
            ("users", "disable"): lambda: _users_disable(settings, args),
            ("users", "bootstrap-admin"): lambda: _users_bootstrap(settings, args),
            ("clients", "create"): lambda: _clients_create(settings, args),
        }
        key: tuple[Any, ...] = tuple(
            part
            for part in (
                args.command,
                getattr(args, "db_command", None),
                getattr(args, "users_command", None),
                getattr(args, "clients_command", None),
            )
            if part
        )
        return handlers[key]()
    except ConfigError as err:
        print(f"vcorch: {err}", file=sys.stderr)
        return 2
    except DomainError as err:
        fields = "; ".join(f"{p.field}: {p.message}" for p in err.problems)
        print(f"vcorch: {err.detail}" + (f" ({fields})" if fields else ""), file=sys.stderr)
        return 1
    except OSError as err:
        print(f"vcorch: {err}", file=sys.stderr)
        return 1
