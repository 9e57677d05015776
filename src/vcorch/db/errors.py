"""Telling "the database cannot be reached right now" apart from every other database error.

A PostgreSQL restart, fail-over or network cut shows up as a refused connection while
connecting, or as a driver error whose SQLSTATE is in class 08 (connection exception) or
57P (admin shutdown, crash shutdown, cannot connect now); SQLite says "database is locked"
when another writer held the file past the busy timeout.  A request that met such an
error changed nothing (its transaction was rolled back with the connection) and can be
sent again, so the HTTP edge answers 503 with ``Retry-After`` instead of a 500.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03")


def _sqlstate(err: DBAPIError) -> str | None:
    # asyncpg's exception is the cause of SQLAlchemy's adapted DBAPI error.
    for candidate in (err.orig, getattr(err.orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def database_unavailable(err: BaseException) -> bool:
    """Whether ``err`` means the database is out of reach for now (retry later)."""
    if isinstance(err, ConnectionError):
        # Raised as-is by the driver when a new connection is refused or reset.
        return True
    if not isinstance(err, DBAPIError):
        return False
    if err.connection_invalidated:
        return True
    state = _sqlstate(err)
    if state is not None and state.startswith(_UNAVAILABLE_STATES):
        return True
    return "database is locked" in str(err.orig)
