"""Alerts in the store, on SQLite and PostgreSQL: written with their articles in one transaction,
one per rule × story, listed newest first, and the 0002 migration over a 0001 database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from monitor.errors import StoreError
from monitor.models import (
    ActorHit,
    Alert,
    Article,
    FeedStateUpdate,
    FeedStatus,
    RuleMatch,
    TermHit,
)
from monitor.store import RecordResult, Store, open_store
from monitor.store.articles import record_articles
from monitor.store.database import alembic_config, async_database_url
from monitor.store.schema import feeds
from tests.conftest import StoreFactory
from tests.test_store import FeedConf, article

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
SHARED_URL = "https://news.example/armenia-azerbaijan-treaty"


def polled(at: datetime = NOW) -> FeedStateUpdate:
    return FeedStateUpdate(
        polled_at=at, next_poll_at=at + timedelta(minutes=10), status=FeedStatus.OK
    )


def hit(rule_id: str, score: float = 2.0) -> RuleMatch:
    return RuleMatch(
        rule_id=rule_id,
        keywords=(TermHit("peace treaty", "title", "… signed a peace treaty in …"),),
        actors=(ActorHit("armenia", "Armenia", ("Yerevan", "Armenian")),),
        score=score,
    )


def rules(*rule_ids: str) -> list[RuleMatch]:
    return [hit(r) for r in rule_ids]


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    try:
        await opened.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)
        yield opened
    finally:
        await opened.close()


async def record(
    store: Store,
    feed_id: str,
    items: Sequence[Article],
    matches: Mapping[str, Sequence[RuleMatch]],
    at: datetime = NOW,
) -> RecordResult:
    return await store.record_poll(feed_id, polled(at), items, matches=matches)


def pairs(alerts: Sequence[Alert]) -> list[tuple[str, str, str]]:
    return [(a.rule_id, a.feed_id, a.article_key) for a in alerts]


# --- writing alerts -------------------------------------------------------------------------


async def test_each_new_article_gets_one_alert_per_matching_rule(store: Store) -> None:
    items = [article("a", "1"), article("a", "2"), article("a", "3")]
    matches = {"1": rules("r1", "r2"), "2": rules("r1"), "elsewhere": rules("r3")}

    result = await record(store, "a", items, matches)

    assert [a.key for a in result.inserted] == ["1", "2", "3"]
    assert pairs(result.alerts) == [("r1", "a", "1"), ("r2", "a", "1"), ("r1", "a", "2")]
    first = result.alerts[0]
    assert (first.url, first.title, first.detected_at, first.score) == (
        "https://example.org/a/1",
        "Title 1",
        NOW,
        2.0,
    )
    assert first.match == hit("r1")
    assert len({a.id for a in result.alerts}) == 3
    assert await store.count_alerts() == 3
    assert [await store.get_alert(a.id) for a in result.alerts] == list(result.alerts)


async def test_an_article_stored_already_gets_no_new_alert(store: Store) -> None:
    await record(store, "a", [article("a", "1")], {})
    edited = article("a", "1", title="Edited", content_hash="hash-edited")

    resent = await record(store, "a", [article("a", "1")], {"1": rules("r1")})
    after_edit = await record(store, "a", [edited], {"1": rules("r1")})

    assert (resent.inserted, resent.alerts) == ((), ())
    assert (after_edit.edited, after_edit.alerts) == (1, ())
    assert await store.count_alerts() == 0


async def test_unseen_articles_are_the_ones_the_write_would_insert(store: Store) -> None:
    await record(store, "a", [article("a", "2")], {})
    items = [
        article("a", "1"),
        article("a", "2"),
        article("a", "3"),
        article("a", "1", title="Dup"),
    ]

    unseen = await store.unseen_articles("a", items)

    assert [(a.key, a.title) for a in unseen] == [("1", "Title 1"), ("3", "Title 3")]
    assert await store.unseen_articles("b", items) == [items[0], items[1], items[2]]
    assert await store.count_articles() == 1  # a read: nothing written


async def test_an_article_another_writer_stores_after_the_read_is_not_alerted_twice(
    store: Store, database_url: str
) -> None:
    """Matched first, written after: a replica that stored an article in between owns it and
    its alert; this writer's matches of it are dropped, the others' written."""
    items = [article("a", "1"), article("a", "3")]
    unseen = await store.unseen_articles("a", items)
    assert [a.key for a in unseen] == ["1", "3"]
    replica = await open_store(database_url)
    try:
        theirs = await record(replica, "a", [article("a", "1")], {"1": rules("r1")})
    finally:
        await replica.close()

    ours = await record(store, "a", items, {"1": rules("r1", "r2"), "3": rules("r1")})

    assert pairs(theirs.alerts) == [("r1", "a", "1")]
    assert [a.key for a in ours.inserted] == ["3"]
    assert pairs(ours.alerts) == [("r1", "a", "3")]
    assert await store.count_alerts() == 2


async def test_a_story_alerted_once_is_not_alerted_again(store: Store) -> None:
    await record(store, "a", [article("a", "1")], {"1": rules("r1")})

    again = await record(store, "a", [article("a", "1")], {"1": rules("r1", "r2")})

    assert again.alerts == ()  # r2 too: the article is not new
    assert await store.count_alerts() == 1


@pytest.mark.parametrize(
    ("url_a", "url_b", "expected"),
    [
        (SHARED_URL, SHARED_URL, [("r1", "a", "1"), ("r2", "b", "1")]),
        (SHARED_URL, None, [("r1", "a", "1"), ("r1", "b", "1"), ("r2", "b", "1")]),
        (None, None, [("r1", "a", "1"), ("r1", "b", "1"), ("r2", "b", "1")]),
    ],
    ids=["same-canonical-url", "one-without-url", "no-url-same-key"],
)
async def test_one_story_across_feeds_is_one_alert_per_rule(
    store: Store, url_a: str | None, url_b: str | None, expected: list[tuple[str, str, str]]
) -> None:
    first = await record(store, "a", [article("a", "1", url=url_a)], {"1": rules("r1")})
    later = NOW + timedelta(minutes=1)

    second = await record(
        store, "b", [article("b", "1", url=url_b)], {"1": rules("r1", "r2")}, later
    )

    assert [a.key for a in second.inserted] == ["1"]  # the article is stored anyway
    assert pairs(first.alerts + second.alerts) == expected
    assert sorted(pairs(await store.list_alerts())) == sorted(expected)


async def test_no_url_story_keys_do_not_collide_across_feeds(store: Store) -> None:
    # Without a URL the story is feed + key: with "-" between them these two would be one.
    await store.sync_feeds([FeedConf("a"), FeedConf("b"), FeedConf("a-b")], now=NOW)
    first = await record(store, "a", [article("a", "b-1", url=None)], {"b-1": rules("r1")})

    second = await record(store, "a-b", [article("a-b", "1", url=None)], {"1": rules("r1")})

    assert (len(first.alerts), len(second.alerts)) == (1, 1)


async def test_two_articles_of_one_story_in_one_poll_give_one_alert(store: Store) -> None:
    items = [article("a", "1", url=SHARED_URL), article("a", "2", url=SHARED_URL)]

    result = await record(store, "a", items, {"1": rules("r1"), "2": rules("r1", "r2")})

    assert pairs(result.alerts) == [("r1", "a", "1"), ("r2", "a", "2")]
    assert await store.count_alerts() == 2


async def test_matches_without_new_articles_write_nothing(store: Store) -> None:
    result = await record(store, "a", [], {"1": rules("r1")})

    assert result == RecordResult()
    feed = await store.get_feed("a")
    assert feed is not None and feed.last_poll_at == NOW


async def test_detected_at_is_the_poll_time_in_utc(store: Store) -> None:
    local = NOW.astimezone(timezone(timedelta(hours=4)))

    [created] = (await record(store, "a", [article("a", "1")], {"1": rules("r1")}, local)).alerts
    stored = await store.get_alert(created.id)

    assert stored is not None
    assert created.detected_at.tzinfo is UTC and stored.detected_at.tzinfo is UTC
    assert created.detected_at == stored.detected_at == NOW


async def test_nul_characters_are_stored_as_the_article_is(store: Store) -> None:
    item = article(
        "a", "k\x00", title="bad\x00title", url=None, link="https://e.org/\x00x", content_hash="h"
    )
    match = RuleMatch("r1", (TermHit("bad", "title", "bad\x00title"),), (), 1.0)

    [created] = (await record(store, "a", [item], {"k\x00": [match]})).alerts

    assert (created.article_key, created.title, created.url) == ("k", "badtitle", "https://e.org/x")
    assert await store.get_alert(created.id) == created


# --- one transaction ------------------------------------------------------------------------


async def test_a_failed_poll_leaves_no_alert(store: Store) -> None:
    items = [article("a", "1"), article("no-such-feed", "2")]

    with pytest.raises(StoreError, match="recording the poll of feed a"):
        await record(store, "a", items, {"1": rules("r1"), "2": rules("r1")})

    assert (await store.count_alerts(), await store.count_articles()) == (0, 0)


_REFUSE_ALERTS = {
    "sqlite": [
        "CREATE TRIGGER refuse_alerts BEFORE INSERT ON alerts "
        "BEGIN SELECT RAISE(ABORT, 'alerts refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_alerts() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'alerts refused'; END $$",
        "CREATE TRIGGER refuse_alerts BEFORE INSERT ON alerts "
        "FOR EACH ROW EXECUTE FUNCTION refuse_alerts()",
    ],
}


async def test_a_failed_alert_insert_undoes_the_articles_and_the_feed_state(store: Store) -> None:
    async with store.engine.begin() as conn:
        for statement in _REFUSE_ALERTS[conn.dialect.name]:
            await conn.exec_driver_sql(statement)

    with pytest.raises(StoreError, match="recording the poll of feed a"):
        await record(store, "a", [article("a", "1")], {"1": rules("r1")})

    feed = await store.get_feed("a")
    assert feed is not None and feed.last_poll_at is None
    assert (await store.count_alerts(), await store.count_articles()) == (0, 0)
    # Without matches no alert is written, so the same poll goes through.
    assert len((await record(store, "a", [article("a", "1")], {})).inserted) == 1


async def test_concurrent_polls_of_one_story_alert_once_per_rule(
    database_url: str, make_store: StoreFactory
) -> None:
    # Two stores on one database stand for two replicas polling two feeds with the same stories;
    # b lists them in the opposite order (the inserts must not deadlock on PostgreSQL).
    first, second = await make_store(database_url), await make_store(database_url)
    await first.sync_feeds([FeedConf("a"), FeedConf("b")], now=NOW)
    for round_ in range(4):
        stories = [f"{SHARED_URL}/{round_}/{n}" for n in range(25)]
        items = {
            f: [article(f, f"{round_}-{n}", url=u) for n, u in enumerate(stories)] for f in "ab"
        }
        matches = {a.key: rules("r1", "r2") for f in "ab" for a in items[f]}
        at = NOW + timedelta(minutes=round_)

        results = await asyncio.gather(
            record(first, "a", items["a"], matches, at),
            record(second, "b", items["b"][::-1], matches, at),
        )

        alerts = [a for result in results for a in result.alerts]
        assert sorted((a.rule_id, a.url) for a in alerts) == sorted(
            (rule, url) for rule in ("r1", "r2") for url in stories
        )
        assert [len(r.inserted) for r in results] == [25, 25]
    assert await second.count_alerts() == 4 * 25 * 2


async def test_alerts_go_with_their_article(store: Store) -> None:
    await record(store, "a", [article("a", "1")], {"1": rules("r1")})
    await record(store, "b", [article("b", "1")], {"1": rules("r1")})

    async with store.engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM feeds WHERE id = 'a'"))

    assert pairs(await store.list_alerts()) == [("r1", "b", "1")]


# --- queries --------------------------------------------------------------------------------


async def test_list_alerts_is_newest_first_with_filters(store: Store) -> None:
    times = [NOW + timedelta(minutes=m) for m in range(3)]
    await record(store, "a", [article("a", "1")], {"1": rules("r1", "r2")}, times[0])
    await record(store, "b", [article("b", "2")], {"2": rules("r2")}, times[1])
    await record(
        store,
        "a",
        [article("a", "3"), article("a", "4")],
        {"3": rules("r1"), "4": rules("r1")},
        times[2],
    )

    assert pairs(await store.list_alerts()) == [
        ("r1", "a", "4"),
        ("r1", "a", "3"),
        ("r2", "b", "2"),
        ("r1", "a", "1"),
        ("r2", "a", "1"),
    ]
    assert pairs(await store.list_alerts(limit=2)) == [("r1", "a", "4"), ("r1", "a", "3")]
    assert pairs(await store.list_alerts(since=times[1])) == [
        ("r1", "a", "4"),
        ("r1", "a", "3"),
        ("r2", "b", "2"),
    ]
    assert pairs(await store.list_alerts(rule_id="r2")) == [("r2", "b", "2"), ("r2", "a", "1")]
    assert pairs(await store.list_alerts(since=times[1], rule_id="r2")) == [("r2", "b", "2")]
    assert await store.list_alerts(rule_id="nothing") == []
    assert await store.list_alerts(limit=0) == []
    assert await store.count_alerts() == 5


async def test_get_alert_of_an_unknown_id_is_none(store: Store) -> None:
    assert await store.get_alert("0" * 32) is None


@pytest.mark.parametrize(
    "match",
    [
        RuleMatch("r1", (), (), 0.0),
        RuleMatch(
            "caucasus-peace",
            (
                TermHit("peace treaty", "title", "Armenia and Azerbaijan sign a peace treaty"),
                TermHit("normaliz*", "content", 'the "normalization" of\nrelations…'),
            ),
            (
                ActorHit("armenia", "Armenia", ("Yerevan", "Armenian")),
                ActorHit("russia", "Russia", ("Москва", "Russian", "Kopirkin")),
            ),
            3.5,
        ),
        RuleMatch("r1", (), (ActorHit("csto", "CSTO", ()),), 1.25),
    ],
    ids=["empty", "keywords-and-actors", "actor-without-mentions"],
)
async def test_matches_round_trip(store: Store, match: RuleMatch) -> None:
    [created] = (await record(store, "a", [article("a", "1")], {"1": [match]})).alerts

    stored = await store.get_alert(created.id)
    [listed] = await store.list_alerts()

    assert stored is not None
    assert stored.match == listed.match == match
    assert stored.rule_id == match.rule_id and stored.score == match.score


# --- migration 0002 -------------------------------------------------------------------------


async def _insert_at_0001(database_url: str) -> None:
    """A feed and an article in the 0001 schema, through its own engine (not open_store,
    which would migrate to head), in the columns 0001 has."""
    engine = create_async_engine(async_database_url(database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(feeds).values(
                    id="a",
                    url="https://example.org/a.xml",
                    config_url="https://example.org/a.xml",
                    interval_seconds=600.0,
                    tags=[],
                    backfill=0,
                    enabled=True,
                    status="ok",
                    error_count=0,
                    next_poll_at=NOW,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            await conn.run_sync(record_articles, "a", [article("a", "old")], now=NOW)
    finally:
        await engine.dispose()


async def _table_names(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))


async def test_migration_0002_upgrades_a_0001_database_and_downgrades(
    database_url: str, make_store: StoreFactory
) -> None:
    config = alembic_config(url=database_url)
    # env.py runs its own event loop when given a URL, hence the threads.
    await asyncio.to_thread(command.upgrade, config, "0001")
    await _insert_at_0001(database_url)

    store = await make_store(database_url)
    assert [a.key for a in await store.articles_for_feed("a")] == ["old"]
    later = NOW + timedelta(minutes=1)
    created = await record(store, "a", [article("a", "new")], {"new": rules("r1")}, later)
    assert pairs(created.alerts) == [("r1", "a", "new")]

    await asyncio.to_thread(command.downgrade, config, "0001")
    assert "alerts" not in await _table_names(store)
    assert {a.key for a in await store.articles_for_feed("a")} == {"old", "new"}

    await asyncio.to_thread(command.upgrade, config, "head")
    assert await store.count_alerts() == 0
    assert await store.count_articles() == 2
