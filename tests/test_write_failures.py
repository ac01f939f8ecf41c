"""A poll whose write the store refuses: recorded on the feed as a failure (error, backoff,
lease given back), the other feeds polled on, and one log line rather than a traceback a poll.

Real SQLite (its limits: SQLITE_LIMIT_LENGTH, `max_page_count`) and PostgreSQL (a CHECK)."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.errors import StoreError, StoreFullError
from monitor.models import FeedStatus, PollStatus
from monitor.store import Store
from monitor.unrecorded import UnrecordedPolls
from tests import test_pipeline
from tests.feedserver import Document, FeedServer, status
from tests.test_pipeline import START, Harness, MakeHarness, rss

harness_factory = test_pipeline.harness_factory  # the fixture, shared

BIG = 20_000  # characters of an item's text that the store is made to refuse
LOGGER_NAMES = ("monitor",)


def big_feed(guid: str) -> Document:
    return Document.of(rss((guid, "Big story", "x" * BIG)))


def small_feed(guid: str) -> Document:
    return Document.of(rss((guid, "Small story", "short")))


async def refuse_big_values(store: Store) -> None:
    """Make the store refuse a text of BIG characters: on SQLite by lowering the length limit
    of the connection that writes polls (opened at the first claim, after `start`), on
    PostgreSQL with a CHECK on the articles."""
    if store.engine.dialect.name == "sqlite":

        def lower_limit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, BIG // 2)

        sa.event.listen(store.poll_engine, "connect", lower_limit)
        return
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.text(
                f"ALTER TABLE articles ADD CONSTRAINT refuse_big CHECK (length(summary) < {BIG})"
            )
        )


def problems(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def assert_released_with_backoff(h: Harness, feed_id: str) -> datetime:
    """The feed failed once, is due again after its backoff (not now) and nobody holds it:
    claimable at its backoff time, not after the 5-minute lease."""
    feed = await h.feed(feed_id)
    assert (feed.status, feed.error_count) == (FeedStatus.ERROR, 1)
    assert feed.next_poll_at is not None
    assert START + timedelta(seconds=5) <= feed.next_poll_at <= START + timedelta(minutes=2)
    store = h.service.store
    lease = timedelta(minutes=5)
    early = await store.claim_due_feeds(now=START, limit=10, lease=lease, owner="probe")
    assert feed_id not in [f.id for f in early]
    due = await store.claim_due_feeds(now=feed.next_poll_at, limit=10, lease=lease, owner="probe")
    assert feed_id in [f.id for f in due]
    await store.release_claims("probe")  # the probe's claims, on other feeds too
    return feed.next_poll_at


async def test_a_value_the_store_refuses_fails_only_that_feed(
    feed_server: FeedServer, harness_factory: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    urls = {
        "big": feed_server.serve("/big.xml", big_feed("b1")),
        "small1": feed_server.serve("/small1.xml", small_feed("s1")),
        "small2": feed_server.serve("/small2.xml", small_feed("s2")),
    }
    h = await harness_factory(urls)
    await refuse_big_values(h.service.store)
    caplog.set_level(logging.INFO)

    tally = await h.service.poll_all()

    assert tally.polled == 3
    assert [o.feed_id for o in tally.failures] == ["big"]
    big = await h.feed("big")
    sqlite = h.service.store.engine.dialect.name == "sqlite"
    expected = "string or blob too big" if sqlite else "check constraint"
    assert expected in (big.last_error or "").lower()
    assert "the store could not record this poll" in (big.last_error or "")
    assert await h.service.store.articles_for_feed("big") == []
    for feed_id in ("small1", "small2"):
        assert (await h.feed(feed_id)).status is FeedStatus.OK
        assert len(await h.service.store.articles_for_feed(feed_id)) == 1
    [line] = problems(caplog)
    assert line.levelno == logging.WARNING and "feed big" in line.getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in caplog.text
    await assert_released_with_backoff(h, "big")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_full_database_records_each_failure_and_logs_one_line(
    feed_server: FeedServer, harness_factory: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    bigs = {f"big{n}": feed_server.serve(f"/big{n}.xml", big_feed(f"b{n}")) for n in range(3)}
    small = {"small": feed_server.serve("/small.xml", small_feed("s"))}
    h = await harness_factory({**bigs, **small})

    def no_room_to_grow(dbapi_connection: Any, _record: Any) -> None:
        # Never below the file's size: the database cannot grow by a page (SQLITE_FULL).
        dbapi_connection.execute("PRAGMA max_page_count = 1")

    sa.event.listen(h.service.store.poll_engine, "connect", no_room_to_grow)
    caplog.set_level(logging.INFO)

    tally = await h.service.poll_all()

    assert tally.polled == 4
    assert sorted(o.feed_id for o in tally.failures) == sorted(bigs)
    for feed_id in bigs:
        assert "database or disk is full" in ((await h.feed(feed_id)).last_error or "")
        await assert_released_with_backoff(h, feed_id)
    assert (await h.feed("small")).status is FeedStatus.OK
    [line] = problems(caplog)
    assert line.levelno == logging.ERROR
    assert line.getMessage().startswith("database is full: polls cannot be recorded (")
    assert "database or disk is full" in line.getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_failure_the_store_cannot_record_gives_the_lease_back_at_the_next_claim(
    feed_server: FeedServer, harness_factory: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    url = feed_server.serve("/down.xml", small_feed("d"))
    feed_server.script("/down.xml", status(500), status(500))
    other = feed_server.serve("/other.xml", small_feed("o"))
    h = await harness_factory({"down": url, "other": other})
    async with h.service.store.engine.begin() as conn:  # the store refuses to record a failure
        await conn.execute(
            sa.text(
                "CREATE TRIGGER refuse_failures BEFORE UPDATE ON feeds "
                "WHEN NEW.last_error IS NOT NULL BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    caplog.set_level(logging.INFO)

    tally = await h.service.poll_all()

    assert [o.status for o in tally.failures] == [PollStatus.FAILED]
    assert (await h.feed("other")).status is FeedStatus.OK
    [line] = problems(caplog)
    assert line.getMessage().startswith("store error: polls cannot be recorded (1 feeds failed")
    assert "refused" in line.getMessage()
    assert "Traceback" not in caplog.text
    assert len(feed_server.hits("/down.xml")) == 1  # not again at once: no busy loop
    # The lease was cut short: the feed is polled again a minute later, not after 5.
    h.clock.advance(timedelta(seconds=61))
    await h.service.poll_all()
    assert len(feed_server.hits("/down.xml")) == 2
    assert len(problems(caplog)) == 1  # the same outage: no second line within the minute


def test_unrecorded_polls_log_once_a_minute_and_once_more_when_writes_work_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    unrecorded = UnrecordedPolls(
        clock=lambda: datetime(2026, 11, 26, 12, 0, tzinfo=UTC), monotonic=lambda: now[0]
    )
    caplog.set_level(logging.INFO)
    full = StoreFullError("recording failed", reason="database or disk is full")
    for n in range(100):
        unrecorded.failed(full, f"f{n % 7}")
        now[0] += 1.0  # 100 failures over 100 seconds: two lines
    unrecorded.failed(StoreError("claiming failed"))
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "database is full: polls cannot be recorded (1 feeds failed since "
        "2026-11-26 12:00:00 UTC): database or disk is full",
        "database is full: polls cannot be recorded (7 feeds failed since "
        "2026-11-26 12:00:00 UTC): database or disk is full",
    ]
    unrecorded.recorded()
    unrecorded.recorded()
    assert caplog.records[-1].getMessage() == (
        "polls are recorded again (7 feeds failed since 2026-11-26 12:00:00 UTC)"
    )
    assert len(caplog.records) == 3 and not unrecorded.failing
    unrecorded.failed(full, "f1")  # failing again within the minute: counted, not logged
    unrecorded.recorded()
    assert len(caplog.records) == 3
