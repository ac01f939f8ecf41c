"""Hostile feed documents through the real pipeline: a feed server on 127.0.0.1, the real parser
pool, the store on SQLite and PostgreSQL. A refused document is a failed feed, every time."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.models import ARTICLE_CAPS, FeedStatus, PollStatus
from tests.conftest import DATA
from tests.feedserver import Document, FeedServer
from tests.test_cli import monitor
from tests.test_parse_entities import semicolonless_bomb
from tests.test_pipeline import Harness, MakeHarness, harness_factory, rss

__all__ = ["harness_factory"]  # the fixture, shared with test_pipeline

BOMBS = {
    "bomb": (DATA / "feeds" / "entity_bomb.xml").read_bytes(),
    "amplified": (DATA / "feeds" / "entity_amplification.xml").read_bytes(),
    "semicolonless": semicolonless_bomb(),
}


async def test_a_refused_document_fails_its_feed_on_every_poll(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    urls = {
        name: feed_server.serve(f"/{name}.xml", Document.of(body)) for name, body in BOMBS.items()
    }
    urls["good"] = feed_server.serve("/good.xml", Document.of(rss(("1", "One", "x"))))
    h: Harness = await harness_factory(urls)

    for attempt in (1, 2):  # the same body again: never "unchanged", never ok
        tally = await h.service.poll_all()
        failed = {outcome.feed_id: outcome.error or "" for outcome in tally.failures}
        assert set(failed) == set(BOMBS), tally
        assert tally.outcomes[PollStatus.UNCHANGED] == 0
        for name in BOMBS:
            assert failed[name].startswith(f"feed {name} ({urls[name]}): refused: the document")
            feed = await h.feed(name)
            assert feed.status is FeedStatus.ERROR
            assert feed.error_count == attempt
            assert "refused: the document declares entities that expand" in (feed.last_error or "")
            assert feed.next_poll_at is not None and feed.next_poll_at > h.clock.now  # backoff
            assert await h.service.store.articles_for_feed(name) == []
        assert (await h.feed("good")).status is FeedStatus.OK
        h.clock.advance(timedelta(hours=2))


async def test_a_feed_that_turns_into_a_bomb_fails_until_it_turns_back(
    feed_server: FeedServer, harness_factory: MakeHarness
) -> None:
    good = Document.of(rss(("1", "One", "x")))
    url = feed_server.serve("/turn.xml", good)
    h: Harness = await harness_factory({"turn": url})
    await h.service.poll_all()
    assert (await h.feed("turn")).status is FeedStatus.OK

    feed_server.serve("/turn.xml", Document.of(BOMBS["semicolonless"]))
    for attempt in (1, 2):
        h.clock.advance(timedelta(hours=1))
        tally = await h.service.poll_all()
        assert [o.feed_id for o in tally.failures] == ["turn"]
        assert (await h.feed("turn")).error_count == attempt

    feed_server.serve("/turn.xml", good)  # the body parsed before: unchanged, and ok again
    h.clock.advance(timedelta(hours=1))
    tally = await h.service.poll_all()
    assert tally.outcomes[PollStatus.UNCHANGED] + tally.outcomes[PollStatus.NOT_MODIFIED] == 1
    feed = await h.feed("turn")
    assert (feed.status, feed.error_count, feed.last_error) == (FeedStatus.OK, 0, None)


async def test_once_and_feeds_name_the_refused_feed_every_time(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.serve("/bomb.xml", Document.of(BOMBS["semicolonless"]))
    (tmp_path / "monitor.yaml").write_text(
        f"feeds:\n  - id: bomb\n    url: {url}\nnotifiers:\n  - id: console\n    type: console\n"
    )
    for attempt in (1, 2):
        code, out, err = await monitor("once", cwd=tmp_path)
        assert code == 1, err  # its only feed failed
        assert "bomb" in out and "refused: the document declares entities" in out, out
        code, out, err = await monitor("feeds", "--json", cwd=tmp_path)
        assert code == 0, err
        [row] = json.loads(out)
        assert (row["status"], row["errors"]) == ("error", attempt)
        assert "refused: the document declares entities that expand" in row["last_error"]


async def test_a_nine_megabyte_title_is_stored_capped_and_never_logged_whole(
    feed_server: FeedServer,
    harness_factory: MakeHarness,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    title = "Huge " + "word " * 1_900_000  # 9.5 MB
    body = rss(("big", title, "text"), ("small", "Small item", "x"))
    assert len(body) > 9_000_000
    url = feed_server.serve("/big.xml", Document.of(body))
    (tmp_path / "rules.yaml").write_text("rules:\n  - id: huge\n    keywords: {any: [huge]}\n")
    # (the harness writes `extra` under each feed: this ends the feed list with a rules entry)
    h: Harness = await harness_factory({"big": url}, extra="backfill: 2\nrules: [rules.yaml]")
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="monitor")
    tally = await h.service.poll_all()
    assert tally.failures == [] and tally.recorded == 2 and tally.alerts == 1
    stored = sorted(a.title for a in await h.service.store.articles_for_feed("big"))
    capped, small = stored
    assert len(capped) == ARTICLE_CAPS.title and capped.endswith("…")
    assert capped.startswith("Huge word word")
    assert small == "Small item"
    [alert_line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("alert:")]
    assert alert_line.startswith("alert: huge: Huge word word") and len(alert_line) < 300
    longest = max(len(record.getMessage()) for record in caplog.records)
    assert longest <= 2_000
