"""Every article field is capped at the parse stage's edge, by each of the three parsers."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape

import pytest

from monitor.models import ARTICLE_CAPS, Article
from monitor.parse import parse_feed
from monitor.parse.caps import capped_markup, capped_text

CAPS = ARTICLE_CAPS
FEED_URL = "https://example.com/feed.xml"
LONG_URL = "https://example.com/" + "a" * CAPS.url


def rss_item(doctype: str) -> Callable[[dict[str, object]], bytes]:
    def build(fields: dict[str, object]) -> bytes:
        tags = "".join(f"<category>{escape(str(t))}</category>" for t in fields["tags"])  # type: ignore[attr-defined]
        return (
            f'<?xml version="1.0" encoding="utf-8"?>{doctype}<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>{escape(str(fields['feed_title']))}</title><link>https://example.com/</link>"
            "<item><guid isPermaLink='false'>g-1</guid>"
            f"<title>{escape(str(fields['title']))}</title>"
            f"<link>{escape(str(fields['link']))}</link>"
            f"<description>{escape(str(fields['summary']))}</description>"
            f"<content:encoded>{escape(str(fields['content']))}</content:encoded>"
            f"<dc:creator>{escape(str(fields['author']))}</dc:creator>{tags}</item>"
            "</channel></rss>"
        ).encode()

    return build


def json_item(fields: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": fields["feed_title"],
            "items": [
                {
                    "id": "g-1",
                    "url": fields["link"],
                    "title": fields["title"],
                    "summary": fields["summary"],
                    "content_html": fields["content"],
                    "authors": [{"name": fields["author"]}],
                    "tags": fields["tags"],
                }
            ],
        }
    ).encode()


PARSERS = {
    "lxml": rss_item(""),
    "feedparser": rss_item("<!DOCTYPE rss>"),  # the fast path declines a DOCTYPE
    "json": json_item,
}
HUGE = {
    "feed_title": "Feed " * 1_000,
    "title": "Title " * 1_000,
    "summary": "<p>Summary words</p>" * 2_000,
    "content": "<p>Content <b>words</b> &amp; more</p>" * 10_000,
    "author": "Author " * 200,
    "tags": [f"tag{n} " + "t" * 300 for n in range(150)],
    "link": LONG_URL,
}


@pytest.mark.parametrize("parser", sorted(PARSERS), ids=sorted(PARSERS))
def test_every_field_is_capped_with_a_mark(parser: str) -> None:
    feed = parse_feed(PARSERS[parser](HUGE), feed_id="caps", url=FEED_URL)
    [article] = feed.articles
    assert len(feed.title) == CAPS.title and feed.title.endswith("…")
    assert len(article.title) == CAPS.title and article.title.endswith("…")
    assert article.title.startswith("Title Title")
    for field, limit in [("summary", CAPS.summary), ("content", CAPS.content)]:
        for value in (getattr(article, field), getattr(article, f"{field}_text")):
            assert len(value) <= limit and value.endswith(" [truncated]"), field
            assert len(value) > limit - 100, field
    assert article.content.startswith("<p>Content <b>words</b> &amp; more</p>")
    [author] = article.authors
    assert len(author) == CAPS.author and author.endswith("…")
    assert len(article.tags) == CAPS.names
    assert all(len(tag) == CAPS.tag and tag.endswith("…") for tag in article.tags)
    assert article.link is None and article.url is None  # a cut URL would lead elsewhere
    assert article.key == "g-1"


@pytest.mark.parametrize("parser", sorted(PARSERS), ids=sorted(PARSERS))
def test_fields_within_the_caps_are_untouched(parser: str) -> None:
    fields = {
        "feed_title": "Feed",
        "title": "A title",
        "summary": "A summary",
        "content": "<p>Content</p>",
        "author": "Ann Author",
        "tags": ["one", "two"],
        "link": "https://example.com/a",
    }
    [article] = parse_feed(PARSERS[parser](fields), feed_id="caps", url=FEED_URL).articles
    assert isinstance(article, Article)
    assert (article.title, article.authors, article.tags) == (
        "A title",
        ("Ann Author",),
        ("one", "two"),
    )
    assert article.summary == "A summary" and article.content == "<p>Content</p>"
    assert article.link == "https://example.com/a"


def test_markup_is_never_cut_inside_a_tag_or_a_reference() -> None:
    limit = 30
    for markup in (
        "x" * 17 + '<a href="https://example.com/">y</a>',
        "x" * 15 + "&amp;&amp;yyyyyyyyyyyyyy",
    ):
        cut = capped_markup(markup, limit)
        assert len(cut) <= limit and cut.endswith(" [truncated]")
        body = cut.removesuffix(" [truncated]")
        assert body.count("<") == body.count(">")
        assert body.rfind("&") < 0 or ";" in body[body.rfind("&") :]


def test_text_is_cut_at_the_limit_with_its_mark() -> None:
    assert capped_text("short", 10) == "short"
    assert capped_text("a" * 20, 10) == "a" * 9 + "…"
