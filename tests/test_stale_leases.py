"""Leases left by a killed process: on SQLite a restart ends them all and polls at once; on
PostgreSQL only those of an earlier process of this host and pid whose heartbeat stopped."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from monitor.store import Store
from monitor.store.schema import feeds
from tests.conftest import StoreFactory
from tests.daemon import Daemon
from tests.feedserver import FeedServer, stall_after_headers
from tests.test_pipeline import write_config
from tests.test_scheduler import FeedSpec
from tests.test_write_failures import small_feed

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


async def lease_to(store: Store, owners: dict[str, str]) -> None:
    """Lease each feed (id -> owner) as a claim would."""
    async with store.engine.begin() as conn:
        for feed_id, owner in owners.items():
            await conn.execute(
                sa.update(feeds)
                .where(feeds.c.id == feed_id)
                .values(lease_owner=owner, lease_until=NOW + LEASE)
            )


async def claimable(store: Store) -> list[str]:
    claimed = await store.claim_due_feeds(now=NOW, limit=10, lease=LEASE, owner="probe")
    await store.release_claims("probe")
    return sorted(f.id for f in claimed)


async def test_only_silent_earlier_processes_of_this_host_and_pid_lose_their_leases(
    database_url: str, make_store: StoreFactory
) -> None:
    store = await make_store(database_url)
    specs = [FeedSpec(name, f"http://127.0.0.1:9/{name}") for name in ("dead", "alive", "other")]
    await store.sync_feeds(specs, now=NOW)
    await store.heartbeat("box:1:alive", host="box", pid=1, version="t", now=NOW)
    old = NOW - timedelta(minutes=10)
    await store.heartbeat("box:1:dead", host="box", pid=1, version="t", now=old)
    await lease_to(store, {"dead": "box:1:dead", "alive": "box:1:alive", "other": "box:12:x"})
    assert await claimable(store) == []

    ended = await store.release_stale_leases(
        owner_prefix="box:1:", silent_since=NOW - timedelta(seconds=30)
    )
    assert ended == (1, 0)
    assert await claimable(store) == ["dead"]

    assert await store.release_stale_leases(owner_prefix=None, silent_since=NOW) == (2, 0)
    assert await claimable(store) == ["alive", "dead", "other"]


async def test_after_a_kill_9_on_sqlite_a_restart_polls_the_killed_poll_at_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/wire.xml", small_feed("w"))
    feed_server.script("/wire.xml", stall_after_headers(feed_server))  # mid-poll when killed
    write_config(tmp_path, {"wire": url})
    env = {"MONITOR_LOG_LEVEL": "DEBUG"}  # the default lease: 5 minutes

    first = await Daemon.start(tmp_path, env)
    try:
        await feed_server.wait_for_hits("/wire.xml", 1)
    finally:
        first.signal(signal.SIGKILL)
        await first.stop(signal_it=False)
    feed_server.release.set()

    async with await Daemon.start(tmp_path, env) as second:
        await feed_server.wait_for_hits("/wire.xml", 2, timeout=20)  # not after the lease
        assert any("released the leases" in line and "1 feeds" in line for line in second.lines)
