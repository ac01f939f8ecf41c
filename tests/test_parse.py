"""parse_feed on golden files, format detection, encodings, keys, hostile input; FeedParser pools.

Golden files: tests/data/feeds/x.xml beside x.expected.json, which holds the inputs (feed URL,
Content-Type) and the expected feed fields, article count and first articles. To regenerate
after a deliberate change, run with UPDATE_GOLDEN=1 and read the diff by eye.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pickle
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import pytest

from monitor.errors import ParseError
from monitor.models import ARTICLE_CAPS, Article, ParsedFeed
from monitor.parse import FeedParser, body_hash, parse_feed
from tests.conftest import DATA

FEEDS = DATA / "feeds"
FEED_URL = "https://example.com/feed.xml"
GOLDEN_ARTICLES = 3

# file: (the URL it is served from, the Content-Type it is served with, and why).
GOLDEN = {
    "bbc_2021-07-23.xml": ("https://feeds.bbci.co.uk/news/rss.xml", "application/rss+xml"),
    "craigslist.rss": ("https://sfbay.craigslist.org/search/apa?format=rss", None),  # RSS 1.0
    "heise.atom": ("http://www.heise.de/developer/rss/news-atom.xml", "application/atom+xml"),
    "allthis.json": ("http://leancrew.com/all-this/feed.json", "application/feed+json"),
    "3960.json": ("https://journal.3960.org/feed.json", None),  # JSON 1.1, found by its body
    "jsonfeed_elastic_1.1.json": ("https://www.influxdata.com/blog/feed/json", "application/json"),
    # No charset: RFC 3023 would read text/xml as US-ASCII; the XML declaration says windows-1251.
    "encoding_WINDOWS-1251.xml": ("http://ibash.org.ru/rss.xml", "text/xml"),
    # The server's charset is wrong: the document is ISO-8859-1, as it declares.
    "jn_encoding_ISO-8859-1.rss": ("http://feeds.jn.pt/JN-ULTIMAS", "text/html; charset=utf-8"),
    "kc0011.rss": ("http://www.kc0011.net/rss.asp", None),  # gb2312, read as gb18030
    "fox_2020-05-18_MALFORMED.xml": ("http://feeds.foxnews.com/foxnews/latest", None),  # cut short
    "latimes_2021-10-17_MALFORMED.xml": ("https://www.latimes.com/california/rss2.0.xml", None),
}


def article_fields(article: Article) -> dict[str, Any]:
    fields = dataclasses.asdict(article)
    for name in ("published", "updated"):
        value = fields[name]
        fields[name] = value.isoformat() if value is not None else None
    fields["authors"] = list(article.authors)
    fields["tags"] = list(article.tags)
    return fields


def golden_result(name: str) -> dict[str, Any]:
    url, content_type = GOLDEN[name]
    try:
        feed = parse_feed(
            (FEEDS / name).read_bytes(), feed_id="golden", url=url, content_type=content_type
        )
    except ParseError as exc:
        return {"error": "ParseError", "reason": exc.reason}
    return {
        "format": feed.format,
        "title": feed.title,
        "link": feed.link,
        "language": feed.language,
        "ttl_seconds": feed.ttl_seconds,
        "warning": feed.warning,
        "article_count": len(feed.articles),
        "articles": [article_fields(a) for a in feed.articles[:GOLDEN_ARTICLES]],
    }


def expected_path(name: str) -> Path:
    return FEEDS / (name.rsplit(".", 1)[0] + ".expected.json")


@pytest.mark.parametrize("name", sorted(GOLDEN), ids=sorted(GOLDEN))
def test_golden_file(name: str) -> None:
    url, content_type = GOLDEN[name]
    result = golden_result(name)
    path = expected_path(name)
    if os.environ.get("UPDATE_GOLDEN"):
        document = {"input": {"url": url, "content_type": content_type}, "expected": result}
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert expected["input"] == {"url": url, "content_type": content_type}
    assert result == expected["expected"]


def test_golden_files_cover_every_fixture() -> None:
    fixtures = {
        p.name
        for p in FEEDS.iterdir()
        if p.is_file() and p.suffix != ".md" and ".expected." not in p.name
    }
    hostile = {"entity_bomb.xml", "entity_amplification.xml"}
    assert fixtures - hostile == set(GOLDEN)
    assert {expected_path(n).name for n in GOLDEN} <= {p.name for p in FEEDS.iterdir()}


def parse(document: str | bytes, content_type: str | None = None) -> ParsedFeed:
    body = document.encode("utf-8") if isinstance(document, str) else document
    return parse_feed(body, feed_id="t", url=FEED_URL, content_type=content_type)


def rss(items: str, channel: str = "", *, encoding: str = "utf-8") -> bytes:
    document = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>Test feed</title><link>https://example.com/</link>{channel}{items}"
        "</channel></rss>"
    )
    return document.encode(encoding)


# --- format detection and errors -----------------------------------------------------------

JSON_10 = "https://jsonfeed.org/version/1"
JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "J",
    "items": [{"id": "1", "title": "One", "content_text": "first"}],
}


@pytest.mark.parametrize(
    ("body", "content_type", "expected_format"),
    [
        (json.dumps(JSON_FEED).encode(), None, "json11"),
        (b"\xef\xbb\xbf \n" + json.dumps(JSON_FEED).encode(), "text/plain", "json11"),
        (
            json.dumps({**JSON_FEED, "version": "https://jsonfeed.org/version/1"}).encode(),
            None,
            "json10",
        ),
        (rss("<item><guid isPermaLink='false'>a</guid></item>"), "application/json", "rss20"),
        (rss("<item><guid isPermaLink='false'>a</guid></item>"), None, "rss20"),
    ],
    ids=["json-body", "json-bom-whitespace", "json-1.0", "xml-labelled-json", "rss"],
)
def test_format_detection(body: bytes, content_type: str | None, expected_format: str) -> None:
    assert parse(body, content_type).format == expected_format


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", None, "empty body"),
        (b" \n\t ", "application/rss+xml", "empty body"),
        (b"<html><body><h1>403 Forbidden</h1></body></html>", "text/html", "not a feed"),
        (b"\x00\xff garbage \x13", None, "not a feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', None, "invalid JSON"),
        (b"not json at all", "application/feed+json", "invalid JSON"),
        (b'{"rss": {"version": "2.0", "channel": {}}}', None, "not a JSON Feed"),
        (b'["https://jsonfeed.org/version/1"]', "application/json", "not an object"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', None, "no items"),
        (b"[" * 100_000, "application/json", "invalid JSON"),
    ],
    ids=[
        "empty",
        "whitespace",
        "html-page",
        "garbage",
        "truncated-json",
        "json-type-not-json",
        "rss-in-json",
        "json-array",
        "json-feed-without-items",
        "json-deep-nesting",
    ],
)
def test_not_a_feed_raises_parse_error(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body, content_type)
    assert reason in caught.value.reason
    assert caught.value.feed_id == "t"
    assert caught.value.url == FEED_URL


def test_body_is_never_taken_for_a_path_or_url(tmp_path: Path) -> None:
    """feedparser.parse(bytes) would open a file of that name; ours must parse the bytes."""
    feed_file = tmp_path / "feed.xml"
    feed_file.write_bytes(rss("<item><guid isPermaLink='false'>from-the-file</guid></item>"))
    for body in (str(feed_file).encode(), b"http://127.0.0.1:9/feed.xml"):
        with pytest.raises(ParseError):
            parse(body)


def test_recovered_feed_carries_a_warning() -> None:
    truncated = rss("<item><guid isPermaLink='false'>a</guid><title>First</title></item>")[:-30]
    feed = parse(truncated)
    assert [a.key for a in feed.articles] == ["a"]
    assert feed.warning is not None and "SAXParseException" in feed.warning
    assert "\n" not in feed.warning
    assert parse(rss("<item><guid isPermaLink='false'>a</guid></item>")).warning is None


def test_feed_fields() -> None:
    feed = parse(rss("", "<language>ru</language><ttl>15</ttl>"))
    assert (feed.format, feed.title, feed.link) == ("rss20", "Test feed", "https://example.com/")
    assert (feed.language, feed.ttl_seconds, feed.articles) == ("ru", 900, ())
    assert parse(rss("", "<ttl>soon</ttl>")).ttl_seconds is None


# --- encodings ------------------------------------------------------------------------------


def declared(encoding: str, title: str, actual: str | None = None) -> bytes:
    """An RSS document declaring `encoding`, written in `actual` (default: the same)."""
    document = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f'<rss version="2.0"><channel><title>{title}</title></channel></rss>'
    )
    return document.encode(actual or encoding)


@pytest.mark.parametrize(
    ("body", "content_type", "title"),
    [
        (declared("windows-1251", "Новости дня"), "text/xml", "Новости дня"),
        (declared("windows-1251", "Новости дня"), "text/html; charset=iso-8859-1", "Новости дня"),
        (declared("KOI8-R", "Привет мир"), None, "Привет мир"),
        (declared("ISO-8859-1", "Café", "utf-8"), None, "Café"),
        (declared("windows-1252", "Euro €", "utf-8"), "text/xml; charset=windows-1252", "Euro €"),
        (declared("windows-1252", "Euro €"), "application/xml; charset=utf-8", "Euro €"),
        (declared("gb2312", "投资资讯网", "gb18030"), None, "投资资讯网"),
        (declared("utf-16", "Ереван", "utf-16"), None, "Ереван"),
        (
            b'<rss version="2.0"><channel><title>'
            + "Ñandú".encode("latin-1")
            + b"</title></channel></rss>",
            "text/xml; charset=ISO-8859-1",
            "Ñandú",
        ),
    ],
    ids=[
        "cp1251-text-xml-no-charset",
        "cp1251-server-says-latin1",
        "koi8-r",
        "utf8-declared-latin1",
        "utf8-declared-cp1252",
        "cp1252-server-says-utf8",
        "gb2312-as-gb18030",
        "utf16-bom",
        "undeclared-latin1-server-charset",
    ],
)
def test_encodings(body: bytes, content_type: str | None, title: str) -> None:
    assert parse(body, content_type).title == title


def test_json_feed_with_invalid_utf8_is_repaired_with_a_warning() -> None:
    body = json.dumps(JSON_FEED).encode().replace(b"first", b"fi\xffrst")
    feed = parse(body)
    assert feed.articles[0].content_text == "fi\ufffdrst"
    assert feed.warning is not None and "UTF-8" in feed.warning


# --- articles -------------------------------------------------------------------------------


def test_article_fields_from_rss() -> None:
    item = """<item xmlns:dc="http://purl.org/dc/elements/1.1/">
        <title>&lt;b&gt;Peace&lt;/b&gt; treaty &amp;amp; more</title>
        <link>/news/1?utm_source=rss&amp;id=7#top</link>
        <guid isPermaLink='false'> urn:news:1 </guid>
        <description>&lt;p&gt;Yerevan&lt;br&gt;Baku&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description>
        <author>desk@example.com (News Desk)</author>
        <dc:creator>News Desk</dc:creator>
        <category>Caucasus</category><category>Caucasus</category><category>Politics</category>
        <pubDate>Wed, 21 Mar 2018 10:27:32 +0300</pubDate>
    </item>"""
    feed = parse(rss(item, "<language>en-gb</language>"))
    (article,) = feed.articles
    assert article.key == "urn:news:1"
    assert article.link == "https://example.com/news/1?utm_source=rss&id=7#top"
    assert article.url == "https://example.com/news/1?id=7"
    assert article.title == "Peace treaty & more"
    assert article.summary_text == "Yerevan\nBaku"
    assert "<script" not in article.summary  # feedparser's sanitiser
    assert article.authors == ("News Desk",)
    assert article.tags == ("Caucasus", "Politics")
    assert article.published == datetime(2018, 3, 21, 7, 27, 32, tzinfo=UTC)
    assert article.updated is None
    assert article.language == "en-gb"
    assert (article.content, article.content_text) == ("", "")
    assert len(article.content_hash) == 32


def test_article_fields_from_atom() -> None:
    document = """<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
      <title type="html">A &lt;i&gt;feed&lt;/i&gt;</title>
      <link href="https://example.org/"/>
      <author><name>Feed Author</name></author>
      <entry>
        <id>tag:example.org,2024:1</id>
        <title type="text">1 &lt; 2</title>
        <link rel="alternate" href="https://Example.ORG:443/a"/>
        <summary type="text">plain &lt;b&gt; text</summary>
        <content type="html">&lt;p&gt;Some &lt;em&gt;HTML&lt;/em&gt;&lt;/p&gt;</content>
        <updated>2024-05-01T10:00:00+02:00</updated>
        <published>2024-05-01T09:00:00Z</published>
      </entry>
    </feed>"""
    feed = parse(document)
    assert (feed.format, feed.title, feed.language) == ("atom10", "A feed", "de")
    (article,) = feed.articles
    assert article.title == "1 < 2"
    assert article.url == "https://example.org/a"
    assert article.summary == "plain &lt;b&gt; text"
    assert article.summary_text == "plain <b> text"
    assert article.content == "<p>Some <em>HTML</em></p>"
    assert article.content_text == "Some HTML"
    assert article.authors == ("Feed Author",)  # RFC 4287 4.2.1: the feed's author applies
    assert article.published == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert article.updated == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert article.language == "de"


def test_json_feed_article_fields() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Blog &#8211; Example",
        "home_page_url": "/",
        "language": "en-US",
        "authors": [{"name": "Feed Author"}],
        "items": [
            {
                "id": 42,
                "url": "posts/1?fbclid=abc",
                "title": "A <b> title",
                "summary": "Short & sweet",
                "content_html": "<p>Hello,<br>world</p>",
                "date_published": "2021-02-26T15:04:04+02:00",
                "date_modified": "Fri, 31 May 2019 12:17:58 -0700",
                "tags": ["a", "b", "a", 3],
                "authors": [{"name": "One"}, {"name": "Two"}],
                "author": {"name": "One"},
            },
            {"id": "", "url": "https://example.com/2", "content_text": "Text <only>"},
            {"content_text": "no id, no url"},
            "not an item",
        ],
    }
    feed = parse(json.dumps(document))
    assert (feed.format, feed.title, feed.link, feed.language) == (
        "json11",
        "Blog – Example",
        "https://example.com/",
        "en-US",
    )
    first, second, third = feed.articles
    assert (first.key, first.url) == ("42", "https://example.com/posts/1")
    assert first.title == "A <b> title"
    assert (first.summary, first.summary_text) == ("Short &amp; sweet", "Short & sweet")
    assert (first.content, first.content_text) == ("<p>Hello,<br>world</p>", "Hello,\nworld")
    assert first.published == datetime(2021, 2, 26, 13, 4, 4, tzinfo=UTC)
    assert first.updated == datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)
    assert (first.tags, first.authors, first.language) == (("a", "b"), ("One", "Two"), "en-US")
    assert (second.key, second.content, second.content_text) == (
        "https://example.com/2",
        "Text &lt;only&gt;",
        "Text <only>",
    )
    assert second.authors == ("Feed Author",)
    assert third.key.startswith("sha256:") and third.url is None


@pytest.mark.parametrize("kind", ["rss", "json"])
def test_feed_url_credentials_do_not_leak_into_links(kind: str) -> None:
    url = "https://reader:s3cret@example.com/private/feed"
    if kind == "rss":
        description = "<description>&lt;a href='/a'&gt;a&lt;/a&gt;</description>"
        body = rss(f"<item><link>/story/1</link>{description}</item>")
    else:
        body = json.dumps(
            {**JSON_FEED, "items": [{"url": "/story/1", "content_html": "x"}]}
        ).encode()
    feed = parse_feed(body, feed_id="t", url=url)
    (article,) = feed.articles
    assert article.link == "https://example.com/story/1"
    assert "s3cret" not in repr(feed)


def test_key_falls_back_to_link_then_content_hash() -> None:
    items = (
        "<item><guid isPermaLink='false'>g1</guid><link>https://example.com/1</link></item>"
        "<item><link>https://example.com/2?utm_medium=x#c</link><title>two</title></item>"
        "<item><title>three</title><description>body</description></item>"
    )
    keys = [a.key for a in parse(rss(items)).articles]
    assert keys[:2] == ["g1", "https://example.com/2"]
    assert keys[2].startswith("sha256:") and len(keys[2]) == 7 + 64


def test_repeated_items_keep_the_first() -> None:
    items = (
        "<item><guid isPermaLink='false'>same</guid><title>first</title></item>"
        "<item><guid isPermaLink='false'>other</guid><title>middle</title></item>"
        "<item><guid isPermaLink='false'>same</guid><title>second</title></item>"
    )
    articles = parse(rss(items)).articles
    assert [(a.key, a.title) for a in articles] == [("same", "first"), ("other", "middle")]


def test_content_hash_tells_an_edit_apart() -> None:
    item = "<item><guid isPermaLink='false'>a</guid><title>T</title><description>{}</description>"
    item += "</item>"
    before, after, again = (parse(rss(item.format(text))) for text in ("v1", "v2", "v1"))
    assert before.articles[0].key == after.articles[0].key
    assert before.articles[0].content_hash != after.articles[0].content_hash
    assert before.articles[0].content_hash == again.articles[0].content_hash


def test_records_pickle() -> None:
    feed = parse((FEEDS / "heise.atom").read_bytes())
    assert pickle.loads(pickle.dumps(feed)) == feed


def test_body_hash() -> None:
    body = (FEEDS / "heise.atom").read_bytes()
    assert body_hash(body) == body_hash(bytes(body))
    assert len(body_hash(body)) == 32
    assert body_hash(body) != body_hash(body + b" ")


# --- hostile input ----------------------------------------------------------------------------
# The one place with a timing bound: generous, against the minutes a quadratic path would take.


def total_text(feed: ParsedFeed) -> int:
    return sum(len(a.title) + len(a.summary) + len(a.content) for a in feed.articles)


def json_feed_with_html(markup: str) -> bytes:
    return json.dumps({**JSON_FEED, "items": [{"id": "x", "content_html": markup}]}).encode()


HOSTILE: dict[str, Callable[[], bytes]] = {
    "entity-bomb": (FEEDS / "entity_bomb.xml").read_bytes,
    "entity-amplification": (FEEDS / "entity_amplification.xml").read_bytes,
    "title-1mb": lambda: rss(
        f"<item><guid isPermaLink='false'>t</guid><title>{'word ' * 200_000}</title></item>"
    ),
    "unclosed-tags-html": lambda: json_feed_with_html("<a" * 300_000),
    "unclosed-end-tags-html": lambda: json_feed_with_html("</" * 300_000),
    "spaces-html": lambda: json_feed_with_html("x" + " " * 1_000_000 + "y"),
    "deep-nesting": lambda: rss(
        f"<item><guid isPermaLink='false'>d</guid><title>{'<x>' * 5_000}</title></item>"
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE), ids=sorted(HOSTILE))
def test_hostile_input_is_bounded(name: str) -> None:
    body = HOSTILE[name]()
    started = time.monotonic()
    try:
        feed = parse(body)
    except ParseError:
        pass
    else:
        assert total_text(feed) <= 2 * len(body) + 10_000  # no expansion
    assert time.monotonic() - started < 5


def test_entity_bomb_is_refused() -> None:
    with pytest.raises(ParseError, match="refused: the document declares entities that expand"):
        parse((FEEDS / "entity_bomb.xml").read_bytes())


def test_entity_amplification_is_refused() -> None:
    with pytest.raises(ParseError, match="refused: the document declares entities that expand"):
        parse((FEEDS / "entity_amplification.xml").read_bytes())
    small = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY org "Example Org">\n]>\n'
        + rss("<item><guid isPermaLink='false'>e</guid><title>&org; news</title></item>").split(
            b"?>", 1
        )[1]
    )
    assert parse(small).articles[0].title == "Example Org news"


def test_oversized_title_is_capped_with_a_mark() -> None:
    title = "word " * 200_000
    feed = parse(rss(f"<item><guid isPermaLink='false'>t</guid><title>{title}</title></item>"))
    capped = feed.articles[0].title
    assert len(capped) == ARTICLE_CAPS.title and capped == title[: len(capped) - 1].strip() + "…"


# --- FeedParser ---------------------------------------------------------------------------------

MODES = [pytest.param(False, id="threads"), pytest.param(True, id="processes")]


def worker_processes() -> list[psutil.Process]:
    """Pool workers: forked by the forkserver, which is this process's child."""
    me = os.getpid()
    return [p for p in psutil.Process(me).children(recursive=True) if p.ppid() != me]


