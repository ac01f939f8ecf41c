"""The ingestion pipeline end to end: real HTTP server, real parser, real store (both engines)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_config, load_settings
from monitor.models import Article, Feed, FeedStatus, PollOutcome, PollStatus
from monitor.service import Service
from tests.conftest import CORPUS, DATA
from tests.feedserver import (
    Document,
    FeedServer,
    endless_body,
    redirect,
    stall_after_headers,
    status,
)

START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    """Time passed in: tests move it forward by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def rss(
    *items: tuple[str, str, str],
    title: str = "Test feed",
    dates: Sequence[datetime] = (),
    channel: str = "",
) -> bytes:
    """A small RSS 2.0 document of (guid, title, description) items, newest first: one a day
    up to 26 Nov 2026 unless `dates` gives them. `channel` is added to the channel's elements."""
    first = datetime(2026, 11, 26, 10, tzinfo=UTC)
    stamps = list(dates) or [first - timedelta(days=n) for n in range(len(items))]
    body = "".join(
        f"<item><guid>{guid}</guid><title>{head}</title><link>https://news.example/{guid}</link>"
        f"<description>{text}</description>"
        f"<pubDate>{format_datetime(stamp, usegmt=True)}</pubDate></item>"
        for (guid, head, text), stamp in zip(items, stamps, strict=True)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://news.example/</link>{channel}{body}</channel></rss>"
    ).encode()


def write_config(folder: Path, feeds: dict[str, str], extra: str = "") -> Path:
    lines = ["feeds:"]
    for feed_id, url in feeds.items():
        lines += [f"  - id: {feed_id}", f"    url: {url}", "    interval: 10m"]
        if extra:
            lines.append(f"    {extra}")
    lines += ["notifiers:", "  - id: console", "    type: console"]
    path = folder / "monitor.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Harness:
    """A started Service on a temp config, its clock, and what its hook saw."""

    def __init__(self, service: Service, clock: Clock) -> None:
        self.service = service
        self.clock = clock
        self.new: list[Article] = []
        self.outcomes: list[PollOutcome] = []

    async def feed(self, feed_id: str) -> Feed:
        feed = await self.service.store.get_feed(feed_id)
        assert feed is not None
        return feed


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def harness_factory(tmp_path: Path, database_url: str) -> AsyncIterator[MakeHarness]:
    started: list[Service] = []

    async def make(
        feeds: dict[str, str],
        *,
        extra: str = "",
        fetch_timeout: float = 5.0,
        processes: bool = False,
    ) -> Harness:
        settings = load_settings(
            database_url=database_url, fetch_timeout=fetch_timeout, read_timeout=fetch_timeout
        )
        config = load_config(settings, write_config(tmp_path, feeds, extra))
        clock = Clock()
        harness: Harness

        async def hook(feed: Feed, articles: Sequence[Article]) -> None:
            harness.new.extend(articles)

        def count(outcome: PollOutcome) -> None:
            harness.outcomes.append(outcome)

        service = Service(
            settings,
            config,
            clock=clock,
            on_new_articles=hook,
            parse_in_processes=processes,
            on_outcome=count,
        )
        harness = Harness(service, clock)
        await service.start()
        started.append(service)
        return harness

    yield make
    for service in started:
        await service.close()


