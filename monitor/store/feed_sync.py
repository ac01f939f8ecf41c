"""The `feeds` table made to match the configuration: new feeds added, changed ones updated,
missing ones disabled (kept, with their articles), in the Store's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import FeedStatus
from monitor.store.schema import chunks, feed_memos, feeds

__all__ = ["FeedConfigLike", "SyncReport", "sync_feeds"]


class FeedConfigLike(Protocol):
    """A feed as the configuration declares it (`monitor.config`'s `FeedConfig` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def interval(self) -> timedelta: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def backfill(self) -> int: ...
    @property
    def title(self) -> str | None: ...
    @property
    def min_interval(self) -> timedelta | None: ...
    @property
    def max_interval(self) -> timedelta | None: ...


@dataclass(frozen=True, slots=True)
class SyncReport:
    """The feed ids `sync_feeds` added, changed (or enabled again) and disabled."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()


_SYNC_COLUMNS = (
    feeds.c.id,
    feeds.c.config_url,
    feeds.c.interval_seconds,
    feeds.c.min_interval_seconds,
    feeds.c.max_interval_seconds,
    feeds.c.tags,
    feeds.c.backfill,
    feeds.c.title,
    feeds.c.enabled,
    feeds.c.error_count,
    feeds.c.last_success_at,
)


async def sync_feeds(
    conn: AsyncConnection, configs: Sequence[FeedConfigLike], *, now: datetime
) -> SyncReport:
    """Make the feed rows match the configuration; see `Store.sync_feeds`."""
    if len({c.id for c in configs}) != len(configs):
        raise ValueError("duplicate feed ids in the configuration")
    stored = {r.id: r._mapping for r in await conn.execute(sa.select(*_SYNC_COLUMNS))}
    inserts: list[dict[str, Any]] = []
    changes: list[tuple[str, dict[str, Any]]] = []
    for config in configs:
        row = stored.get(config.id)
        if row is None:
            inserts.append(_new_feed_values(config, now))
        elif values := _changed_values(row, config, now):
            changes.append((config.id, values))
    wanted = {c.id for c in configs}
    gone = sorted(i for i, row in stored.items() if row["enabled"] and i not in wanted)
    if inserts:
        await conn.execute(sa.insert(feeds), inserts)
    for feed_id, values in changes:
        await conn.execute(sa.update(feeds).where(feeds.c.id == feed_id).values(values))
        if "config_url" in values:  # another document: its items are not the old one's
            await conn.execute(sa.delete(feed_memos).where(feed_memos.c.feed_id == feed_id))
    await _disable(conn, gone, now)
    return SyncReport(
        added=tuple(v["id"] for v in inserts),
        updated=tuple(i for i, _ in changes),
        disabled=tuple(gone),
    )


def _new_feed_values(config: FeedConfigLike, now: datetime) -> dict[str, Any]:
    return {
        "id": config.id,
        "url": config.url,
        "config_url": config.url,
        "interval_seconds": config.interval.total_seconds(),
        **_bounds(config),
        "tags": list(config.tags),
        "backfill": config.backfill,
        "title": config.title,
        "enabled": True,
        "status": FeedStatus.NEW.value,
        "error_count": 0,
        "next_poll_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _changed_values(row: sa.RowMapping, config: FeedConfigLike, now: datetime) -> dict[str, Any]:
    """The columns to write for a feed already stored; empty when nothing changed."""
    values: dict[str, Any] = {}
    if not row["enabled"]:
        values.update(enabled=True, next_poll_at=now, status=_resumed_status(row).value)
    if row["config_url"] != config.url:
        # Another address is another document: forget what the old one told us, poll it now,
        # and treat its first read like a new feed's (no alerts on its backlog).
        values.update(
            url=config.url,
            config_url=config.url,
            etag=None,
            last_modified=None,
            body_hash=None,
            next_poll_at=now,
            status=FeedStatus.NEW.value,
            error_count=0,
            last_error=None,
            last_status_code=None,
            last_success_at=None,
        )
    interval = config.interval.total_seconds()
    bounds = _bounds(config)
    if row["interval_seconds"] != interval or any(row[k] != v for k, v in bounds.items()):
        # New settings: adaptive polling measures again from the new interval.
        values.update(interval_seconds=interval, poll_interval_seconds=None, **bounds)
    if tuple(row["tags"]) != tuple(config.tags):
        values["tags"] = list(config.tags)
    if row["backfill"] != config.backfill:
        values["backfill"] = config.backfill
    # No title in the config means "the feed's own title", which polls fill in: keep it.
    if config.title is not None and row["title"] != config.title:
        values["title"] = config.title
    if values:
        values["updated_at"] = now
    return values


def _bounds(config: FeedConfigLike) -> dict[str, float | None]:
    low, high = config.min_interval, config.max_interval
    return {
        "min_interval_seconds": None if low is None else low.total_seconds(),
        "max_interval_seconds": None if high is None else high.total_seconds(),
    }


def _resumed_status(row: sa.RowMapping) -> FeedStatus:
    if row["last_success_at"] is None:
        return FeedStatus.NEW
    return FeedStatus.ERROR if row["error_count"] else FeedStatus.OK


async def _disable(conn: AsyncConnection, feed_ids: Sequence[str], now: datetime) -> None:
    for chunk in chunks(feed_ids):
        await conn.execute(
            sa.update(feeds)
            .where(feeds.c.id.in_(chunk))
            .values(
                enabled=False,
                status=FeedStatus.DISABLED.value,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
