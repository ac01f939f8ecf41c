"""The feeds' item memos (`monitor.parse.memo`): read with the claim, replaced by a parsed poll.
Synchronous functions of a `Connection`, run in the poll's own transaction (`transact.py`)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from monitor.store.schema import chunks, feed_memos


def item_memos(conn: Connection, feed_ids: Sequence[str]) -> dict[str, bytes]:
    """The item memos of those of `feed_ids` that have one."""
    found: dict[str, bytes] = {}
    for chunk in chunks(feed_ids):
        rows = conn.execute(_MEMOS, {"ids": list(chunk)})
        found.update((row.feed_id, bytes(row.item_memo)) for row in rows)
    return found


def write_item_memos(conn: Connection, memos: Sequence[tuple[str, bytes]]) -> None:
    """Replace the feeds' item memos; an empty memo removes the old one. An upsert: one
    statement, which does not rely on the feed row's lock (taken by the state update first) to
    keep two writers of one feed from colliding on the key."""
    forgotten = [{"feed_id": feed_id} for feed_id, memo in memos if not memo]
    if forgotten:
        conn.execute(_FORGET_MEMO, forgotten)
    kept = [{"feed_id": feed_id, "item_memo": memo} for feed_id, memo in memos if memo]
    if kept:
        conn.execute(_MEMO_UPSERTS[conn.dialect.name], kept)


def _memo_upsert(dialect: str) -> sa.Insert:
    insert = postgresql.insert(feed_memos) if dialect == "postgresql" else sqlite.insert(feed_memos)
    return insert.on_conflict_do_update(
        index_elements=[feed_memos.c.feed_id], set_={"item_memo": insert.excluded.item_memo}
    )


_MEMOS = sa.select(feed_memos.c.feed_id, feed_memos.c.item_memo).where(
    feed_memos.c.feed_id.in_(sa.bindparam("ids", expanding=True))
)
_FORGET_MEMO = sa.delete(feed_memos).where(feed_memos.c.feed_id == sa.bindparam("feed_id"))
_MEMO_UPSERTS = {dialect: _memo_upsert(dialect) for dialect in ("postgresql", "sqlite")}
