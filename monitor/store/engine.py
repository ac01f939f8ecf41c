"""The `Store`: its transactions, and every operation on feeds, articles, alerts and deliveries.

SQLite (aiosqlite, WAL) and PostgreSQL (asyncpg) run the same statements. SQLite has one writer:
writes are serialised in-process by a lock and start with BEGIN IMMEDIATE, so that a transaction
never has to upgrade a read lock (which fails with "database is locked" instead of waiting).
The polling path's writes on a SQLite file run in one go on a thread of their own
(`monitor.store.transact`). Opening the database (URL, engine, migrations) is `database.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.errors import StoreError
from monitor.models import (
    Alert,
    Article,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
    Feed,
    FeedStateUpdate,
    FeedSummary,
    OutboxPlan,
    RuleMatch,
)
from monitor.store import alerts as alert_rows
from monitor.store import articles as article_rows
from monitor.store import feed_sync, outbox, polls
from monitor.store import feeds as feed_rows
from monitor.store import replicas as replica_rows
from monitor.store.articles import RecordResult
from monitor.store.database import (
    async_database_url,
    at_head,
    create_engine,
    is_file_sqlite,
    is_memory,
    make_parent_directory,
    safe_url,
    translate_errors,
    upgrade_to_head,
)
from monitor.store.feed_sync import FeedConfigLike, SyncReport
from monitor.store.group import GroupCommit
from monitor.store.polls import PollRecord, StateRecord
from monitor.store.transact import BEGIN_IMMEDIATE, SqliteWriter

T = TypeVar("T")
_MIGRATION_LOCK_KEY = 0x6D6F6E69746F72  # pg_advisory_xact_lock key: replicas migrate one by one
_SYNC_LOCK_KEY = _MIGRATION_LOCK_KEY + 1  # ... and sync the feeds table one by one


async def open_store(database_url: str) -> Store:
    """Connect to `database_url`, bring its schema to the latest migration, return the Store.

    Raises `StoreError` (with the password redacted) when the URL is bad or the database is
    unreachable or refuses the migration.
    """
    url = async_database_url(database_url)
    message = f"cannot open database {safe_url(url)}"
    # Exception: whatever a driver raises for a URL it cannot use (OverflowError for a bad port).
    with translate_errors(message, url.password, Exception):
        engine = create_engine(url)
        await make_parent_directory(url)
    store = Store(engine, url, SqliteWriter(url) if is_file_sqlite(url) else None)
    try:
        with translate_errors(message, url.password, Exception):
            await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store


class Store:
    """Everything the daemon keeps: feeds, their polling state, the articles seen, the alerts.

    Get one from `open_store`; close it with `close()` or `async with`. Every method is one
    transaction. Times are passed in (`now=`), UTC-aware, and come back UTC-aware.
    """

    def __init__(self, engine: AsyncEngine, url: URL, writer: SqliteWriter | None = None) -> None:
        self._engine = engine
        self._writer = writer
        self._url = url
        self._secret = url.password
        self.safe_url = safe_url(url)
        self._closed = False
        self._sqlite = engine.dialect.name == "sqlite"
        lock = asyncio.Lock()
        self._write_lock: contextlib.AbstractAsyncContextManager[Any] = (
            lock if self._sqlite else contextlib.nullcontext()
        )
        # An in-memory SQLite database is one shared connection: reads must queue too.
        self._read_lock: contextlib.AbstractAsyncContextManager[Any] = (
            lock if self._sqlite and is_memory(url) else contextlib.nullcontext()
        )
        self._states = GroupCommit(self._record_states)

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine (for the store's own modules and tests)."""
        return self._engine

    def reader(self, connections: int) -> Store:
        """Another `Store` on the same database, for reads only, with its own pool of at most
        `connections`: a reader that is flooded (the status server's API) waits for its own
        connections and never takes the polling and delivery ones. Close it on its own, unless
        it is this store: an in-memory SQLite database is one shared connection, so its reader
        is the store itself."""
        if is_memory(self._url):
            return self
        with translate_errors(f"cannot open database {self.safe_url}", self._secret, Exception):
            return Store(create_engine(self._url, connections=connections), self._url)

    @property
    def poll_engine(self) -> sa.Engine:
        """The engine that commits polls' writes: on a SQLite file, the one-go writer's."""
        return self._writer.engine if self._writer is not None else self._engine.sync_engine

    async def close(self) -> None:
        """Close every connection. The store cannot be used afterwards."""
        if not self._closed:
            await self._states.wait_idle()
            self._closed = True
            if self._writer is not None:
                await self._writer.close()
            await self._engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def _write(self, operation: str) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on any error."""
        self._check_open()
        with translate_errors(operation, self._secret):
            async with self._write_lock, self._engine.connect() as plain:
                conn = plain
                if self._sqlite:
                    conn = await plain.execution_options(**{BEGIN_IMMEDIATE: True})
                async with conn.begin():
                    yield conn

    async def _write_in_one_go(self, operation: str, work: Callable[[Connection], T]) -> T:
        """`work` as one write transaction, run in one go (see `monitor.store.transact`)."""
        if self._writer is None:
            async with self._write(operation) as conn:
                return await conn.run_sync(work)
        self._check_open()
        with translate_errors(operation, self._secret):
            async with self._write_lock:
                return await self._writer.run(work)

    async def _read_in_one_go(self, operation: str, work: Callable[[Connection], T]) -> T:
        """`work` as one read transaction; on a SQLite file on the writer's thread, in one go
        (a read, so it holds no write lock)."""
        if self._writer is None:
            async with self._read(operation) as conn:
                return await conn.run_sync(work)
        self._check_open()
        with translate_errors(operation, self._secret):
            return await self._writer.read(work)

    @contextlib.asynccontextmanager
    async def _read(self, operation: str) -> AsyncIterator[AsyncConnection]:
        self._check_open()
        with translate_errors(operation, self._secret):
            async with self._read_lock, self._engine.connect() as conn:
                yield conn

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    async def migrate(self) -> None:
        """Apply the pending Alembic migrations (`open_store` does this)."""
        async with self._write(f"cannot migrate database {self.safe_url}") as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            if not await conn.run_sync(at_head):
                await conn.run_sync(upgrade_to_head)

    async def sync_feeds(self, feeds: Sequence[FeedConfigLike], *, now: datetime) -> SyncReport:
        """Make the feed rows match the configuration, in one transaction.

        New feeds are due now. A changed interval, tags, backfill or title is written. A changed
        URL (compared with the URL last configured, not the polled one, which permanent
        redirects move) forgets the validators and polls now, like a new feed. A feed missing
        from the configuration is disabled (kept, with its articles, never claimed); it is
        enabled again when it comes back. On PostgreSQL, replicas syncing at the same time take
        turns (an advisory lock), so that each sees the others' rows.
        """
        async with self._write("syncing feeds failed") as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SYNC_LOCK_KEY}
                )
            return await feed_sync.sync_feeds(conn, feeds, now=now)

    async def claim_due_feeds(
        self, *, now: datetime, limit: int, lease: timedelta, owner: str
    ) -> list[Feed]:
        """Lease up to `limit` enabled feeds due at `now` to `owner` until `now + lease`.

        A leased feed is not claimed again until its lease expires or is released; concurrent
        claimers (coroutines, processes, replicas) never get the same feed.
        """
        if limit <= 0:
            return []
        claim = functools.partial(
            feed_rows.claim_due_feeds, now=now, limit=limit, lease=lease, owner=owner
        )
        return await self._write_in_one_go("claiming due feeds failed", claim)

    async def next_due_at(self, *, now: datetime) -> datetime | None:
        """The earliest time `claim_due_feeds` may return a feed; None with no enabled feed.

        That is the earliest `next_poll_at` of the enabled feeds, where a feed under a live lease
        counts from when its lease ends (if it has not been recorded by then, it is due again).
        """
        async with self._read("reading the next due time failed") as conn:
            return await feed_rows.next_due_at(conn, now=now)

    async def mark_all_due(self, *, now: datetime) -> int:
        """Make every enabled feed due at `now` at the latest, whatever its interval or backoff
        (`monitor once`). Feeds already overdue keep their time, so they still go first; leases
        are kept. Returns how many feeds were brought forward."""
        async with self._write("marking feeds due failed") as conn:
            return await feed_rows.mark_all_due(conn, now=now)

    async def renew_claims(self, owner: str, feed_ids: Sequence[str], *, until: datetime) -> int:
        """Extend `owner`'s leases on the feeds it is still polling."""
        if not feed_ids:
            return 0
        async with self._write("renewing feed leases failed") as conn:
            return await feed_rows.renew_claims(conn, owner, feed_ids, until=until)

    async def release_claims(self, owner: str, feed_ids: Sequence[str] | None = None) -> int:
        """End `owner`'s leases (all, or on `feed_ids`) so that the feeds are due again."""
        async with self._write("releasing claims failed") as conn:
            return await feed_rows.release_claims(conn, owner, feed_ids)

    async def unseen_articles(self, feed_id: str, articles: Sequence[Article]) -> list[Article]:
        """The `articles` not stored yet for the feed, in input order (a repeated key: the
        first), those `record_poll` would insert now: a read, outside any write, so that the
        caller can match them before it writes."""
        if not articles:
            return []
        return await self._read_in_one_go(
            f"reading the articles of feed {feed_id} failed",
            functools.partial(article_rows.unseen_articles, feed_id=feed_id, items=articles),
        )

    async def record_poll(
        self,
        feed_id: str,
        update: FeedStateUpdate,
        articles: Sequence[Article] = (),
        *,
        owner: str | None = None,
        plan: OutboxPlan | None = None,
        matches: Mapping[str, Sequence[RuleMatch]] | None = None,
    ) -> RecordResult:
        """Store one poll's outcome in one transaction: the feed's state, its lease, its items,
        their alerts.

        The feed row gets `update` (`validators=None` keeps the stored ones; `error=None` is a
        success and resets the error count) and its lease ends (with `owner`, only if `owner`
        still holds it). Articles not stored yet for the feed are inserted and returned, in
        input order; a stored one whose `content_hash` changed is updated and only counted.

        `matches` maps an article key to the rule matches found in it, computed by the caller
        before the write (see `unseen_articles`). Each article inserted now (not one stored
        already, by an earlier poll or by another writer meanwhile) gets an alert per match
        of its key, detected at `update.polled_at`, unless its story (canonical URL, else
        feed and key) has an alert for that rule already; the alerts created are returned.
        With a `plan`, each alert gets its deliveries (the outbox), and a feed turning
        unhealthy or recovering gets a notice for the `ops` notifiers, in the same transaction.
        """
        poll = PollRecord(feed_id, update, articles, owner, plan, matches or {})
        return await self._write_in_one_go(
            f"recording the poll of feed {feed_id} failed",
            functools.partial(polls.record_poll, poll=poll),
        )

    async def record_state(
        self,
        feed_id: str,
        update: FeedStateUpdate,
        *,
        owner: str | None = None,
        plan: OutboxPlan | None = None,
    ) -> None:
        """`record_poll` for a poll that brought no articles (a 304, an unchanged body, a
        failure): the same effect, but written in a transaction shared with the other such
        polls recorded meanwhile (group commit), which is what lets a 304 cycle keep up."""
        if not await self._states.submit(StateRecord(feed_id, update, owner, plan)):
            raise StoreError(f"no feed {feed_id} to record a poll for")

    async def _record_states(self, records: list[StateRecord]) -> list[bool]:
        """Write a batch of `record_state` calls in one transaction; which feeds existed."""
        count = len(records)
        operation = f"recording the poll of feed {records[0].feed_id} failed"
        if count > 1:
            operation = f"recording the polls of {count} feeds failed"
        return await self._write_in_one_go(
            operation, functools.partial(polls.record_states, records=records)
        )

    async def get_feed(self, feed_id: str) -> Feed | None:
        async with self._read("reading a feed failed") as conn:
            return await conn.run_sync(feed_rows.get_feed, feed_id)

    async def list_feeds(self) -> list[FeedSummary]:
        """Every feed (disabled ones too) with its article count, ordered by id."""
        async with self._read("listing feeds failed") as conn:
            return await feed_rows.list_feeds(conn)

    async def articles_for_feed(self, feed_id: str, *, limit: int = 100) -> list[Article]:
        """The feed's `limit` most recently first-seen articles, newest first."""
        async with self._read("reading articles failed") as conn:
            return await article_rows.articles_for_feed(conn, feed_id, limit=limit)

    async def find_articles_by_url(self, url: str) -> list[Article]:
        """The stored articles whose canonical URL is `url`, in every feed, oldest first."""
        async with self._read("finding articles failed") as conn:
            return await article_rows.find_articles_by_url(conn, url)

    async def count_articles(self) -> int:
        async with self._read("counting articles failed") as conn:
            return await article_rows.count_articles(conn)

    async def list_alerts(
        self, *, since: datetime | None = None, rule_id: str | None = None, limit: int = 100
    ) -> list[Alert]:
        """The `limit` newest alerts, newest first: detected at `since` or later, of `rule_id`."""
        if limit <= 0:
            return []
        async with self._read("listing alerts failed") as conn:
            return await alert_rows.list_alerts(conn, since=since, rule_id=rule_id, limit=limit)

    async def get_alert(self, alert_id: str) -> Alert | None:
        async with self._read("reading an alert failed") as conn:
            return await alert_rows.get_alert(conn, alert_id)

    async def count_alerts(self) -> int:
        async with self._read("counting alerts failed") as conn:
            return await alert_rows.count_alerts(conn)

    # ---- the outbox ---------------------------------------------------------------------------
    async def claim_deliveries(
        self, owner: str, *, now: datetime, limit: int, lease: timedelta
    ) -> list[ClaimedDelivery]:
        """Lease up to about `limit` due deliveries (whole batches) to `owner`, oldest first,
        for `lease` (the worker's, from MONITOR_DELIVERY_LEASE)."""
        async with self._write("claiming deliveries failed") as conn:
            return await outbox.claim_due(conn, owner, now=now, limit=limit, lease=lease)

    async def settle_deliveries(
        self, outcomes: Sequence[DeliveryOutcome], *, now: datetime
    ) -> None:
        async with self._write("recording deliveries failed") as conn:
            await outbox.settle(conn, outcomes, now=now)

    async def hold_deliveries(self, ids: Sequence[str], *, until: datetime, now: datetime) -> None:
        async with self._write("holding deliveries failed") as conn:
            await outbox.hold(conn, ids, until=until, now=now)

    async def gather_held(
        self, notifier_id: str, *, now: datetime, due_only: bool = False
    ) -> tuple[str, int] | None:
        async with self._write(f"gathering a batch for notifier {notifier_id} failed") as conn:
            return await outbox.gather(conn, notifier_id, now=now, due_only=due_only)

    async def sent_since(self, notifier_id: str, since: datetime) -> int:
        async with self._read("counting sent deliveries failed") as conn:
            return await outbox.sent_since(conn, notifier_id, since)

    async def retry_dead(
        self, *, now: datetime, notifier_id: str | None = None, ids: Sequence[str] = ()
    ) -> int:
        async with self._write("re-queueing dead deliveries failed") as conn:
            return await outbox.retry_dead(conn, now=now, notifier_id=notifier_id, ids=ids)

    async def renew_deliveries(self, owner: str, *, until: datetime) -> int:
        """Extend `owner`'s leases on the deliveries it is sending."""
        async with self._write("renewing delivery leases failed") as conn:
            return await outbox.renew(conn, owner, until=until)

    async def release_deliveries(self, owner: str) -> int:
        async with self._write("releasing deliveries failed") as conn:
            return await outbox.release(conn, owner)

    async def next_delivery_at(self) -> datetime | None:
        async with self._read("reading the next delivery time failed") as conn:
            return await outbox.next_due_at(conn)

    async def oldest_pending_delivery_at(self) -> datetime | None:
        async with self._read("reading the outbox failed") as conn:
            return await outbox.oldest_pending_at(conn)

    async def count_feeds_by_status(self) -> dict[str, int]:
        async with self._read("counting feeds failed") as conn:
            return await feed_rows.count_by_status(conn)

    async def ping(self) -> None:
        """One round trip to the database (readiness). Raises StoreError."""
        async with self._read("the database is not reachable") as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def count_deliveries(self) -> dict[str, int]:
        """Deliveries by state."""
        async with self._read("counting deliveries failed") as conn:
            return await outbox.count_by_state(conn)

    async def list_deliveries(
        self, *, state: str | None = None, notifier_id: str | None = None, limit: int = 100
    ) -> list[outbox.DeliveryRow]:
        """The newest deliveries first, optionally of one state or notifier."""
        async with self._read("listing deliveries failed") as conn:
            return await outbox.list_deliveries(
                conn, state=state, notifier_id=notifier_id, limit=limit
            )

    async def delivery_statuses(self, alert_ids: Sequence[str]) -> dict[str, list[DeliveryStatus]]:
        async with self._read("reading delivery states failed") as conn:
            return await outbox.statuses_for_alerts(conn, alert_ids)

    async def add_silence(
        self, rule_id: str, *, now: datetime, duration: timedelta, reason: str
    ) -> outbox.Silence:
        async with self._write("adding a silence failed") as conn:
            return await outbox.add_silence(
                conn, rule_id, now=now, duration=duration, reason=reason
            )

    async def list_silences(self, *, now: datetime) -> list[outbox.Silence]:
        async with self._read("listing silences failed") as conn:
            return await outbox.list_silences(conn, now=now)

    async def end_silence(self, silence_id: str, *, now: datetime) -> bool:
        async with self._write("ending a silence failed") as conn:
            return await outbox.end_silence(conn, silence_id, now=now)

    async def delete_expired_silences(self, *, before: datetime) -> int:
        async with self._write("deleting expired silences failed") as conn:
            return await outbox.delete_expired_silences(conn, before=before)

    # ---- replicas -----------------------------------------------------------------------------
    async def heartbeat(
        self, replica_id: str, *, host: str, pid: int, version: str, now: datetime
    ) -> None:
        """Say that `replica_id` is alive (and forget replicas silent for a day)."""
        async with self._write("recording a heartbeat failed") as conn:
            await replica_rows.heartbeat(
                conn, replica_id, host=host, pid=pid, version=version, now=now
            )

    async def release_stale_leases(
        self, *, owner_prefix: str | None, silent_since: datetime
    ) -> tuple[int, int]:
        """End the leases of processes that cannot be running (see
        `replicas.release_stale_leases`); how many feed and delivery leases were ended."""
        async with self._write("releasing stale leases failed") as conn:
            return await replica_rows.release_stale_leases(
                conn, owner_prefix=owner_prefix, silent_since=silent_since
            )

    async def replica_stopped(self, replica_id: str, *, now: datetime) -> None:
        async with self._write("recording a replica's stop failed") as conn:
            await replica_rows.mark_stopped(conn, replica_id, now=now)

    async def list_replicas(self, *, now: datetime) -> list[replica_rows.Replica]:
        async with self._read("listing replicas failed") as conn:
            return await replica_rows.list_replicas(conn, now=now)
