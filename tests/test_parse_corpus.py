"""parse_feed over every captured feed of the corpus (conftest.CORPUS), against feedparser.

real/: every RSS/Atom file yields feedparser's entries less the repeated items; JSON Feeds yield
one article per item; the HTML error page is a ParseError. malformed/: each file gives a
ParsedFeed or a ParseError, never another exception.
"""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from pathlib import Path

import feedparser
import pytest

from monitor.errors import ParseError
from monitor.models import ParsedFeed
from monitor.parse import parse_feed
from tests.conftest import CORPUS

FEEDS = CORPUS / "feeds"
if not (FEEDS / "real").is_dir():
    pytest.skip(f"corpus not found at {FEEDS}", allow_module_level=True)

URL = "https://example.com/feed"
# Items a feed repeats (same guid or link): the article keeps the first. Found by this test;
# a change here means keys or deduplication changed.
REPEATED_ITEMS = {
    "real/headlines/dailymail_2021-09-17.xml": 1,
    "real/rsparser/scriptingNews.rss": 2,
    "real/secondcoursework/lenta.xml": 2,
}


@cache
def index() -> dict[str, dict[str, str]]:
    with (FEEDS / "INDEX.tsv").open(encoding="utf-8", newline="") as rows:
        return {row["path"]: row for row in csv.DictReader(rows, delimiter="\t")}


def corpus_files(folder: str) -> list[str]:
    return sorted(str(p.relative_to(FEEDS)) for p in (FEEDS / folder).rglob("*") if p.is_file())


REAL = corpus_files("real")
MALFORMED = corpus_files("malformed")


def check_articles(feed: ParsedFeed) -> None:
    keys = [a.key for a in feed.articles]
    assert all(keys), "every article has a key"
    assert len(set(keys)) == len(keys), "keys are unique within a feed"
    for article in feed.articles:
        assert article.url is None or article.url.startswith(("http://", "https://"))
        for moment in (article.published, article.updated):
            assert moment is None or moment.utcoffset() is not None


def test_index_lists_every_real_file() -> None:
    assert set(index()) == set(REAL)


@pytest.mark.parametrize("path", REAL, ids=REAL)
def test_real_feed(path: str) -> None:
    body = (FEEDS / path).read_bytes()
    row = index()[path]
    if row["format"] == "unknown":
        with pytest.raises(ParseError):
            parse_feed(body, feed_id="corpus", url=URL)
        return
    feed = parse_feed(body, feed_id="corpus", url=URL)
    check_articles(feed)
    if row["format"] == "jsonfeed":
        assert feed.format in ("json10", "json11")
        assert len(feed.articles) == len(json.loads(body)["items"])
        return
    entries = feedparser.parse(io.BytesIO(body)).entries
    assert len(entries) == int(row["items"])
    assert len(entries) - len(feed.articles) == REPEATED_ITEMS.get(path, 0)
    assert feed.format == row["feedparser_version"]


def test_repeated_items_are_real_repeats() -> None:
    for path, repeats in REPEATED_ITEMS.items():
        entries = feedparser.parse(io.BytesIO((FEEDS / path).read_bytes())).entries
        ids = [e.get("id") or e.get("link") for e in entries]
        assert len(ids) - len(set(ids)) == repeats, path


@pytest.mark.parametrize("path", MALFORMED, ids=MALFORMED)
def test_malformed_document(path: str) -> None:
    body = (FEEDS / path).read_bytes()
    try:
        feed = parse_feed(body, feed_id="corpus", url=URL)
    except ParseError as exc:
        assert exc.feed_id == "corpus"
        return
    check_articles(feed)


def test_malformed_corpus_is_present() -> None:
    assert len(MALFORMED) > 400
    assert all(Path(FEEDS / p).stat().st_size < 1_000_000 for p in MALFORMED)
