"""Several `monitor run` replicas on one PostgreSQL database: each feed polled once per interval
by one replica at a time, each alert delivered once, a killed replica's feeds taken over, a new
replica taking a share, and `monitor status --cluster` listing them."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_database
from tests.daemon import Daemon
from tests.feedserver import Document, FeedServer
from tests.test_cli import monitor
from tests.test_pipeline import rss
from tests.webhookreceiver import WebhookReceiver

pytestmark = pytest.mark.postgres

FEEDS = int(os.environ.get("REPLICA_TEST_FEEDS", "300"))
INTERVAL = 2.0  # seconds
REPLICA_ENV = {
    # Far longer than a poll, even on a loaded machine: a lease that ran out mid-poll would let
    # another replica poll the feed too. Still short enough for the takeover after the kill.
    "MONITOR_FEED_LEASE": "10s",
    "MONITOR_DELIVERY_LEASE": "3s",
    "MONITOR_LOG_LEVEL": "DEBUG",
}
POLL_LINE = re.compile(r"feed (f\d+): (not_modified|unchanged|ok)")


def write_config(folder: Path, feed_server: FeedServer, hook: str) -> None:
    lines = ["feeds:"]
    for n in range(FEEDS):
        url = feed_server.url(f"/f{n}.xml")
        lines += [f"  - id: f{n}", f"    url: {url}", f"    interval: {INTERVAL:g}s"]
    lines += [
        "rules: [rules.yaml]",
        "notifiers:",
        f"  - id: hook\n    type: webhook\n    url: {hook}\n    concurrency: 4",
    ]
    (folder / "monitor.yaml").write_text("\n".join(lines) + "\n")
    (folder / "rules.yaml").write_text(
        "rules:\n  - id: breaking\n    keywords: {any: [breaking]}\n"
    )


def polls_by_feed(feed_server: FeedServer) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    for seen in feed_server.requests:
        found[seen.path.strip("/").removesuffix(".xml")].append(seen.at)
    return found


def polls_seen_by(daemon: Daemon) -> int:
    return sum(1 for line in daemon.lines if POLL_LINE.search(line))


async def test_three_replicas_share_the_feeds_and_send_each_alert_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    quiet = Document.of(rss(("old", "Quiet day", "nothing")))
    for n in range(FEEDS):
        feed_server.serve(f"/f{n}.xml", quiet)
    async with WebhookReceiver() as receiver, fresh_postgres_database() as database:
        write_config(tmp_path, feed_server, receiver.url())
        env = {**REPLICA_ENV, "MONITOR_DATABASE_URL": database}
        replicas = list(await asyncio.gather(*(Daemon.start(tmp_path, env) for _ in range(3))))
        try:
            last = f"/f{FEEDS - 1}.xml"
            await feed_server.wait_for_hits(last, 2, timeout=60)  # a cycle after the first

            breaking = [f"f{n}" for n in range(0, FEEDS, 10)]  # 30 feeds get a matching item
            changed_at = round(time.time(), 1)
            for feed_id in breaking:
                news = rss(
                    (f"new-{feed_id}", f"Breaking news from {feed_id}", "breaking"),
                    ("old", "Quiet day", "x"),
                )
                later = datetime(2026, 11, 2, tzinfo=UTC)  # newer than the quiet document
                feed_server.serve(f"/{feed_id}.xml", Document.of(news, last_modified=later))
            try:
                await receiver.wait_for(len(breaking), timeout=60)
            except TimeoutError:
                interesting = re.compile(r"alert|deliver|ERROR|WARNING|: ok")
                lines = [x for r in replicas for x in r.lines if interesting.search(x)]
                seen = [
                    (round(x.at, 1), x.headers.get("If-None-Match"))
                    for x in feed_server.requests
                    if x.path == "/f0.xml"
                ]
                raise AssertionError("\n".join(lines[-80:]) + f"\n{changed_at}: {seen}") from None

            replicas[0].signal(signal.SIGKILL)  # mid-cycle: its leases expire, others take over
            await replicas[0].stop(timeout=10, signal_it=False)
            killed_at = asyncio.get_running_loop().time()
            fourth = await Daemon.start(tmp_path, env)
            replicas.append(fourth)
            before = {n: len(feed_server.hits(f"/f{n}.xml")) for n in range(FEEDS)}
            await asyncio.gather(  # every feed polled again after the kill
                *(
                    feed_server.wait_for_hits(f"/f{n}.xml", before[n] + 1, timeout=30)
                    for n in range(FEEDS)
                )
            )
            took = asyncio.get_running_loop().time() - killed_at
            await fourth.wait_for_log(POLL_LINE.pattern, count=5)

            code, out, err = await monitor(
                "status",
                "--cluster",
                "--json",
                cwd=tmp_path,
                env={"MONITOR_DATABASE_URL": database},
            )
            assert code == 0, err
            states = sorted(r["state"] for r in json.loads(out)["replicas"])
            # Before the replicas stop: a poll cut short by a stop gives its feed back at once,
            # and another replica may then poll it again sooner than an interval.
            polled = polls_by_feed(feed_server)
        finally:
            for replica in replicas[1:]:
                assert await replica.stop() == 0

    # Never two replicas on one feed: consecutive requests for a feed are an interval apart.
    for feed_id, times in polled.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps, default=INTERVAL) >= INTERVAL * 0.8, (feed_id, gaps)
    # Each alert delivered once, whichever replica stored it.
    # (A delivery the killed replica sent but had not recorded yet is sent again by another,
    # with the same webhook-id: at-least-once, and the receiver can drop the duplicate.)
    by_id: dict[str | None, set[str]] = defaultdict(set)
    for request in receiver.requests:
        by_id[request.webhook_id].add(request.json()["id"])
    assert len(by_id) == len(breaking)  # one delivery per alert
    assert all(len(alerts) == 1 for alerts in by_id.values())
    feeds = {request.json()["article"]["feed"]["id"] for request in receiver.requests}
    assert feeds == set(breaking)
    # The killed replica's feeds came back within its lease (10 s) and an interval.
    assert took < 10 + INTERVAL + 10
    assert all(polls_seen_by(r) > 0 for r in replicas[1:])  # every live replica did some work
    # All four seen; the killed one stays "alive" until three heartbeats are missed (35 s).
    assert states == ["alive"] * 4
