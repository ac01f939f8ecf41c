"""Replicas: each daemon's heartbeat, and the leases it holds, for `monitor status --cluster`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.schema import deliveries, feeds, replicas

__all__ = ["Replica", "heartbeat", "list_replicas", "mark_stopped", "release_stale_leases"]

KEPT = timedelta(days=1)  # a stopped or silent replica is forgotten after this


@dataclass(frozen=True, slots=True)
class Replica:
    id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    feed_leases: int
    delivery_leases: int


async def heartbeat(
    conn: AsyncConnection, replica_id: str, *, host: str, pid: int, version: str, now: datetime
) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(replicas).values(
        id=replica_id,
        host=host,
        pid=pid,
        version=version,
        started_at=now,
        heartbeat_at=now,
        stopped_at=None,
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[replicas.c.id], set_={"heartbeat_at": now, "stopped_at": None}
        )
    )
    await conn.execute(sa.delete(replicas).where(replicas.c.heartbeat_at < now - KEPT))


async def mark_stopped(conn: AsyncConnection, replica_id: str, *, now: datetime) -> None:
    await conn.execute(
        sa.update(replicas).where(replicas.c.id == replica_id).values(stopped_at=now)
    )


async def list_replicas(conn: AsyncConnection, *, now: datetime) -> list[Replica]:
    """Every replica seen in the last day, newest heartbeat first, with its live leases."""
    feed_leases = (
        sa.select(sa.func.count())
        .where(feeds.c.lease_owner == replicas.c.id, feeds.c.lease_until > now)
        .scalar_subquery()
    )
    # A replica's delivery worker leases as "<replica id>/deliver".
    delivery_leases = (
        sa.select(sa.func.count())
        .where(
            deliveries.c.lease_owner == replicas.c.id + "/deliver",
            deliveries.c.lease_until > now,
        )
        .scalar_subquery()
    )
    query = sa.select(replicas, feed_leases.label("feeds"), delivery_leases.label("deliveries"))
    rows = await conn.execute(query.order_by(replicas.c.heartbeat_at.desc()))
    return [
        Replica(
            id=row.id,
            host=row.host,
            pid=row.pid,
            version=row.version,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            stopped_at=row.stopped_at,
            feed_leases=row.feeds,
            delivery_leases=row.deliveries,
        )
        for row in rows
    ]


async def release_stale_leases(
    conn: AsyncConnection, *, owner_prefix: str | None, silent_since: datetime
) -> tuple[int, int]:
    """End the feed and delivery leases of processes that cannot be running: every lease
    (`owner_prefix=None`, for SQLite, where one daemon runs and a second is refused), or
    those of owners named `owner_prefix`... (an earlier process of this host and pid, as a
    restarted container is) that have not heartbeat since `silent_since`, so that a replica
    of another machine that happens to share the host name and pid keeps its own.
    Returns how many feed and delivery leases were ended."""
    ended: list[int] = []
    for table in (feeds, deliveries):
        statement = sa.update(table).where(table.c.lease_owner.is_not(None))
        if owner_prefix is not None:
            alive = sa.select(replicas.c.id).where(
                replicas.c.heartbeat_at >= silent_since, replicas.c.stopped_at.is_(None)
            )
            # A delivery worker leases as "<replica id>/deliver".
            owner = sa.func.replace(table.c.lease_owner, "/deliver", "")
            statement = statement.where(
                table.c.lease_owner.startswith(owner_prefix, autoescape=True),
                owner.not_in(alive),
            )
        result = await conn.execute(statement.values(lease_owner=None, lease_until=None))
        ended.append(result.rowcount or 0)
    return ended[0], ended[1]