@pytest.mark.parametrize("use_processes", MODES)
async def test_pool_returns_what_parse_feed_returns(use_processes: bool) -> None:
    body = (FEEDS / "encoding_WINDOWS-1251.xml").read_bytes()
    direct = parse_feed(body, feed_id="f", url=FEED_URL, content_type="text/xml")
    async with FeedParser(2, use_processes=use_processes) as parser:
        pooled = await parser.parse(body, feed_id="f", url=FEED_URL, content_type="text/xml")
        results = await asyncio.gather(
            *(
                parser.parse(body, feed_id="f", url=FEED_URL, content_type="text/xml")
                for _ in range(6)
            )
        )
    assert pooled == direct
    assert all(result == direct for result in results)


@pytest.mark.parametrize("use_processes", MODES)
async def test_pool_raises_the_same_parse_error(use_processes: bool) -> None:
    body = b'{"version": "https://jsonfeed.org/version/1", "items": [}'
    with pytest.raises(ParseError) as direct:
        parse_feed(body, feed_id="f", url=FEED_URL)
    async with FeedParser(1, use_processes=use_processes) as parser:
        with pytest.raises(ParseError) as pooled:
            await parser.parse(body, feed_id="f", url=FEED_URL)
    assert str(pooled.value) == str(direct.value)
    assert "JSONDecodeError" in str(pooled.value)


