"""The store on SQLite and PostgreSQL: feed sync, claims and leases, recording polls, queries."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.errors import StoreError
from monitor.models import Article, FeedStateUpdate, FeedStatus, Validators
from monitor.store import Store, open_store
from tests.conftest import StoreFactory

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@dataclasses.dataclass(frozen=True)
class FeedConf:
    """A FeedConfigLike, as the config package gives them."""

    id: str
    url: str = ""
    interval: timedelta = timedelta(minutes=10)
    tags: tuple[str, ...] = ()
    backfill: int = 0
    title: str | None = None
    min_interval: timedelta | None = None
    max_interval: timedelta | None = None

    def __post_init__(self) -> None:
        if not self.url:
            object.__setattr__(self, "url", f"https://example.org/{self.id}.xml")


def article(feed_id: str, key: str, **changes: Any) -> Article:
    fields: dict[str, Any] = {
        "feed_id": feed_id,
        "key": key,
        "url": f"https://example.org/{feed_id}/{key}",
        "link": f"https://example.org/{feed_id}/{key}?utm_source=rss",
        "title": f"Title {key}",
        "summary": f"<p>Summary {key}</p>",
        "content": f"<p>Content {key}</p>",
        "summary_text": f"Summary {key}",
        "content_text": f"Content {key}",
        "authors": ("A. Writer",),
        "tags": ("news",),
        "published": NOW - timedelta(hours=1),
        "language": "en",
        "content_hash": f"hash-{key}",
    }
    fields.update(changes)
    return Article(**fields)


def polled(at: datetime = NOW, **changes: Any) -> FeedStateUpdate:
    fields: dict[str, Any] = {
        "polled_at": at,
        "next_poll_at": at + timedelta(minutes=10),
        "status": FeedStatus.OK,
        "status_code": 200,
    }
    fields.update(changes)
    return FeedStateUpdate(**fields)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()


RecordState = Callable[..., Awaitable[Any]]


@pytest.fixture(params=["record_poll", "record_state"])
def record(request: pytest.FixtureRequest, store: Store) -> RecordState:
    """Records a poll that brought no articles, alone or by group commit (the same effect)."""
    method: RecordState = getattr(store, request.param)
    return method


async def claim(
    store: Store, *, at: datetime = NOW, limit: int = 100, owner: str = "w1"
) -> list[str]:
    return [
        f.id for f in await store.claim_due_feeds(now=at, limit=limit, lease=LEASE, owner=owner)
    ]


# --- sync_feeds -----------------------------------------------------------------------------


async def test_sync_adds_new_feeds_due_now(store: Store) -> None:
    report = await store.sync_feeds(
        [FeedConf("b", tags=("wire", "ru"), backfill=3, title="B"), FeedConf("a")], now=NOW
    )

    assert report.added == ("b", "a")
    assert (report.updated, report.disabled) == ((), ())
    feed = await store.get_feed("b")
    assert feed is not None
    assert (feed.url, feed.interval_seconds, feed.tags, feed.backfill, feed.title) == (
        "https://example.org/b.xml",
        600.0,
        ("wire", "ru"),
        3,
        "B",
    )
    assert (feed.status, feed.next_poll_at, feed.first_poll) == (FeedStatus.NEW, NOW, True)
    assert await store.get_feed("missing") is None


@pytest.mark.parametrize(
    "change",
    [
        {"interval": timedelta(hours=1)},
        {"tags": ("other",)},
        {"backfill": 5},
        {"title": "Renamed"},
    ],
    ids=["interval", "tags", "backfill", "title"],
)
async def test_sync_writes_changed_settings(store: Store, change: dict[str, Any]) -> None:
    original = FeedConf("a", title="Original")
    await store.sync_feeds([original, FeedConf("b")], now=NOW)
    edited = dataclasses.replace(original, **change)

    report = await store.sync_feeds([edited, FeedConf("b")], now=NOW + timedelta(minutes=1))

    assert report.updated == ("a",)
    assert (report.added, report.disabled) == ((), ())
    feed = await store.get_feed("a")
    assert feed is not None
    assert (feed.interval_seconds, feed.tags, feed.backfill, feed.title) == (
        edited.interval.total_seconds(),
        edited.tags,
        edited.backfill,
        edited.title,
    )
    again = await store.sync_feeds([edited, FeedConf("b")], now=NOW + timedelta(minutes=2))
    assert again.updated == ()


async def test_sync_disables_a_feed_gone_from_the_config(store: Store) -> None:
    await store.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)
    await store.record_poll("a", polled(), [article("a", "1"), article("a", "2")])

    report = await store.sync_feeds([FeedConf("b")], now=NOW)

    assert report.disabled == ("a",)
    summaries = {s.feed.id: s for s in await store.list_feeds()}
    assert summaries["a"].feed.status == FeedStatus.DISABLED
    assert summaries["a"].articles == 2
    assert await claim(store, at=NOW + timedelta(days=1)) == ["b"]
    assert (await store.sync_feeds([FeedConf("b")], now=NOW)).disabled == ()


async def test_sync_enables_a_returning_feed(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    await store.record_poll("a", polled())
    await store.sync_feeds([], now=NOW)

    later = NOW + timedelta(minutes=3)
    report = await store.sync_feeds([FeedConf("a")], now=later)

    assert report.updated == ("a",)
    feed = await store.get_feed("a")
    assert feed is not None
    assert (feed.status, feed.next_poll_at) == (FeedStatus.OK, later)
    assert await claim(store, at=later) == ["a"]


async def test_sync_with_a_new_url_forgets_validators_and_polls_now(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    validators = Validators(etag='"v1"', last_modified="Thu, 26 Nov 2026", body_hash="b1")
    await store.record_poll("a", polled(validators=validators))
    later = NOW + timedelta(minutes=2)

    report = await store.sync_feeds([FeedConf("a", url="https://moved.example/a.xml")], now=later)

    assert report.updated == ("a",)
    feed = await store.get_feed("a")
    assert feed is not None
    assert feed.url == "https://moved.example/a.xml"
    assert feed.validators == Validators()
    assert (feed.next_poll_at, feed.first_poll) == (later, True)


async def test_a_permanent_redirect_is_not_undone_by_the_next_sync(store: Store) -> None:
    config = FeedConf("a", url="http://old.example/a.xml")
    await store.sync_feeds([config], now=NOW)
    await store.record_poll("a", polled(url="https://new.example/a.xml"))

    report = await store.sync_feeds([config], now=NOW + timedelta(minutes=1))

    assert report.updated == ()
    feed = await store.get_feed("a")
    assert feed is not None
    assert feed.url == "https://new.example/a.xml"
    edited = dataclasses.replace(config, url="https://third.example/a.xml")
    assert (await store.sync_feeds([edited], now=NOW)).updated == ("a",)
    feed = await store.get_feed("a")
    assert feed is not None
    assert feed.url == "https://third.example/a.xml"


async def test_a_configured_title_wins_over_the_feeds_own(store: Store) -> None:
    await store.sync_feeds([FeedConf("a", title="Mine"), FeedConf("b")], now=NOW)

    await store.record_poll("a", polled(title="Theirs"))
    await store.record_poll("b", polled(title="Theirs"))

    titles = {s.feed.id: s.feed.title for s in await store.list_feeds()}
    assert titles == {"a": "Mine", "b": "Theirs"}
    assert (
        await store.sync_feeds([FeedConf("a", title="Mine"), FeedConf("b")], now=NOW)
    ).updated == ()


async def test_sync_refuses_duplicate_ids(store: Store) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        await store.sync_feeds([FeedConf("a"), FeedConf("a")], now=NOW)


# --- claims and leases ----------------------------------------------------------------------


async def seed_due_feeds(store: Store, count: int) -> list[str]:
    """`count` feeds, the i-th due at NOW - i minutes (so the last is the most overdue)."""
    ids = [f"f{i:03d}" for i in range(count)]
    await store.sync_feeds([FeedConf(i) for i in ids], now=NOW)
    for offset, feed_id in enumerate(ids):
        due = NOW - timedelta(minutes=offset)
        await store.record_poll(feed_id, polled(due - timedelta(minutes=10), next_poll_at=due))
    return ids


@pytest.mark.parametrize("limit", [1, 3, 10], ids=["one", "some", "more-than-due"])
async def test_claim_takes_the_most_overdue_first_up_to_the_limit(store: Store, limit: int) -> None:
    ids = await seed_due_feeds(store, 5)

    claimed = await store.claim_due_feeds(now=NOW, limit=limit, lease=LEASE, owner="w1")

    assert [f.id for f in claimed] == list(reversed(ids))[:limit]
    assert all(f.next_poll_at is not None and f.next_poll_at <= NOW for f in claimed)


async def test_claim_skips_feeds_not_yet_due(store: Store) -> None:
    await seed_due_feeds(store, 3)  # due at NOW, NOW-1m, NOW-2m

    assert await claim(store, at=NOW - timedelta(minutes=1, seconds=30)) == ["f002"]
    assert await claim(store, at=NOW - timedelta(minutes=3)) == []
    assert await claim(store, limit=0) == []


async def test_a_claimed_feed_waits_for_its_lease_to_end(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    assert await claim(store, owner="w1") == ["a"]

    assert await claim(store, owner="w2") == []
    assert await claim(store, at=NOW + LEASE - timedelta(seconds=1), owner="w2") == []
    assert await claim(store, at=NOW + LEASE, owner="w2") == ["a"]
    assert await claim(store, at=NOW + LEASE, owner="w3") == []


@pytest.mark.parametrize("by_id", [False, True], ids=["all-of-owner", "by-id"])
async def test_released_claims_are_due_again(store: Store, by_id: bool) -> None:
    await store.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)
    assert await claim(store, owner="w1") == ["a", "b"]

    assert await store.release_claims("other") == 0
    released = await store.release_claims("w1", ["a"] if by_id else None)

    expected = ["a"] if by_id else ["a", "b"]
    assert released == len(expected)
    assert await claim(store, owner="w2") == expected


async def test_concurrent_claimers_never_share_a_feed(store: Store) -> None:
    ids = await seed_due_feeds(store, 30)

    batches = await asyncio.gather(*(claim(store, limit=5, owner=f"w{n}") for n in range(10)))

    claimed = [feed_id for batch in batches for feed_id in batch]
    assert len(claimed) == len(set(claimed))
    assert all(len(batch) <= 5 for batch in batches)
    # SKIP LOCKED may leave some for later, never hand one out twice.
    rest = await claim(store, owner="late")
    assert sorted(claimed + rest) == sorted(ids)


async def test_mark_all_due_brings_every_enabled_feed_forward(store: Store) -> None:
    ids = await seed_due_feeds(store, 3)  # due at NOW, NOW-1m, NOW-2m
    earlier = NOW - timedelta(minutes=30)
    await store.sync_feeds([FeedConf(i) for i in ids[1:]], now=earlier)  # ids[0] disabled

    assert await store.mark_all_due(now=earlier) == 2

    assert await claim(store, at=earlier) == ["f001", "f002"]
    assert await store.mark_all_due(now=earlier) == 0


async def test_next_due_at(store: Store) -> None:
    assert await store.next_due_at(now=NOW) is None
    await store.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)
    await store.record_poll("a", polled(next_poll_at=NOW + timedelta(minutes=7)))
    await store.record_poll("b", polled(next_poll_at=NOW + timedelta(minutes=3)))
    assert await store.next_due_at(now=NOW) == NOW + timedelta(minutes=3)

    # A leased feed is due again only when its lease ends (if not recorded by then).
    later = NOW + timedelta(minutes=4)
    assert await claim(store, at=later) == ["b"]
    assert await store.next_due_at(now=later) == NOW + timedelta(minutes=7)

    await store.sync_feeds([FeedConf("b")], now=later)  # "a" disabled
    assert await store.next_due_at(now=later) == later + LEASE


# --- record_poll ----------------------------------------------------------------------------


async def test_record_poll_returns_only_new_articles_in_input_order(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    first = [article("a", "3"), article("a", "1"), article("a", "2")]

    result = await store.record_poll("a", polled(), first)

    assert (result.inserted, result.edited) == (tuple(first), 0)
    second = [article("a", "4"), *first, article("a", "0")]
    result = await store.record_poll("a", polled(NOW + timedelta(minutes=10)), second)
    assert [a.key for a in result.inserted] == ["4", "0"]
    assert result.edited == 0
    assert await store.count_articles() == 5


async def test_record_poll_updates_an_edited_article_without_returning_it(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    await store.record_poll("a", polled(), [article("a", "1"), article("a", "2")])
    edit = article("a", "1", title="Corrected", content="<p>new</p>", content_hash="hash-1b")
    later = NOW + timedelta(minutes=10)

    result = await store.record_poll("a", polled(later), [edit, article("a", "2")])

    assert (result.inserted, result.edited) == ((), 1)
    stored = {a.key: a for a in await store.articles_for_feed("a")}
    assert stored["1"] == edit
    assert stored["2"] == article("a", "2")


async def test_record_poll_stores_every_field(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    full = article(
        "a",
        "k",
        authors=("Ana", "Bo"),
        tags=("x", "y"),
        updated=NOW - timedelta(minutes=5),
        url=None,
        link=None,
        language=None,
    )
    await store.record_poll("a", polled(), [full, article("a", "k", title="duplicate key")])

    assert await store.articles_for_feed("a") == [full]


async def test_record_poll_handles_more_keys_than_one_in_list(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    items = [article("a", f"{i:04d}") for i in range(1200)]

    first = await store.record_poll("a", polled(), items[:700])
    second = await store.record_poll("a", polled(NOW + timedelta(minutes=10)), items)

    assert len(first.inserted) == 700
    assert [a.key for a in second.inserted] == [a.key for a in items[700:]]
    assert await store.count_articles() == 1200


async def test_recording_a_poll_keeps_validators_when_none_given(
    store: Store, record: RecordState
) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    validators = Validators(
        etag='"abc"', last_modified="Wed, 25 Nov 2026 10:00:00 GMT", body_hash="h"
    )
    await record("a", polled(validators=validators))

    await record("a", polled(NOW + timedelta(minutes=10), status_code=304))

    feed = await store.get_feed("a")
    assert feed is not None
    assert (feed.validators, feed.last_status_code) == (validators, 304)


async def test_an_item_memo_is_written_kept_and_cleared(store: Store, record: RecordState) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    memo = bytes(range(256)) * 5  # binary, NUL bytes included
    await record("a", polled(item_memo=memo))
    claimed = await store.claim_due_feeds(
        now=NOW + timedelta(hours=1), limit=1, lease=LEASE, owner="w1"
    )
    assert [f.item_memo for f in claimed] == [memo]

    await record("a", polled(NOW + timedelta(minutes=10), status_code=304), owner="w1")
    feed = await store.get_feed("a")
    assert feed is not None and feed.item_memo == memo  # a 304 keeps it
    assert memo.hex() not in repr(feed)

    await record("a", polled(NOW + timedelta(minutes=15), item_memo=b"the next document"))
    feed = await store.get_feed("a")
    assert feed is not None and feed.item_memo == b"the next document"

    await record("a", polled(NOW + timedelta(minutes=20), item_memo=b""))
    feed = await store.get_feed("a")
    assert feed is not None and feed.item_memo is None


async def test_sync_with_a_new_url_forgets_the_item_memo(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    await store.record_poll("a", polled(item_memo=b"memo"))

    await store.sync_feeds([FeedConf("a", url="https://moved.example/a.xml")], now=NOW)

    feed = await store.get_feed("a")
    assert feed is not None and feed.item_memo is None


async def test_recording_a_poll_counts_errors_and_a_success_resets_them(
    store: Store, record: RecordState
) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    await record("a", polled())
    failures = [NOW + timedelta(minutes=m) for m in (10, 20)]
    for at in failures:
        await record("a", polled(at, status=FeedStatus.ERROR, status_code=503, error="HTTP 503"))

    feed = await store.get_feed("a")
    assert feed is not None
    assert (feed.error_count, feed.last_error, feed.status) == (2, "HTTP 503", FeedStatus.ERROR)
    assert (feed.last_poll_at, feed.last_success_at) == (failures[-1], NOW)

    recovered = NOW + timedelta(minutes=30)
    await record("a", polled(recovered))
    feed = await store.get_feed("a")
    assert feed is not None
    assert (feed.error_count, feed.last_error, feed.status) == (0, None, FeedStatus.OK)
    assert feed.last_success_at == recovered
    assert feed.next_poll_at == recovered + timedelta(minutes=10)


async def test_recording_a_poll_ends_the_lease_of_its_owner_only(
    store: Store, record: RecordState
) -> None:
    await store.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)
    assert await claim(store, owner="w1") == ["a", "b"]
    # w1's lease on "b" expired and w2 claimed it; w1 finishes late.
    late = NOW + LEASE
    assert await claim(store, at=late, owner="w2") == ["a", "b"]

    await record("a", polled(late, next_poll_at=late), owner="w2")
    await record("b", polled(late, next_poll_at=late), owner="w1")

    assert await claim(store, at=late, owner="w3") == ["a"]


async def test_recording_a_poll_leaves_a_feed_disabled_meanwhile_disabled(
    store: Store, record: RecordState
) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    assert await claim(store) == ["a"]
    await store.sync_feeds([], now=NOW)

    await record("a", polled(), owner="w1")

    feed = await store.get_feed("a")
    assert feed is not None
    assert feed.status == FeedStatus.DISABLED
    assert await claim(store, at=NOW + timedelta(days=1)) == []


async def test_concurrent_state_records_share_transactions(store: Store) -> None:
    ids = [f"f{n:03}" for n in range(200)]
    await store.sync_feeds([FeedConf(i) for i in ids], now=NOW)
    assert len(await claim(store, limit=200)) == 200
    commits = 0

    def count_commit(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    sa.event.listen(store.poll_engine, "commit", count_commit)
    try:
        await asyncio.gather(
            *(
                store.record_state(
                    i, polled(status_code=304, validators=Validators(etag=i)), owner="w1"
                )
                for i in ids
            )
        )
    finally:
        sa.event.remove(store.poll_engine, "commit", count_commit)

    assert 1 <= commits <= 3  # the first alone, the rest together (not one each)
    for feed_id in ("f000", "f123", "f199"):
        feed = await store.get_feed(feed_id)
        assert feed is not None
        assert (feed.validators.etag, feed.last_status_code) == (feed_id, 304)
    # Every lease ended: all are claimable again when due.
    assert len(await claim(store, at=NOW + timedelta(minutes=10), limit=300, owner="w2")) == 200


async def test_a_state_record_for_an_unknown_feed_fails_alone(store: Store) -> None:
    await store.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)

    results = await asyncio.gather(
        store.record_state("a", polled(status_code=304)),
        store.record_state("ghost", polled()),
        store.record_state("b", polled(status_code=500, status=FeedStatus.ERROR, error="HTTP 500")),
        return_exceptions=True,
    )

    assert results[0] is None and results[2] is None
    assert isinstance(results[1], StoreError) and "no feed ghost" in str(results[1])
    a, b = await store.get_feed("a"), await store.get_feed("b")
    assert a is not None and b is not None
    assert (a.last_status_code, b.last_status_code, b.error_count) == (304, 500, 1)


async def test_closing_the_store_finishes_pending_state_records(database_url: str) -> None:
    store = await open_store(database_url)
    await store.sync_feeds([FeedConf(f"f{n}") for n in range(20)], now=NOW)
    submitted = asyncio.Event()
    count = 0

    async def write(feed_id: str) -> None:
        nonlocal count
        count += 1
        if count == 20:
            submitted.set()
        await store.record_state(feed_id, polled(status_code=304))  # submits before it waits

    writes = [asyncio.create_task(write(f"f{n}")) for n in range(20)]
    await submitted.wait()

    await store.close()

    assert all(w.done() and w.exception() is None for w in writes)
    reopened = await open_store(database_url)
    try:
        feeds = await reopened.list_feeds()
        assert [f.feed.last_status_code for f in feeds] == [304] * 20
    finally:
        await reopened.close()


async def test_record_poll_is_one_transaction(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)
    items = [article("a", "1"), article("no-such-feed", "2", title="private words")]

    with pytest.raises(StoreError, match="recording the poll of feed a") as caught:
        await store.record_poll("a", polled(validators=Validators(etag="e")), items)

    assert "private words" not in str(caught.value)  # bound values stay out of errors

    feed = await store.get_feed("a")
    assert feed is not None
    assert (feed.last_poll_at, feed.validators, feed.status) == (None, Validators(), FeedStatus.NEW)
    assert await store.count_articles() == 0


async def test_record_poll_of_an_unknown_feed_fails(store: Store) -> None:
    with pytest.raises(StoreError, match="no feed ghost"):
        await store.record_poll("ghost", polled(), [article("ghost", "1")])


async def test_record_poll_strips_nul_characters(store: Store) -> None:
    await store.sync_feeds([FeedConf("a")], now=NOW)

    await store.record_poll("a", polled(), [article("a", "1", title="bad\x00title")])

    [stored] = await store.articles_for_feed("a")
    assert stored.title == "badtitle"


async def test_concurrent_record_polls_do_not_lock_sqlite(
    sqlite_url: str, make_store: StoreFactory
) -> None:
    # Two stores on one file stand for two processes: only BEGIN IMMEDIATE and busy_timeout
    # order them; each store's own coroutines also queue on its write lock. sync_feeds reads
    # before it writes: in a deferred transaction that upgrade fails at once when contended.
    first, second = await make_store(sqlite_url), await make_store(sqlite_url)
    ids = [f"f{i:02d}" for i in range(50)]
    await first.sync_feeds([FeedConf(i) for i in ids], now=NOW)

    polls = asyncio.gather(
        *(
            (first if n % 2 else second).record_poll(
                feed_id, polled(), [article(feed_id, str(k)) for k in range(5)]
            )
            for n, feed_id in enumerate(ids)
        )
    )
    claims = asyncio.gather(*(claim(first, owner=f"c{n}", limit=1) for n in range(5)))
    syncs = asyncio.gather(
        *(
            (second if n % 2 else first).sync_feeds([FeedConf(i, backfill=n) for i in ids], now=NOW)
            for n in range(10)
        )
    )
    results, _, reports = await asyncio.gather(polls, claims, syncs)

    assert [len(r.inserted) for r in results] == [5] * 50
    # Each sync saw the one before: all change every feed, but one with backfill 0 may go first.
    assert sum(len(r.updated) for r in reports) in (450, 500)
    assert await second.count_articles() == 250


async def test_a_cancelled_record_poll_is_all_or_nothing(store: Store) -> None:
    ids = [f"f{i:02d}" for i in range(20)]
    await store.sync_feeds([FeedConf(i) for i in ids], now=NOW)
    tasks = [
        asyncio.create_task(store.record_poll(i, polled(), [article(i, str(k)) for k in range(50)]))
        for i in ids
    ]

    # Cancel the rest wherever they are (queued, mid-transaction) once one has finished.
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    counts = {s.feed.id: (s.feed.last_poll_at, s.articles) for s in await store.list_feeds()}
    assert set(counts.values()) <= {(NOW, 50), (None, 0)}
    assert (NOW, 50) in counts.values()
    # Nothing is left locked: the cancelled polls can be recorded now.
    retry = await store.record_poll(ids[-1], polled(), [article(ids[-1], "0")])
    assert retry.edited == 0


# --- values and queries ---------------------------------------------------------------------


async def test_datetimes_come_back_utc_aware(store: Store) -> None:
    moscow = timezone(timedelta(hours=3))
    local = datetime(2026, 11, 26, 18, 0, tzinfo=moscow)
    await store.sync_feeds([FeedConf("a")], now=local)
    items = [article("a", "1", published=local, updated=local)]
    await store.record_poll("a", polled(local, next_poll_at=local), items)

    feed = await store.get_feed("a")
    [stored] = await store.articles_for_feed("a")

    assert feed is not None
    for value in (feed.next_poll_at, feed.last_poll_at, stored.published, stored.updated):
        assert value is not None
        assert value.tzinfo is UTC
        assert value == NOW


async def test_a_naive_datetime_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="naive datetime"):
        await store.sync_feeds([FeedConf("a")], now=NOW.replace(tzinfo=None))
    assert await store.list_feeds() == []


async def test_list_feeds_counts_articles_in_id_order(store: Store) -> None:
    await store.sync_feeds([FeedConf("c"), FeedConf("a"), FeedConf("b")], now=NOW)
    await store.record_poll("c", polled(), [article("c", str(i)) for i in range(3)])
    await store.record_poll("a", polled(), [article("a", "1")])

    summaries = await store.list_feeds()

    assert [(s.feed.id, s.articles) for s in summaries] == [("a", 1), ("b", 0), ("c", 3)]
    assert await store.count_articles() == 4


async def test_articles_for_feed_are_newest_first(store: Store) -> None:
    await store.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)
    for minute, keys in enumerate((["1", "2"], ["3"], ["4", "5"])):
        at = NOW + timedelta(minutes=minute)
        await store.record_poll("a", polled(at), [article("a", k) for k in keys])
    await store.record_poll("b", polled(), [article("b", "x")])

    assert [a.key for a in await store.articles_for_feed("a")] == ["5", "4", "3", "2", "1"]
    assert [a.key for a in await store.articles_for_feed("a", limit=2)] == ["5", "4"]
    assert await store.articles_for_feed("nothing") == []


async def test_find_articles_by_url_across_feeds(store: Store) -> None:
    await store.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)
    shared = "https://news.example/story"
    await store.record_poll("a", polled(), [article("a", "1", url=shared), article("a", "2")])
    later = NOW + timedelta(minutes=1)
    await store.record_poll("b", polled(later), [article("b", "9", url=shared)])

    found = await store.find_articles_by_url(shared)

    assert [(a.feed_id, a.key) for a in found] == [("a", "1"), ("b", "9")]
    assert await store.find_articles_by_url("https://news.example/none") == []


# --- the engine -----------------------------------------------------------------------------


async def test_sqlite_connections_use_wal_and_foreign_keys(
    sqlite_url: str, make_store: StoreFactory
) -> None:
    store = await make_store(sqlite_url)

    async with store.engine.connect() as conn:
        pragmas = [
            (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        ]

    assert pragmas == ["wal", 1, 5000, 1]  # synchronous NORMAL is 1


async def test_a_claim_reads_due_feeds_in_index_order_without_sorting(
    sqlite_url: str, make_store: StoreFactory
) -> None:
    """After `mark_all_due` every feed is due at the same instant: sorting them by id for each
    claim made a cycle quadratic in the number of feeds."""
    from monitor.store.feeds import _CLAIM

    store = await make_store(sqlite_url)
    statement = str(_CLAIM.compile(dialect=store.engine.dialect))
    parameters = ("w1", "2026-11-26", "2026-11-26", "2026-11-26", 10, 0)
    async with store.engine.connect() as conn:
        plan = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()

    steps = " | ".join(str(row[-1]) for row in plan)
    assert "ix_feeds_enabled_next_poll_at_id" in steps
    assert "TEMP B-TREE" not in steps


async def test_a_closed_store_refuses_work(database_url: str) -> None:
    store = await open_store(database_url)
    await store.close()
    await store.close()

    with pytest.raises(StoreError, match="closed"):
        await store.list_feeds()


async def test_a_plain_postgresql_url_gets_the_async_driver(
    postgres_url: str, make_store: StoreFactory
) -> None:
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://")

    store = await make_store(plain)

    assert store.engine.dialect.driver == "asyncpg"
    assert await store.count_articles() == 0


async def test_store_errors_name_the_operation(store: Store) -> None:
    async with store.engine.begin() as conn:
        for table in ("deliveries", "alerts", "articles"):
            await conn.execute(sa.text(f"DROP TABLE {table}"))

    with pytest.raises(StoreError, match="counting articles failed") as caught:
        await store.count_articles()

    assert caught.value.__cause__ is not None


# --- polls written in one go ------------------------------------------------------------------
@pytest.mark.parametrize("cancels", [1, 2])
async def test_a_cancelled_poll_write_commits_and_holds_writes_back_until_it_ends(
    tmp_path: Any, cancels: int
) -> None:
    """On a SQLite file a poll's transaction runs whole on the writer's thread: cancelling the
    caller cannot cut it short, and no other write starts before it has committed."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'one-go.db'}")
    entered, release = threading.Event(), threading.Event()
    try:
        await store.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)
        assert sorted(await claim(store)) == ["a", "b"]

        def slow_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            # On the writer's thread, inside the poll's transaction: hold it there.
            if statement.startswith("INSERT INTO articles"):
                entered.set()
                release.wait(10)

        sa.event.listen(store.poll_engine, "before_cursor_execute", slow_insert)
        first = asyncio.create_task(
            store.record_poll("a", polled(), [article("a", "k1")], owner="w1")
        )
        assert await asyncio.to_thread(entered.wait, 10)
        for _ in range(cancels):
            first.cancel()
            # Let it take the cancellation and wait on the transaction again: one loop turn.
            await asyncio.sleep(0)
        second = asyncio.create_task(store.record_poll("b", polled(), owner="w1"))
        # Both wait on the transaction still running on the writer's thread (a bounded check
        # that something does not happen: nothing to wait on instead).
        _, pending = await asyncio.wait({first, second}, timeout=0.2)
        assert pending == {first, second}
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.wait_for(second, 10)
        assert [a.key for a in await store.articles_for_feed("a")] == ["k1"]
        feed_b = await store.get_feed("b")
        assert feed_b is not None and feed_b.last_status_code == 200
    finally:
        release.set()
        await store.close()


async def test_an_in_memory_store_records_polls_without_the_writer_thread() -> None:
    store = await open_store("sqlite+aiosqlite://")
    try:
        assert store.poll_engine is store.engine.sync_engine
        await store.sync_feeds([FeedConf("a")], now=NOW)
        assert await claim(store) == ["a"]
        result = await store.record_poll("a", polled(), [article("a", "k1")], owner="w1")
        assert [a.key for a in result.inserted] == ["k1"]
        await store.record_state("a", polled(status_code=304), owner="w1")
        feed = await store.get_feed("a")
        assert feed is not None and feed.last_status_code == 304
    finally:
        await store.close()
