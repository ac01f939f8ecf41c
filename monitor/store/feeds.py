"""The `feeds` table: claiming due feeds, recording polls' state, reading feeds (the sync with
the configuration is `feed_sync.py`).

Functions here take an open connection inside a transaction; the `Store` owns the
transactions, the SQLite write lock and the error translation. Those of the polling path
(`claim_due_feeds`, `update_feed_state`, `update_feed_states`, `existing_feeds`, `get_feed`) are
synchronous, on a `Connection`: the Store runs them in one go (see `monitor.store.transact`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Feed, FeedStateUpdate, FeedStatus, FeedSummary, Validators
from monitor.store.memos import item_memos, write_item_memos
from monitor.store.schema import UtcDateTime, articles, chunks, feeds


def _claim_statement() -> sa.Update:
    """The claim of `claim_due_feeds`, built once (building it cost as much as running it)."""
    now = sa.bindparam("now", type_=UtcDateTime())
    # FOR UPDATE SKIP LOCKED lets concurrent claimers on PostgreSQL pass each other's rows by;
    # SQLite drops the clause, and the caller's write lock serialises the claimers there.
    due = (
        sa.select(feeds.c.id)
        .where(
            feeds.c.enabled == sa.true(),
            feeds.c.next_poll_at <= now,
            sa.or_(feeds.c.lease_until.is_(None), feeds.c.lease_until <= now),
        )
        .order_by(feeds.c.next_poll_at, feeds.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer()))
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    return (
        sa.update(feeds)
        .where(feeds.c.id == due.c.id)
        .values(lease_owner=sa.bindparam("owner"), lease_until=sa.bindparam("until"))
        .returning(*feeds.c)
    )


_CLAIM = _claim_statement()


def claim_due_feeds(
    conn: Connection, *, now: datetime, limit: int, lease: timedelta, owner: str
) -> list[Feed]:
    """Lease up to `limit` due feeds to `owner`, oldest due first, in one statement."""
    parameters = {"now": now, "limit": limit, "owner": owner, "until": now + lease}
    rows = [row._mapping for row in conn.execute(_CLAIM, parameters)]
    memos = item_memos(conn, [row["id"] for row in rows])
    claimed = [feed_from_row(row, memos.get(row["id"])) for row in rows]
    # RETURNING order is unspecified.
    return sorted(claimed, key=lambda f: (f.next_poll_at or now, f.id))


async def next_due_at(conn: AsyncConnection, *, now: datetime) -> datetime | None:
    """When `claim_due_feeds` can next return something; see `Store.next_due_at`."""
    live_lease = sa.and_(feeds.c.lease_until.is_not(None), feeds.c.lease_until > now)
    due_at = sa.case(
        (sa.and_(live_lease, feeds.c.lease_until > feeds.c.next_poll_at), feeds.c.lease_until),
        else_=feeds.c.next_poll_at,
    )
    statement = sa.select(sa.func.min(due_at, type_=UtcDateTime())).where(
        feeds.c.enabled == sa.true()
    )
    result: datetime | None = await conn.scalar(statement)
    return result


async def mark_all_due(conn: AsyncConnection, *, now: datetime) -> int:
    """Bring every enabled feed's `next_poll_at` forward to `now`; returns how many moved."""
    statement = (
        sa.update(feeds)
        .where(feeds.c.enabled == sa.true(), feeds.c.next_poll_at > now)
        .values(next_poll_at=now)
    )
    return (await conn.execute(statement)).rowcount


async def renew_claims(
    conn: AsyncConnection, owner: str, feed_ids: Sequence[str], *, until: datetime
) -> int:
    """Extend `owner`'s leases on `feed_ids` (the polls it still runs) to `until`."""
    renewed = 0
    for chunk in chunks(feed_ids):
        statement = (
            sa.update(feeds)
            .where(feeds.c.lease_owner == owner, feeds.c.id.in_(chunk))
            .values(lease_until=until)
        )
        renewed += (await conn.execute(statement)).rowcount
    return renewed