@pytest.mark.parametrize("use_processes", MODES)
async def test_crash_in_worker_becomes_parse_error(use_processes: bool) -> None:
    async with FeedParser(1, use_processes=use_processes) as parser:
        with pytest.raises(ParseError, match="parser failed: TypeError"):
            await parser.parse("a str, not bytes", feed_id="f", url=FEED_URL)  # type: ignore[arg-type]
        feed = await parser.parse(
            rss("<item><guid isPermaLink='false'>ok</guid></item>"), feed_id="f", url=FEED_URL
        )
    assert [a.key for a in feed.articles] == ["ok"]


async def test_killed_worker_process_is_replaced() -> None:
    body = rss("<item><guid isPermaLink='false'>ok</guid></item>")
    async with FeedParser(1) as parser:
        await parser.parse(body, feed_id="f", url=FEED_URL)
        victims = worker_processes()
        assert victims
        for process in victims:
            process.kill()
        psutil.wait_procs(victims, timeout=10)
        with pytest.raises(ParseError, match="parser process died"):
            await parser.parse(body, feed_id="f", url=FEED_URL)
        feed = await parser.parse(body, feed_id="f", url=FEED_URL)
    assert [a.key for a in feed.articles] == ["ok"]


async def test_runaway_parse_is_stopped_at_the_timeout() -> None:
    # feedparser's sanitiser searches for the end of each unclosed comment: quadratic.
    comments = "&lt;!--" * 150_000
    runaway = rss(
        f"<item><guid isPermaLink='false'>s</guid><description>{comments}</description></item>"
    )
    async with FeedParser(1, timeout=1.0) as parser:
        with pytest.raises(ParseError, match="longer than 1 s"):
            await parser.parse(runaway, feed_id="f", url=FEED_URL)
        feed = await parser.parse(
            rss("<item><guid isPermaLink='false'>ok</guid></item>"), feed_id="f", url=FEED_URL
        )
    assert [a.key for a in feed.articles] == ["ok"]


