"""Incremental parsing (`monitor.parse.incremental`): with the memo of an earlier document, a
parse gives the full parse's articles minus those of the items whose bytes the earlier document
had, the same feed fields and the same new memo; anything odd is a full parse."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.models import Article, ParsedFeed
from monitor.parse import FeedParser, memo_published, parse_feed
from monitor.parse.fast import _xml_body, read_document
from monitor.parse.feed_reader import FeedReader
from monitor.parse.items import split_items
from monitor.parse.memo import HEADER, ITEM, Memo
from monitor.parse.normalize import link_base
from monitor.parse.syndication import entry_articles
from tests.conftest import CORPUS
from tests.test_pipeline import rss

URL = "https://example.org/feed.xml"
REAL = CORPUS / "feeds" / "real"
FEED_FIELDS = ("format", "title", "link", "language", "ttl_seconds", "warning")


def corpus_feeds() -> list[Path]:
    if not REAL.is_dir():
        return []
    return sorted(
        path
        for path in REAL.rglob("*")
        if path.is_file()
        and path.suffix not in {".md", ".tsv", ".json"}
        and "MALFORMED" not in path.name
    )


CORPUS_FEEDS = corpus_feeds()
needs_corpus = pytest.mark.skipif(not CORPUS_FEEDS, reason=f"corpus not found at {REAL}")


# ---- the oracle: the full parse, item by item ------------------------------------------------
def parse(body: bytes, memo: bytes | None = None, url: str = URL) -> ParsedFeed:
    return parse_feed(body, feed_id="f", url=url, memo=memo)


def items_of(body: bytes) -> list[bytes]:
    """The raw bytes of each item of a document the fast path reads item by item."""
    gated = _xml_body(body)
    assert gated is not None
    items = split_items(gated[0])
    assert items is not None
    return [gated[0][start:end] for start, end in items.spans]


def articles_by_item(body: bytes, url: str = URL) -> list[tuple[bytes, Article]]:
    """(item bytes, its article) for every item, repeated keys included, by a plain reading."""
    gated = _xml_body(body)
    assert gated is not None
    reader = read_document(gated[0], url, FeedReader)
    assert reader is not None
    result = {"feed": reader.feed, "entries": reader.entries}
    articles = entry_articles(
        result, reader.version, reader.entries, feed_id="f", url=link_base(url)
    )
    return list(zip(items_of(body), articles, strict=True))


def expected(body: bytes, earlier: bytes | None, url: str = URL) -> tuple[list[Article], int]:
    """The full parse's articles without those of items in `earlier`, and how many of the
    document's items `earlier` had."""
    old = set(items_of(earlier)) if earlier is not None else set()
    seen: set[str] = set()
    kept: list[Article] = []
    everything: list[Article] = []
    for raw, article in articles_by_item(body, url):
        if article.key not in seen:
            everything.append(article)
            if raw not in old:
                kept.append(article)
        seen.add(article.key)
    assert tuple(everything) == parse(body, url=url).articles  # the oracle is the full parse
    return kept, sum(raw in old for raw in items_of(body))


def assert_incremental(
    body: bytes, earlier: bytes, *, context_kept: bool = True, url: str = URL
) -> ParsedFeed:
    """`body` parsed with `earlier`'s memo equals the full parse minus `earlier`'s items (all
    of them when the context changed)."""
    memo = parse(earlier).item_memo
    assert memo is not None
    full = parse(body, url=url)
    result = parse(body, memo, url=url)
    articles, skipped = expected(body, earlier if context_kept else None, url)
    assert list(result.articles) == articles
    assert result.skipped_items == skipped
    assert result.item_memo == full.item_memo
    assert result.item_memo is not None
    for name in FEED_FIELDS:
        assert getattr(result, name) == getattr(full, name), name
    return result


# ---- documents ---------------------------------------------------------------------------------
def item(guid: str, title: str = "", description: str = "plain text") -> str:
    return (
        f'<item><guid isPermaLink="false">{guid}</guid><title>{title or guid}</title>'
        f"<link>https://news.example/{guid}</link><description>{description}</description>"
        f"<pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate></item>"
    )


