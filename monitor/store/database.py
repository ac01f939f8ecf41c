"""A database for the store: its URL, its async engine, its errors, its schema's migrations.

SQLite (aiosqlite, WAL) and PostgreSQL (asyncpg) are opened from the same URL syntax; a plain
`sqlite://` or `postgresql://` URL gets its async driver. Errors of the drivers, of SQLAlchemy
and of Alembic become `StoreError`, never with a password in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from monitor.errors import StoreError, StoreFullError
from monitor.redact import REDACTED, redact_url
from monitor.store.transact import listen_sqlite

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "DATABASE_ERRORS",
    "POSTGRES_POOL_SIZE",
    "SCHEMA_HEAD",
    "MigrationError",
    "alembic_config",
    "async_database_url",
    "at_head",
    "create_engine",
    "is_file_sqlite",
    "is_memory",
    "make_parent_directory",
    "safe_url",
    "translate_errors",
    "upgrade_to_head",
]

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision (a test checks it against Alembic's head): a database at it
# opens without importing Alembic, a good part of a CLI command's start-up time.
SCHEMA_HEAD = "0007"
# Plain URLs name the sync drivers; the store needs the async ones.
_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}
_SQLITE_MINIMUM = (3, 35)  # UPDATE ... FROM (3.33) and RETURNING (3.35)
_POSTGRES_CONNECT_TIMEOUT = 10.0
POSTGRES_POOL_SIZE = 15  # connections per process: replicas x 15 must fit max_connections
READER_POOL_TIMEOUT = 10.0  # seconds a reader with its own small pool waits for a connection


class MigrationError(Exception):
    """Alembic refused to migrate (its CommandError, which is imported only when migrating)."""


DATABASE_ERRORS: tuple[type[Exception], ...] = (
    SQLAlchemyError,
    MigrationError,
    OSError,  # the drivers' connection errors, not always wrapped by SQLAlchemy
    ImportError,  # a URL naming a driver that is not installed
)


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """The Alembic configuration of the store's migrations, built in code (no alembic.ini).

    To add a migration after changing `schema.py`, autogenerate it from a database at head,
    then review it and run `ruff format` / `ruff check --fix` on it:
        command.revision(alembic_config(url="sqlite:///dev.db"), "add alerts",
                         autogenerate=True, rev_id="0002")
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def async_database_url(database_url: str) -> URL:
    """`database_url` parsed, with a plain `postgresql://` or `sqlite://` given its async driver."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):
        # The message would quote the URL, password included.
        raise StoreError(f"invalid database URL {_redact_unparsed(database_url)}") from None
    driver = _ASYNC_DRIVERS.get(url.drivername)
    return url.set(drivername=driver) if driver else url


def _redact_unparsed(database_url: str) -> str:
    # Not a URL urlsplit reads right either: mask anything between ":" and "@" as well.
    return re.sub(r":[^:@/]*@", f":{REDACTED}@", redact_url(database_url))


def safe_url(url: URL) -> str:
    rendered = url.render_as_string(hide_password=True)
    # Query values may hold secrets too; a SQLite path is not a URL redact_url can round-trip.
    return rendered if url.get_backend_name() == "sqlite" else redact_url(rendered)


def create_engine(url: URL, *, connections: int | None = None) -> AsyncEngine:
    """The store's engine; with `connections`, a pool of at most that many, waited for at most
    `READER_POOL_TIMEOUT` seconds (a reader's own budget, e.g. the status server's API)."""
    if url.get_backend_name() == "sqlite" and sqlite3.sqlite_version_info < _SQLITE_MINIMUM:
        raise StoreError(
            f"SQLite {sqlite3.sqlite_version} is too old: the store needs "
            f"{'.'.join(map(str, _SQLITE_MINIMUM))} or later (UPDATE ... RETURNING)"
        )
    connect_args: dict[str, Any] = {}
    if url.drivername == "postgresql+asyncpg" and "timeout" not in url.query:
        connect_args["timeout"] = _POSTGRES_CONNECT_TIMEOUT
    pool: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        # Connections kept open, none opened and closed on demand: with 100 polls in flight the
        # default pool (5 kept, 10 more closed after use) reconnected ~30 times a second and
        # doubled PostgreSQL's CPU per poll (tests/benchmarks/replicas.py).
        pool = {"pool_size": POSTGRES_POOL_SIZE, "max_overflow": 0}
    if connections is not None and not is_memory(url):
        pool = {"pool_size": connections, "max_overflow": 0, "pool_timeout": READER_POOL_TIMEOUT}
    # hide_parameters: bound values (article text, feed URLs with tokens) stay out of errors.
    engine = create_async_engine(url, hide_parameters=True, connect_args=connect_args, **pool)
    if engine.dialect.name == "sqlite":
        listen_sqlite(engine.sync_engine)
    return engine


def is_file_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and not is_memory(url)


def is_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


async def make_parent_directory(url: URL) -> None:
    if is_file_sqlite(url) and not url.query.get("uri"):
        await asyncio.to_thread(_mkdir_parent, url.database or "")


def _mkdir_parent(path: str) -> None:
    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def translate_errors(message: str, secret: str | None, *catch: type[Exception]) -> Iterator[None]:
    """Turn database, driver and migration errors into `StoreError`, never showing `secret`."""
    try:
        yield
    except StoreError:
        raise
    except (*DATABASE_ERRORS, *catch) as exc:
        if secret and secret in "".join(traceback.format_exception(exc)):
            detail = f"{type(exc).__name__}: {exc}".replace(secret, REDACTED)
            raise _store_error(exc)(f"{message}: {detail}") from None
        raise _store_error(exc)(message, reason=_driver_reason(exc)) from exc


# SQLITE_FULL (the primary code of an extended one), and PostgreSQL's disk_full SQLSTATE.
_SQLITE_FULL = 13
_POSTGRES_DISK_FULL = "53100"


def _store_error(exc: BaseException) -> type[StoreError]:
    """`StoreFullError` when the database or its disk is full, else `StoreError`."""
    cause: BaseException | None = exc
    for _ in range(8):  # SQLAlchemy's error, the DB-API's, the driver's own: a short chain
        if cause is None:
            break
        code = getattr(cause, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF == _SQLITE_FULL:
            return StoreFullError
        if getattr(cause, "sqlstate", None) == _POSTGRES_DISK_FULL:
            return StoreFullError
        cause = getattr(cause, "orig", None) or cause.__cause__
    return StoreError


def _driver_reason(exc: BaseException) -> str | None:
    """The driver's own message, first line: SQLAlchemy's adds the SQL statement and a link."""
    cause: BaseException = getattr(exc, "orig", None) or exc
    for _ in range(8):
        if cause.__cause__ is None:
            break
        cause = cause.__cause__
    lines = str(cause).strip().splitlines()
    return lines[0][:300] if lines else None


def upgrade_to_head(connection: Connection) -> None:
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        command.upgrade(alembic_config(connection), "head")
    except CommandError as exc:
        raise MigrationError(str(exc)) from exc


def at_head(connection: Connection) -> bool:
    """Whether the database's schema is at SCHEMA_HEAD already (checked without Alembic)."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return False
    versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
    return list(versions) == [SCHEMA_HEAD]
