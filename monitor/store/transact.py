"""SQLite transactions run in one go, on a thread of their own.

aiosqlite runs each call of the DB-API (cursor, execute, fetch, close) as one trip to its thread
and back: about twenty trips for a poll's write, each a wake-up of both threads and a hand-over
of the GIL, which cost more than the SQL (tests/benchmarks/cycle.py). A poll's transaction is
therefore written as a synchronous function of a `Connection` and, on a SQLite file, run whole on
a dedicated thread with a synchronous engine on the same file: one trip per transaction. The
Store serialises it with its other writes (its write lock) and translates its errors.

PostgreSQL (asyncpg is asynchronous already) and in-memory SQLite (one connection, which the
async engine holds) run the same function through `AsyncConnection.run_sync` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

T = TypeVar("T")

SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=5000",  # first: the others may have to wait for a lock
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)
BEGIN_IMMEDIATE = "monitor_begin_immediate"  # our execution option, read by on_sqlite_begin


def on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own BEGIN handling skips SELECTs and DDL; we emit BEGIN ourselves.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def on_sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(BEGIN_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def listen_sqlite(engine: Engine) -> None:
    """Our pragmas on each new connection, and BEGIN (IMMEDIATE for writes) issued by us."""
    sa.event.listen(engine, "connect", on_sqlite_connect)
    sa.event.listen(engine, "begin", on_sqlite_begin)


class SqliteWriter:
    """Write transactions on a SQLite file, each run whole on one dedicated thread."""

    def __init__(self, url: URL) -> None:
        # hide_parameters: bound values (article text, feed URLs with tokens) stay out of errors.
        self.engine = sa.create_engine(
            url.set(drivername="sqlite+pysqlite"), hide_parameters=True, pool_size=1
        )
        listen_sqlite(self.engine)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-store")
        self._conn: Connection | None = None  # kept open, used on the thread only

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work` in one BEGIN IMMEDIATE ... COMMIT (ROLLBACK if it raises) on the thread."""
        job = asyncio.get_running_loop().run_in_executor(self._thread, self._transaction, work)
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            # The transaction goes on in its thread: the caller keeps the write lock until it
            # ends, however many times it is cancelled meanwhile.
            while not job.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([job])
            raise

    async def read(self, work: Callable[[Connection], T]) -> T:
        """`work` in one read transaction (a plain BEGIN: it takes no write lock) on the
        thread, queued with the writes: one hand-over, not aiosqlite's one per statement."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._read, work)

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            # One connection for the writer's life: a checkout from the pool per transaction
            # cost a seventh of the thread's time.
            conn = self._conn = self.engine.connect()
            conn.execution_options(**{BEGIN_IMMEDIATE: True})
        return conn

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        conn = self._connection()
        with conn.begin():
            return work(conn)

    def _read(self, work: Callable[[Connection], T]) -> T:
        conn = self._connection()
        # Connection.execution_options changes this connection in place (SQLAlchemy 2).
        conn.execution_options(**{BEGIN_IMMEDIATE: False})
        try:
            with conn.begin():
                return work(conn)
        finally:
            conn.execution_options(**{BEGIN_IMMEDIATE: True})

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.engine.dispose()

    async def close(self) -> None:
        """Close the connection and end the thread (after the transactions under way)."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=False)