def document(*items: str, channel: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Test</title><link>https://news.example/</link>{channel}\n"
        + "\n".join(items)
        + "\n</channel></rss>"
    ).encode()


def atom(*entries: str, lang: str = "en") -> bytes:
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}"><title>Atom</title>'
        '<link href="https://atom.example/"/><author><name>Ann</name></author>'
        "<updated>2026-11-25T10:00:00Z</updated>\n" + "\n".join(entries) + "\n</feed>"
    ).encode()


def entry(n: int) -> str:
    return (
        f"<entry><id>urn:e:{n}</id><title>Entry {n}</title>"
        f'<link href="https://atom.example/{n}"/><updated>2026-11-2{n % 9}T10:00:00Z</updated>'
        f"<summary>Summary {n}</summary></entry>"
    )


def rdf(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="https://rdf.example/"><title>RDF</title>'
        "<link>https://rdf.example/</link><description>d</description></channel>\n"
        + "\n".join(items)
        + '\n<textinput rdf:about="https://rdf.example/search"><title>Search</title>'
        "<link>https://rdf.example/search</link><name>q</name>"
        "<description>Search</description></textinput></rdf:RDF>"
    ).encode()


def rdf_item(n: int) -> str:
    return (
        f'<item rdf:about="https://rdf.example/{n}"><title>Item {n}</title>'
        f"<link>https://rdf.example/{n}</link><dc:date>2026-11-2{n % 9}T10:00:00Z</dc:date>"
        "</item>"
    )


A, B, C, D = (item(name) for name in "abcd")


# ---- small documents ---------------------------------------------------------------------------
def test_a_new_item_is_the_only_one_parsed() -> None:
    result = assert_incremental(document(D, A, B, C), document(A, B, C))
    assert [a.key for a in result.articles] == ["d"]
    assert result.skipped_items == 3


def test_the_first_parse_gives_a_memo_and_skips_nothing() -> None:
    result = parse(document(A, B))
    assert result.item_memo is not None
    assert len(result.item_memo) == HEADER.size + 2 * ITEM.size
    assert result.skipped_items == 0
    assert [a.key for a in result.articles] == ["a", "b"]


def test_an_edited_removed_and_reordered_items() -> None:
    earlier = document(A, B, C)
    assert_incremental(document(A, item("b", "B edited"), C), earlier)
    assert_incremental(document(A, C), earlier)
    assert_incremental(document(C, B, A), earlier)
    assert_incremental(document(A, B, C), earlier)  # nothing new: no article


def test_a_context_change_parses_every_item() -> None:
    earlier = document(A, B, channel="<language>en</language>")
    result = assert_incremental(
        document(A, B, channel="<language>fr</language>"), earlier, context_kept=False
    )
    assert [a.language for a in result.articles] == ["fr", "fr"]
    assert_incremental(earlier, earlier, context_kept=False, url="https://example.org/other")


def test_cdata_holding_item_tags() -> None:
    tricky = item("x", description="<![CDATA[a </item><item> b <item/>]]>")
    result = assert_incremental(document(D, tricky, A), document(tricky, A))
    assert result.skipped_items == 2
    assert len(items_of(document(tricky, A))) == 2


def test_xmlns_in_cdata_or_a_comment_is_text_not_a_declaration() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0"/></svg>'
    in_cdata = item("x", description=f"<![CDATA[<p>a chart</p>{svg}]]>")
    in_comment = item("y").replace("<title>", "<!-- xmlns:x='urn:x' --><title>")
    result = assert_incremental(document(D, in_cdata, in_comment, A), document(in_cdata, A))
    assert result.skipped_items == 2
    assert [a.key for a in result.articles] == ["d", "y"]


def test_comments_and_processing_instructions_holding_item_tags() -> None:
    tricky = item("x").replace("<title>", "<!-- <item> --><?pi <item>?><title>")
    assert_incremental(document(D, tricky, A), document(tricky, A))