async def test_aclose_stops_a_runaway_parse_left_behind() -> None:
    comments = "&lt;!--" * 150_000
    runaway = rss(
        f"<item><guid isPermaLink='false'>s</guid><description>{comments}</description></item>"
    )
    parser = FeedParser(1, timeout=1.0)
    job = asyncio.create_task(parser.parse(runaway, feed_id="f", url=FEED_URL))
    while parser.pending == 0:  # handed to the pool
        await asyncio.wait([job], timeout=0.01)
    job.cancel()  # its caller goes away (shutdown); the job keeps running in the pool
    workers = worker_processes()
    assert workers
    started = time.monotonic()
    await parser.aclose()
    assert time.monotonic() - started < 30  # the timeout, then a kill; not the minutes it needs
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    assert job.cancelled()


async def test_at_most_twice_the_workers_are_queued() -> None:
    body = (FEEDS / "bbc_2021-07-23.xml").read_bytes()
    async with FeedParser(1, use_processes=False) as parser:
        tasks = [
            asyncio.create_task(parser.parse(body, feed_id="f", url=FEED_URL)) for _ in range(8)
        ]
        seen: set[int] = set()
        while not all(task.done() for task in tasks):
            seen.add(parser.pending)
            await asyncio.wait(tasks, timeout=0.001)
        results = [task.result() for task in tasks]
    assert max(seen) == 2
    assert parser.pending == 0
    assert len({len(r.articles) for r in results}) == 1


async def test_aclose_leaves_no_process_behind() -> None:
    parser = FeedParser(2)
    body = rss("<item><guid isPermaLink='false'>ok</guid></item>")
    await asyncio.gather(*(parser.parse(body, feed_id="f", url=FEED_URL) for _ in range(4)))
    workers = worker_processes()
    assert workers
    await parser.aclose()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    await parser.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await parser.parse(body, feed_id="f", url=FEED_URL)
