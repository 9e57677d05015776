"""Alembic environment: runs on the connection vcorch.db.migrate hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from vcorch.metadata import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("run migrations with `vcorch db upgrade`, which provides the connection")
_run(_connection)