@pytest.mark.parametrize(
    "odd",
    [
        document(A, "<item/>", B),
        document(A, "<item><guid>n</guid><item><guid>m</guid></item></item>", B),
        document(A, item("n").replace("<item>", '<item xmlns:x="urn:x">'), B),
        document(A, "<junk/>", B),
        document(A, "text", B),
        document(channel="<generator>none</generator>"),
    ],
    ids=["self-closing", "nested", "xmlns", "element-between", "text-between", "no-items"],
)
def test_documents_not_read_item_by_item_get_no_memo(odd: bytes) -> None:
    full = parse(odd)
    assert full.item_memo is None
    memo = parse(document(A, B)).item_memo
    assert parse(odd, memo) == full


def test_atom_entries() -> None:
    earlier = atom(entry(1), entry(2), entry(3))
    result = assert_incremental(atom(entry(4), entry(1), entry(2), entry(3)), earlier)
    assert [a.key for a in result.articles] == ["urn:e:4"]
    assert result.articles[0].authors == ("Ann",)
    assert_incremental(atom(entry(1), entry(2), lang="de"), earlier, context_kept=False)


def test_rss_1_0_items_after_the_channel() -> None:
    earlier = rdf(rdf_item(1), rdf_item(2))
    result = assert_incremental(rdf(rdf_item(3), rdf_item(1), rdf_item(2)), earlier)
    assert [a.key for a in result.articles] == ["https://rdf.example/3"]
    assert result.format == "rss10"


def test_a_new_item_repeating_the_key_of_an_earlier_unchanged_one_is_dropped() -> None:
    earlier = document(A, B)
    repeat = item("a", "Another item with a's guid")
    result = assert_incremental(document(A, repeat, B), earlier)
    assert result.articles == ()  # the full parse keeps the first "a", which is not new
    result = assert_incremental(document(repeat, A, B), earlier)
    assert [a.title for a in result.articles] == ["Another item with a's guid"]


@pytest.mark.parametrize(
    "memo",
    [
        b"",
        b"garbage",
        bytes([2]) + bytes(8) + bytes(ITEM.size),  # another format version
        bytes([1]) + bytes(8) + bytes(ITEM.size - 1),  # cut short
        bytes([1]) + bytes(8 + ITEM.size),  # the right shape, another context
    ],
)
def test_a_memo_that_does_not_fit_means_a_full_parse(memo: bytes) -> None:
    body = document(A, B)
    result = parse(body, memo)
    assert result == parse(body)
    assert result.skipped_items == 0


def test_a_body_feedparser_reads_has_no_memo() -> None:
    cut_short = b'<rss version="2.0"><channel><title>T</title>' + item("a").encode()[:-4]
    full = parse(cut_short)
    assert full.item_memo is None
    assert full.warning  # feedparser's loose parser
    assert parse(cut_short, parse(document(A)).item_memo) == full


def test_memo_published_gives_every_dated_item_in_order() -> None:
    dates = [datetime(2026, 11, 26 - n, 10, tzinfo=UTC) for n in range(3)]
    body = rss(("a", "A", "t"), ("b", "B", "t"), ("c", "C", "t"), dates=dates)
    memo = parse(body).item_memo
    assert memo is not None
    assert memo_published(memo) == dates
    undated = document(A.replace("<pubDate>", "<x>").replace("</pubDate>", "</x>"), B)
    memo = parse(undated).item_memo
    assert memo is not None
    assert memo_published(memo) == [datetime(2026, 11, 25, 10, tzinfo=UTC)]
    incremental = parse(rss(("d", "D", "t"), ("a", "A", "t"), dates=dates[:2]), memo)
    assert incremental.item_memo is not None
    assert len(memo_published(incremental.item_memo)) == 2
    assert memo_published(b"garbage") == []


# ---- the corpus ----------------------------------------------------------------------------------
NEW_RSS_ITEM = item("incremental-new", "A new item", "Fresh text").encode()
NEW_ATOM_ENTRY = entry(99).encode()