async def release_claims(
    conn: AsyncConnection, owner: str, feed_ids: Sequence[str] | None = None
) -> int:
    """Clear `owner`'s leases (on all its feeds, or on `feed_ids`); returns how many."""
    statement = (
        sa.update(feeds)
        .where(feeds.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
    if feed_ids is None:
        return (await conn.execute(statement)).rowcount
    released = 0
    for chunk in chunks(feed_ids):
        released += (await conn.execute(statement.where(feeds.c.id.in_(chunk)))).rowcount
    return released


def update_feed_state(
    conn: Connection, feed_id: str, update: FeedStateUpdate, *, owner: str | None
) -> bool:
    """Write one poll's outcome on the feed row and end its lease; False if no such feed."""
    result = conn.execute(_STATE_UPDATE, _state_values(feed_id, update, owner=owner))
    if result.rowcount != 1:
        return False
    if update.item_memo is not None:
        write_item_memos(conn, [(feed_id, update.item_memo)])
    return True


def update_feed_states(
    conn: Connection, updates: Sequence[tuple[str, FeedStateUpdate, str | None]]
) -> set[str]:
    """`update_feed_state` for many (feed id, update, owner), as one prepared statement;
    returns the ids of the feeds that do not exist."""
    if not updates:
        return set()
    values = [_state_values(feed_id, update, owner=owner) for feed_id, update, owner in updates]
    result = conn.execute(_STATE_UPDATE, values)
    missing: set[str] = set()
    # Every row was there when SQLite, which counts executemany's rows, says so: no need to look.
    if not conn.dialect.supports_sane_multi_rowcount or result.rowcount != len(values):
        wanted = [feed_id for feed_id, _, _ in updates]
        found: set[str] = set()
        for chunk in chunks(wanted):
            found.update(conn.scalars(sa.select(feeds.c.id).where(feeds.c.id.in_(chunk))))
        missing = set(wanted) - found
    memos = [
        (feed_id, update.item_memo)
        for feed_id, update, _ in updates
        if update.item_memo is not None and feed_id not in missing
    ]
    if memos:
        write_item_memos(conn, memos)
    return missing


def existing_feeds(conn: Connection, feed_ids: Sequence[str]) -> dict[str, Feed]:
    """The rows of those of `feed_ids` that exist."""
    found: dict[str, Feed] = {}
    for chunk in chunks(feed_ids):
        rows = conn.execute(sa.select(feeds).where(feeds.c.id.in_(chunk)))
        found.update((row.id, feed_from_row(row._mapping)) for row in rows)
    return found


def _state_values(feed_id: str, update: FeedStateUpdate, *, owner: str | None) -> dict[str, Any]:
    """The parameters of `_STATE_UPDATE` for one poll's outcome."""
    validators = update.validators
    return {
        "b_id": feed_id,
        "b_status": update.status.value,
        "b_status_code": update.status_code,
        "b_polled_at": update.polled_at,
        "b_next_poll_at": update.next_poll_at,
        "b_failed": int(update.error is not None),
        "b_error": update.error,
        "b_keep_validators": int(validators is None),
        "b_etag": validators.etag if validators else None,
        "b_last_modified": validators.last_modified if validators else None,
        "b_body_hash": validators.body_hash if validators else None,
        "b_url": update.url,
        "b_title": update.title or None,
        "b_poll_interval": update.poll_interval_seconds,
        "b_any_owner": int(owner is None),
        "b_owner": owner,
    }


def _state_update() -> sa.Update:
    """One statement for every poll outcome, so that many can share a prepared statement:
    the flags (`b_failed`, `b_keep_validators`, `b_any_owner`) choose what each row keeps."""

    def bind(name: str, type_: Any = None) -> Any:
        return sa.bindparam(f"b_{name}", type_=type_ or sa.Text())

    failed = bind("failed", sa.Integer()) == 1
    keep_validators = bind("keep_validators", sa.Integer()) == 1
    # Only the holder ends a lease: a poller whose lease expired must not free the feed
    # while the owner who claimed it since is still polling it.
    lease_ends = sa.or_(bind("any_owner", sa.Integer()) == 1, feeds.c.lease_owner == bind("owner"))
    polled_at = bind("polled_at", UtcDateTime())
    return (
        sa.update(feeds)
        .where(feeds.c.id == bind("id"))
        .values(
            # A feed disabled while it was being polled stays disabled.
            status=sa.case((feeds.c.enabled == sa.true(), bind("status")), else_=feeds.c.status),
            last_status_code=bind("status_code", sa.Integer()),
            last_poll_at=polled_at,
            next_poll_at=bind("next_poll_at", UtcDateTime()),
            updated_at=polled_at,
            lease_owner=sa.case((lease_ends, sa.null()), else_=feeds.c.lease_owner),
            lease_until=sa.case((lease_ends, sa.null()), else_=feeds.c.lease_until),
            error_count=sa.case((failed, feeds.c.error_count + 1), else_=0),
            last_error=bind("error"),
            last_success_at=sa.case((failed, feeds.c.last_success_at), else_=polled_at),
            etag=sa.case((keep_validators, feeds.c.etag), else_=bind("etag")),
            last_modified=sa.case(
                (keep_validators, feeds.c.last_modified), else_=bind("last_modified")
            ),
            body_hash=sa.case((keep_validators, feeds.c.body_hash), else_=bind("body_hash")),
            url=sa.func.coalesce(bind("url"), feeds.c.url),
            # A title from the config wins over the feed's own; the latter only fills a gap.
            title=sa.func.coalesce(feeds.c.title, bind("title")),
            poll_interval_seconds=sa.func.coalesce(
                bind("poll_interval", sa.Float()), feeds.c.poll_interval_seconds
            ),
        )
    )


_STATE_UPDATE = _state_update()


async def count_by_status(conn: AsyncConnection) -> dict[str, int]:
    """Enabled feeds by status (a disabled feed counts as `disabled`)."""
    query = sa.select(feeds.c.status, sa.func.count()).group_by(feeds.c.status)
    return {status: int(count) for status, count in await conn.execute(query)}


_FEED_BY_ID = sa.select(feeds).where(feeds.c.id == sa.bindparam("feed_id"))


def get_feed(conn: Connection, feed_id: str, *, with_memo: bool = True) -> Feed | None:
    row = conn.execute(_FEED_BY_ID, {"feed_id": feed_id}).first()
    if row is None:
        return None
    memo = item_memos(conn, [feed_id]).get(feed_id) if with_memo else None
    return feed_from_row(row._mapping, memo)


async def list_feeds(conn: AsyncConnection) -> list[FeedSummary]:
    counts = (
        sa.select(articles.c.feed_id, sa.func.count().label("n"))
        .group_by(articles.c.feed_id)
        .subquery("counts")
    )
    statement = (
        sa.select(feeds, sa.func.coalesce(counts.c.n, 0).label("article_count"))
        .select_from(feeds.outerjoin(counts, counts.c.feed_id == feeds.c.id))
        .order_by(feeds.c.id)
    )
    rows = await conn.execute(statement)
    return [
        FeedSummary(feed=feed_from_row(r._mapping), articles=int(r.article_count)) for r in rows
    ]


def feed_from_row(row: sa.RowMapping, item_memo: bytes | None = None) -> Feed:
    """A `feeds` row as the `Feed` record the other stages use."""
    return Feed(
        id=row["id"],
        url=row["url"],
        interval_seconds=float(row["interval_seconds"]),
        backfill=row["backfill"],
        tags=tuple(row["tags"]),
        title=row["title"],
        status=FeedStatus(row["status"]),
        validators=Validators(
            etag=row["etag"], last_modified=row["last_modified"], body_hash=row["body_hash"]
        ),
        last_status_code=row["last_status_code"],
        error_count=row["error_count"],
        last_error=row["last_error"],
        last_poll_at=row["last_poll_at"],
        last_success_at=row["last_success_at"],
        next_poll_at=row["next_poll_at"],
        min_interval_seconds=row["min_interval_seconds"],
        max_interval_seconds=row["max_interval_seconds"],
        poll_interval_seconds=row["poll_interval_seconds"],
        item_memo=item_memo,
    )