async def test_first_poll_records_but_does_not_alert_then_new_items_are_new(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    url = feed_server.serve("/a.xml", Document.of(rss(("1", "One", "x"), ("2", "Two", "y"))))
    h: Harness = await harness_factory({"a": url})

    await h.service.poll_all()
    assert h.new == []
    assert await h.service.store.count_articles() == 2
    feed = await h.feed("a")
    assert feed.status is FeedStatus.OK and not feed.first_poll

    feed_server.serve(
        "/a.xml", Document.of(rss(("3", "Three", "z"), ("1", "One", "x"), ("2", "Two", "y")))
    )
    h.clock.advance(timedelta(hours=1))
    await h.service.poll_all()
    assert [a.title for a in h.new] == ["Three"]
    assert await h.service.store.count_articles() == 3


async def test_backfill_alerts_on_the_newest_n_of_the_first_poll(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    items = [(str(n), f"Item {n}", "text") for n in range(5)]  # newest first
    url = feed_server.serve("/b.xml", Document.of(rss(*items)))
    h: Harness = await harness_factory({"b": url}, extra="backfill: 2")
    await h.service.poll_all()
    assert sorted(a.title for a in h.new) == ["Item 0", "Item 1"]
    assert await h.service.store.count_articles() == 5


async def test_an_edited_item_is_updated_but_not_new_again(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    url = feed_server.serve("/e.xml", Document.of(rss(("1", "Old title", "x"))))
    h: Harness = await harness_factory({"e": url})
    await h.service.poll_all()
    feed_server.serve("/e.xml", Document.of(rss(("1", "Corrected title", "x y"))))
    h.clock.advance(timedelta(hours=1))
    await h.service.poll_all()
    assert h.new == []
    [stored] = await h.service.store.articles_for_feed("e")
    assert stored.title == "Corrected title"


async def test_only_items_with_new_bytes_are_parsed_and_the_rate_counts_them_all(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    every = [START - timedelta(minutes=2 * n) for n in range(11)]  # one every 2 minutes
    old = items(11)[1:]
    url = feed_server.serve("/i.xml", Document.of(rss(*old, dates=every[1:])))
    h: Harness = await harness_factory({"i": url}, extra="min_interval: 1m\n    max_interval: 1h")
    outcomes = h.outcomes
    await h.service.poll_all()
    assert (outcomes[-1].items, outcomes[-1].skipped_items) == (10, 0)
    first_interval = (await h.feed("i")).poll_interval
    assert (await h.feed("i")).item_memo

    # One new item, an edited one, and a channel element that changes on every build.
    edited = [
        (guid, title + " (updated)" if guid == "5" else title, text) for guid, title, text in old
    ]
    body = rss(
        ("0", "Item 0", "text"), *edited, dates=every, channel="<lastBuildDate>now</lastBuildDate>"
    )
    feed_server.serve("/i.xml", Document.of(body))
    h.clock.advance(timedelta(minutes=2))
    await h.service.poll_all()

    assert (outcomes[-1].items, outcomes[-1].skipped_items) == (11, 9)
    assert [a.title for a in h.new] == ["Item 0"]
    [stored] = [
        a for a in await h.service.store.articles_for_feed("i") if a.title.startswith("Item 5")
    ]
    assert stored.title == "Item 5 (updated)"
    # Measured over all 11 items, not over the 2 parsed: it stays as busy as it was.
    assert (await h.feed("i")).poll_interval <= first_interval


async def test_304_and_an_unchanged_body_are_not_parsed(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    body = rss(("1", "One", "x"))
    url = feed_server.serve("/c.xml", Document.of(body))
    plain = feed_server.serve("/plain.xml", Document(body, etag=None, last_modified=None))
    h: Harness = await harness_factory({"c": url, "plain": plain})
    await h.service.poll_all()
    before = await h.feed("c")

    h.clock.advance(timedelta(hours=1))
    tally = await h.service.poll_all()
    assert tally.outcomes[PollStatus.NOT_MODIFIED] == 1  # c: the server said 304
    assert tally.outcomes[PollStatus.UNCHANGED] == 1  # plain: no validators, same bytes
    assert feed_server.hits("/c.xml")[-1].headers["If-None-Match"] == before.validators.etag
    after = await h.feed("c")
    assert after.validators == before.validators
    assert after.last_poll_at == START + timedelta(hours=1)
    assert await h.service.store.count_articles() == 2


def items(count: int) -> list[tuple[str, str, str]]:
    return [(str(n), f"Item {n}", "text") for n in range(count)]


async def test_without_bounds_a_feed_is_polled_at_its_interval(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    daily = [START - timedelta(days=n) for n in range(5)]
    url = feed_server.serve("/daily.xml", Document.of(rss(*items(5), dates=daily)))
    h: Harness = await harness_factory({"daily": url})

    await h.service.poll_all()

    assert (await h.feed("daily")).poll_interval == timedelta(minutes=10)


async def test_adaptive_polling_follows_the_publishing_rate_and_the_servers_hints(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    every = [START - timedelta(minutes=2 * n) for n in range(10)]  # one every 2 minutes
    daily = [START - timedelta(days=n) for n in range(5)]
    feeds = {
        "busy": feed_server.serve("/busy.xml", Document.of(rss(*items(10), dates=every))),
        "daily": feed_server.serve("/daily.xml", Document.of(rss(*items(5), dates=daily))),
        "undated": feed_server.serve(
            "/undated.xml", Document.of(rss(*items(2)).replace(b"pubDate", b"x-date"))
        ),
        "ttl": feed_server.serve(
            "/ttl.xml", Document.of(rss(*items(10), dates=every, channel="<ttl>45</ttl>"))
        ),
        "cached": feed_server.serve(
            "/cached.xml",
            Document.of(rss(*items(10), dates=every), headers={"Cache-Control": "max-age=1200"}),
        ),
    }
    # interval 10m from write_config; bounds 5m..1h
    h: Harness = await harness_factory(feeds, extra="min_interval: 5m\n    max_interval: 1h")

    await h.service.poll_all()

    def due_in(feed: Feed) -> timedelta:
        assert feed.next_poll_at is not None and feed.last_poll_at is not None
        return feed.next_poll_at - feed.last_poll_at

    busy, daily_feed = await h.feed("busy"), await h.feed("daily")
    assert busy.poll_interval == timedelta(minutes=5)  # half of ~2 min, up to the min
    assert daily_feed.poll_interval == timedelta(hours=1)  # a day between items: the max
    assert (await h.feed("undated")).poll_interval == timedelta(minutes=10)  # the interval
    assert (await h.feed("ttl")).poll_interval == timedelta(minutes=45)  # <ttl> minutes
    assert (await h.feed("cached")).poll_interval == timedelta(minutes=20)  # max-age
    for feed, interval in ((busy, 5), (daily_feed, 60)):
        assert abs(due_in(feed) - timedelta(minutes=interval)) <= timedelta(minutes=interval) / 10

    # A 304 keeps the measured interval and still honours max-age.
    h.clock.advance(timedelta(hours=2))
    tally = await h.service.poll_all()
    assert tally.outcomes[PollStatus.NOT_MODIFIED] == 5
    daily_feed = await h.feed("daily")
    assert daily_feed.poll_interval == timedelta(hours=1)
    assert abs(due_in(daily_feed) - timedelta(hours=1)) <= timedelta(minutes=6)
    cached = await h.feed("cached")
    assert due_in(cached) >= timedelta(minutes=20) * 0.9


async def test_changing_a_feeds_interval_measures_again(
    feed_server: FeedServer, harness_factory: MakeHarness, tmp_path: Path
) -> None:
    daily = [START - timedelta(days=n) for n in range(5)]
    url = feed_server.serve("/daily.xml", Document.of(rss(*items(5), dates=daily)))
    h: Harness = await harness_factory({"daily": url}, extra="max_interval: 1h")
    await h.service.poll_all()
    assert (await h.feed("daily")).poll_interval == timedelta(hours=1)

    fixed = write_config(tmp_path, {"daily": url}, "max_interval: 10m")
    config = load_config(h.service.settings, fixed)
    report = await h.service.store.sync_feeds(config.feeds, now=h.clock())

    assert report.updated == ("daily",)
    feed = await h.feed("daily")
    assert feed.poll_interval_seconds is None  # measured again at the next read
    assert feed.interval_bounds == (timedelta(minutes=10), timedelta(minutes=10))
    h.clock.advance(timedelta(hours=1))
    feed_server.serve("/daily.xml", Document.of(rss(*items(6), dates=[h.clock(), *daily])))
    await h.service.poll_all()
    assert (await h.feed("daily")).poll_interval == timedelta(minutes=10)


async def test_a_permanent_redirect_updates_the_url_a_temporary_one_does_not(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    target = feed_server.serve("/new.xml", Document.of(rss(("1", "One", "x"))))
    moved = feed_server.url("/moved.xml")
    temp = feed_server.url("/temp.xml")
    feed_server.script("/moved.xml", redirect(301, "/new.xml"))
    feed_server.script("/temp.xml", redirect(302, "/new.xml"))
    h: Harness = await harness_factory({"moved": moved, "temp": temp})
    await h.service.poll_all()
    assert (await h.feed("moved")).url == target
    assert (await h.feed("temp")).url == temp


async def test_429_retry_after_and_500_back_off_then_recover(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    good = Document.of(rss(("1", "One", "x")))
    limited = feed_server.serve("/limited.xml", good)
    broken = feed_server.serve("/broken.xml", good)
    feed_server.script("/limited.xml", status(429, {"Retry-After": "7200"}))
    feed_server.script("/broken.xml", status(500), status(500))
    h: Harness = await harness_factory({"limited": limited, "broken": broken})

    await h.service.poll_all()
    limited_feed, broken_feed = await h.feed("limited"), await h.feed("broken")
    assert limited_feed.status is FeedStatus.ERROR and limited_feed.last_status_code == 429
    assert limited_feed.next_poll_at is not None
    assert limited_feed.next_poll_at >= START + timedelta(seconds=7200)
    assert broken_feed.error_count == 1 and "500" in (broken_feed.last_error or "")
    first_delay = broken_feed.next_poll_at - START  # type: ignore[operator]

    h.clock.advance(timedelta(minutes=30))
    await h.service.poll_all()
    broken_feed = await h.feed("broken")
    assert broken_feed.error_count == 2
    assert broken_feed.next_poll_at - h.clock.now > first_delay / 2  # type: ignore[operator]

    h.clock.advance(timedelta(hours=3))
    await h.service.poll_all()
    for feed_id in ("limited", "broken"):
        feed = await h.feed(feed_id)
        assert (feed.status, feed.error_count, feed.last_error) == (FeedStatus.OK, 0, None)


async def test_hostile_servers_fail_fast_on_their_own_feed_only(
    feed_server: FeedServer, harness_factory: MakeHarness, tmp_path: Path
) -> None:
    bomb = (DATA / "feeds" / "entity_bomb.xml").read_bytes()
    urls = {
        "good": feed_server.serve("/good.xml", Document.of(rss(("1", "One", "x")))),
        "bomb": feed_server.serve("/bomb.xml", Document.of(bomb)),
        "endless": feed_server.url("/endless.xml"),
        "stall": feed_server.url("/stall.xml"),
        "html": feed_server.serve(
            "/html.xml", Document(b"<html><body>Oops</body></html>", "text/html")
        ),
        "refused": "http://127.0.0.1:9/feed.xml",
    }
    feed_server.script("/endless.xml", endless_body())
    feed_server.script("/stall.xml", stall_after_headers(feed_server))
    h: Harness = await harness_factory(urls, fetch_timeout=1.5)

    tally = await h.service.poll_all()
    assert tally.polled == len(urls)
    assert (await h.feed("good")).status is FeedStatus.OK
    errors = {feed_id: (await h.feed(feed_id)).last_error or "" for feed_id in urls}
    assert "larger than" in errors["endless"]
    assert "timed out" in errors["stall"]
    assert errors["html"] and errors["refused"]
    assert "refused: the document declares entities" in errors["bomb"]
    for failure in tally.failures:
        assert failure.feed_id in failure.error or failure.feed_id in str(failure)


async def test_every_format_and_encoding_through_the_process_pool(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    files = sorted(
        p
        for p in (DATA / "feeds").iterdir()
        if p.suffix in {".xml", ".rss", ".json", ".atom", ".rdf"}
    )
    files = [p for p in files if "bomb" not in p.name]
    assert files, "fixtures missing"
    urls = {f"f{n}": feed_server.serve_file(f"/{p.name}", p) for n, p in enumerate(files)}
    h: Harness = await harness_factory(urls, processes=True)
    tally = await h.service.poll_all()
    assert tally.polled == len(files)
    assert tally.recorded > 0
    titles = [
        a.title for n in range(len(files)) for a in await h.service.store.articles_for_feed(f"f{n}")
    ]
    texts = " ".join(titles)
    assert any("а" <= ch <= "я" for ch in texts), "Cyrillic (windows-1251) text was lost"


async def test_malformed_corpus_never_crashes_the_service(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    files = sorted(p for p in (CORPUS / "feeds" / "malformed").rglob("*") if p.is_file())
    urls = {f"m{n}": feed_server.serve_file(f"/m/{n}", p) for n, p in enumerate(files)}
    h: Harness = await harness_factory(urls)
    tally = await h.service.poll_all()
    assert tally.polled == len(files)
    summaries = await h.service.store.list_feeds()
    assert {s.feed.status for s in summaries} <= {FeedStatus.OK, FeedStatus.ERROR}
    assert sum(1 for s in summaries if s.feed.status is FeedStatus.OK) > len(files) // 2


async def test_a_feed_is_unhealthy_after_three_failures_over_fifteen_minutes(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    url = feed_server.serve("/flaky.xml", Document.of(rss(("1", "One", "x"))))
    h: Harness = await harness_factory({"flaky": url})
    await h.service.poll_all()  # read once: it worked at START
    feed_server.script("/flaky.xml", *[status(503)] * 5)

    for _ in range(3):  # three failures within a few minutes: a glitch, not an outage
        h.clock.advance(timedelta(minutes=2))
        await h.service.poll_all()
    flaky = await h.feed("flaky")
    assert (flaky.status, flaky.error_count) == (FeedStatus.ERROR, 3)

    h.clock.advance(timedelta(minutes=10))  # failing for 16 minutes now
    await h.service.poll_all()
    assert (await h.feed("flaky")).status is FeedStatus.UNHEALTHY

    h.clock.advance(timedelta(minutes=10))
    await h.service.poll_all()  # the fifth 503
    h.clock.advance(timedelta(minutes=10))
    await h.service.poll_all()
    assert (await h.feed("flaky")).status is FeedStatus.OK


class BlockingMatcher:
    """The service's matcher, whose `match` first waits for `release` (wherever it runs)."""

    def __init__(self, matcher: Any) -> None:
        self._matcher = matcher
        self.entered = threading.Event()
        self.release = threading.Event()

    def match(self, article: Any, **where: Any) -> Any:
        self.entered.set()
        if not self.release.wait(10):
            raise TimeoutError("the test never released the matcher")
        return self._matcher.match(article, **where)


def write_elsewhere(database: Path) -> None:
    """A write by another connection to the SQLite file: "database is locked" if the monitor
    holds the write lock for longer than the 5 s this waits."""
    with contextlib.closing(sqlite3.connect(database, timeout=5)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE IF NOT EXISTS elsewhere (n INTEGER)")
        conn.execute("INSERT INTO elsewhere VALUES (1)")
        conn.commit()


async def test_a_poll_whose_matching_is_slow_does_not_hold_the_sqlite_write_lock(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Rules run before the poll's write: while they run, other connections and the store's
    own writes go on; the alert is then written with its article."""
    # More text than INLINE_MATCH_CHARS: matched on a thread, so the loop runs meanwhile.
    long_text = "A peace treaty was signed. " + "More words on the talks. " * 2_000
    document = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Slow</title>'
        "<item><guid>1</guid><title>Treaty signed</title><link>https://news.example/1</link>"
        f"<content:encoded>{long_text}</content:encoded></item></channel></rss>"
    )
    url = feed_server.serve("/slow.xml", Document.of(document.encode()))
    rules = "rules:\n  - id: treaty\n    keywords: {any: [treaty]}\n"
    (tmp_path / "rules.yaml").write_text(rules)
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: slow\n    url: {url}\n    backfill: 1\n"
        f"rules: [{tmp_path / 'rules.yaml'}]\n"
        "notifiers:\n  - id: console\n    type: console\n"
    )
    database = tmp_path / "monitor.db"
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{database}")
    service = Service(
        settings, load_config(settings, tmp_path / "monitor.yaml"), parse_in_processes=False
    )
    await service.start()
    blocking = service.matcher = BlockingMatcher(service.matcher)  # type: ignore[assignment]
    try:
        polling = asyncio.create_task(service.poll_all())
        assert await asyncio.to_thread(blocking.entered.wait, 10)
        await asyncio.wait_for(asyncio.to_thread(write_elsewhere, database), 10)
        now = datetime.now(UTC)
        await asyncio.wait_for(
            service.store.heartbeat("elsewhere", host="h", pid=1, version="0", now=now), 10
        )
        assert not polling.done()
        blocking.release.set()
        await asyncio.wait_for(polling, 30)
        [alert] = await service.store.list_alerts()
        assert (alert.rule_id, alert.feed_id, alert.title) == ("treaty", "slow", "Treaty signed")
    finally:
        blocking.release.set()
        await service.close()


async def test_an_edited_item_that_matches_a_rule_is_not_alerted_again(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    """The few items left after the memo are matched whole, the store unread: an edit's
    matches are dropped, a new item's kept."""
    url = feed_server.serve("/e.xml", Document.of(rss(("1", "Treaty talks", "x"))))
    (tmp_path / "rules.yaml").write_text("rules:\n  - id: treaty\n    keywords: {any: [treaty]}\n")
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: e\n    url: {url}\n    backfill: 1\n"
        f"rules: [{tmp_path / 'rules.yaml'}]\n"
        "notifiers:\n  - id: console\n    type: console\n"
    )
    settings = load_settings(database_url=database_url)
    clock = Clock()
    service = Service(
        settings,
        load_config(settings, tmp_path / "monitor.yaml"),
        clock=clock,
        parse_in_processes=False,
    )
    await service.start()
    try:
        assert (await service.poll_all()).alerts == 1
        feed_server.serve(
            "/e.xml",
            Document.of(rss(("2", "Treaty signed", "y"), ("1", "Treaty talks go on", "x y"))),
        )
        clock.advance(timedelta(hours=1))
        tally = await service.poll_all()
        assert (tally.new, tally.alerts) == (1, 1)
        alerts = await service.store.list_alerts()
        # One alert per story: the edited one's (shown with its title now) and the new one's.
        assert sorted(a.title for a in alerts) == ["Treaty signed", "Treaty talks go on"]
        stored = {a.title for a in await service.store.articles_for_feed("e")}
        assert stored == {"Treaty signed", "Treaty talks go on"}
    finally:
        await service.close()