def rebuilt(body: bytes, edit: str) -> tuple[bytes, bool]:
    """`body` with one edit (in its own encoding), and whether the edit keeps the items'
    context."""
    items = split_items(body)
    assert items is not None
    raws = [body[start:end] for start, end in items.spans]
    prefix, suffix = body[: items.spans[0][0]], body[items.spans[-1][1] :]
    is_atom = raws[0].startswith(b"<entry")
    context_kept = True
    if edit == "new-first":
        raws.insert(0, NEW_ATOM_ENTRY if is_atom else NEW_RSS_ITEM)
    elif edit == "title-edited" and len(raws) > 1:
        raws[1] = re.sub(rb"(<item|<entry)([^>]*>)", rb"\1\2<!-- edited -->", raws[1], count=1)
        raws[1] = raws[1].replace(b"<title>", b"<title>Edited ", 1)
    elif edit == "removed" and len(raws) > 1:
        del raws[1]
    elif edit == "reordered":
        raws.reverse()
    elif edit == "build-date":
        prefix = re.sub(
            rb"<(lastBuildDate|updated)>[^<]*<",
            rb"<\1>Thu, 26 Nov 2026 10:00:00 GMT<",
            prefix,
            count=1,
        )
    elif edit == "language":
        prefix, replaced = re.subn(rb"(<(?:dc:)?language>)[^<]*<", rb"\1zz<", prefix)
        if not replaced:  # the root's xml:lang: every item's language
            prefix = re.sub(rb"<(\w+:?\w+)([\s>])", rb'<\1 xml:lang="zz"\2', prefix, count=1)
        context_kept = False
    return prefix + b"\n".join(raws) + suffix, context_kept


CORPUS_EDITS = ["new-first", "title-edited", "removed", "reordered", "build-date", "language"]


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FEEDS, ids=[p.name for p in CORPUS_FEEDS])
def test_corpus_feed_edits(path: Path) -> None:
    body = path.read_bytes()
    first = parse(body)
    if first.item_memo is None:
        assert parse(body, b"\x01" + bytes(8)) == first
        return
    for edit in CORPUS_EDITS:
        edited, context_kept = rebuilt(body, edit)
        try:
            assert_incremental(edited, body, context_kept=context_kept)
        except AssertionError as exc:
            raise AssertionError(f"edit {edit!r}: {exc}") from exc
    assert_incremental(body, body, context_kept=False, url="https://example.org/moved")


@needs_corpus
def test_most_corpus_feeds_are_read_item_by_item() -> None:
    memos = [parse(path.read_bytes()).item_memo for path in CORPUS_FEEDS]
    assert sum(memo is not None for memo in memos) >= 0.8 * len(memos)


# ---- properties --------------------------------------------------------------------------------
POOL = [item(f"g{n % 7}", f"Title {n}", f"Text {n}") for n in range(10)]  # g0..g2 repeat


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    earlier=st.lists(st.sampled_from(range(len(POOL))), min_size=1, max_size=8),
    current=st.lists(st.sampled_from(range(len(POOL))), min_size=1, max_size=8),
    language=st.sampled_from(["", "<language>en</language>"]),
)
def test_any_earlier_subset_gives_the_full_parse_minus_its_items(
    earlier: list[int], current: list[int], language: str
) -> None:
    before = document(*(POOL[n] for n in earlier), channel="<language>en</language>")
    after = document(*(POOL[n] for n in current), channel=language)
    assert_incremental(after, before, context_kept=bool(language))


# ---- the pool ----------------------------------------------------------------------------------
async def test_the_memo_goes_through_a_process_pool() -> None:
    earlier, body = document(A, B), document(C, A, B)
    memo = parse(earlier).item_memo
    async with FeedParser(1) as parser:
        result = await parser.parse(body, feed_id="f", url=URL, memo=memo)
    assert [a.key for a in result.articles] == ["c"]
    assert result.skipped_items == 2
    assert result.item_memo == parse(body).item_memo


def test_memo_round_trip() -> None:
    memo = Memo(b"12345678", [(b"r" * 8, b"k" * 8, 5)])
    assert Memo.decode(memo.encode()) == memo
    assert memo_published(memo.encode()) == [datetime(1970, 1, 1, tzinfo=UTC) + timedelta(0, 0, 5)]
