"""The fast RSS/Atom path (lxml) against feedparser: the same ParsedFeed, or a decline.

Every XML file of the corpus (conftest.CORPUS: real/ and malformed/) goes through both; where
the fast path accepts a file, every feed and Article field must equal feedparser's. Hand-made
documents cover what a fast parser typically gets wrong (fastfeedparser, measured here, read an
ISO-8859-1 feed as UTF-8 and decoded entities differently): declared encodings, entities, CDATA,
HTML in titles, xml:base, Atom content types, description beside content:encoded, missing
guids, odd dates. Hypothesis then mixes the same ingredients at random.
"""

from __future__ import annotations

import dataclasses
import html
import time
from pathlib import Path

import pytest
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import resolve_relative_uris
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.models import ParsedFeed
from monitor.parse import parse_feed
from monitor.parse.fast import parse_fast
from monitor.parse.feed_reader import FeedReader
from monitor.parse.sanitize import _clean_simple_html, clean_html
from monitor.parse.syndication import parse_syndication
from monitor.parse.walk import FEEDPARSER_HANDLERS
from tests.conftest import CORPUS, SHARED_CORPUS

FEEDS = CORPUS / "feeds"
URL = "https://example.com/news/feed.xml"
MIN_ACCEPTED_SHARE = 0.95  # of the real corpus's RSS/Atom bytes; 99% when written
# real/ files the fast path leaves to feedparser, and why.
DECLINED_REAL = {
    "real/headlines/fox_2020-05-18_MALFORMED.xml": "cut short: feedparser's loose parser",
    "real/headlines/latimes_2021-10-17_MALFORMED.xml": "an HTML page",
    "real/headlines/nzherald_2020-04-28_MALFORMED.xml": "cut short: feedparser's loose parser",
}


def xml_files(folder: str) -> list[str]:
    if not (FEEDS / folder).is_dir():
        return []
    return sorted(
        str(path.relative_to(FEEDS))
        for path in (FEEDS / folder).rglob("*")
        if path.is_file() and path.suffix not in {".md", ".tsv", ".json"}
    )


REAL = xml_files("real")
MALFORMED = xml_files("malformed")
needs_corpus = pytest.mark.skipif(not REAL, reason=f"corpus not found at {FEEDS}")


def feedparser_result(body: bytes, content_type: str | None = None) -> ParsedFeed | None:
    try:
        return parse_syndication(body, feed_id="f", url=URL, content_type=content_type)
    except ParseError:
        return None


def assert_same_feed(fast: ParsedFeed, reference: ParsedFeed | None) -> None:
    """Field by field, so that a failure names the article and the field."""
    assert reference is not None, "the fast path accepted what feedparser refuses"
    for name in ("format", "title", "link", "language", "ttl_seconds", "warning"):
        assert getattr(fast, name) == getattr(reference, name), f"feed {name}"
    assert [a.key for a in fast.articles] == [a.key for a in reference.articles]
    for number, (ours, theirs) in enumerate(zip(fast.articles, reference.articles, strict=True)):
        mine, expected = dataclasses.asdict(ours), dataclasses.asdict(theirs)
        for field, value in expected.items():
            assert mine[field] == value, f"article {number} ({theirs.key}): {field}"
    assert fast == reference


def accepted(body: bytes) -> ParsedFeed:
    """The fast path's result, which must exist and equal feedparser's."""
    fast = parse_fast(body, feed_id="f", url=URL)
    assert fast is not None, "the fast path declined"
    assert_same_feed(fast, feedparser_result(body))
    return fast


# ---- the corpus -------------------------------------------------------------------------------
@needs_corpus
@pytest.mark.parametrize("path", REAL + MALFORMED, ids=REAL + MALFORMED)
def test_corpus_file_matches_feedparser(path: str) -> None:
    body = (FEEDS / path).read_bytes()
    fast = parse_fast(body, feed_id="f", url=URL)
    if fast is None:
        assert path in DECLINED_REAL or path.startswith("malformed/")
        return
    assert path not in DECLINED_REAL, "accepted now: update DECLINED_REAL"
    assert_same_feed(fast, feedparser_result(body))


@needs_corpus
def test_fast_path_reads_most_of_the_real_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    sizes = {path: (FEEDS / path).stat().st_size for path in REAL}
    declined = [
        path
        for path in REAL
        if parse_fast((FEEDS / path).read_bytes(), feed_id="f", url=URL) is None
    ]
    share = 1 - sum(sizes[path] for path in declined) / sum(sizes.values())
    with capsys.disabled():
        print(f"\nfast path: {share:.1%} of the real corpus; declined: {', '.join(declined)}")
    assert set(declined) == set(DECLINED_REAL)
    assert share >= MIN_ACCEPTED_SHARE


@needs_corpus
@pytest.mark.parametrize(
    "path",
    [
        "real/miniflux/encoding_ISO-8859-1.xml",
        "real/miniflux/encoding_WINDOWS-1251.xml",
        "real/rsparser/kc0011.rss",
        "real/rss-parser/encoding.rss",
        "real/headlines/bbc_2021-07-23.xml",
    ],
)
def test_server_charset_does_not_change_an_accepted_feed(path: str) -> None:
    """parse_fast is not told the Content-Type: for what it accepts, feedparser ignores it too."""
    body = (FEEDS / path).read_bytes()
    fast = parse_fast(body, feed_id="f", url=URL)
    assert fast is not None
    for content_type in ("text/html; charset=utf-8", "text/xml; charset=iso-8859-1", "text/xml"):
        assert_same_feed(fast, feedparser_result(body, content_type))


UNDECLARED_LATIN1 = ["real/miniflux/no_encoding_ISO-8859-1.xml", "real/rss-parser/uolNoticias.rss"]


@needs_corpus
@pytest.mark.parametrize("path", UNDECLARED_LATIN1)
def test_undeclared_encoding_is_read_as_feedparser_guesses_it(path: str) -> None:
    """Not UTF-8, no declaration, no charset: feedparser reads windows-1252, and says so."""
    body = (FEEDS / path).read_bytes()
    for content_type in (None, "application/rss+xml", "text/xml"):
        fast = parse_fast(body, feed_id="f", url=URL, content_type=content_type)
        assert fast is not None
        assert fast.warning == (
            "CharacterEncodingOverride: document declared as utf-8, but parsed as windows-1252"
        )
        assert_same_feed(fast, feedparser_result(body, content_type))
        assert parse_feed(body, feed_id="f", url=URL, content_type=content_type) == fast


@needs_corpus
@pytest.mark.parametrize("path", UNDECLARED_LATIN1)
def test_server_charset_for_an_undeclared_encoding_goes_to_feedparser(path: str) -> None:
    body = (FEEDS / path).read_bytes()
    content_type = "text/xml; charset=iso-8859-15"
    assert parse_fast(body, feed_id="f", url=URL, content_type=content_type) is None
    via_parse_feed = parse_feed(body, feed_id="f", url=URL, content_type=content_type)
    assert via_parse_feed == feedparser_result(body, content_type)


def test_bytes_windows_1252_leaves_undefined_go_to_feedparser() -> None:
    body = b'<rss version="2.0"><channel><title>Caf\xe9 \x81</title></channel></rss>'
    assert parse_fast(body, feed_id="f", url=URL) is None
    assert parse_feed(body, feed_id="f", url=URL) == feedparser_result(body)


# ---- hand-made documents ------------------------------------------------------------------------
def rss(
    items: str,
    *,
    head: str = '<?xml version="1.0" encoding="utf-8"?>',
    channel: str = "",
    attributes: str = "",
) -> bytes:
    return (
        f'{head}\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        f'xmlns:media="http://search.yahoo.com/mrss/"{attributes}>'
        f"<channel><title>Feed</title><link>https://example.com/</link>{channel}"
        f"{items}</channel></rss>"
    ).encode()


def atom(entries: str, *, attributes: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
        f'{attributes}><title>Atom</title><link href="https://example.com/"/>'
        f"<author><name>Feed Author</name></author>{entries}</feed>"
    ).encode()


def item(body: str) -> str:
    return f"<item>{body}</item>"


ACCEPTED = {
    "latin1_declared": (
        b'<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel>'
        b"<title>Caf\xe9 \xc5ngstr\xf6m</title><item><title>Gr\xfc\xdfe aus K\xf6ln</title>"
        b"<description>&lt;p&gt;Stra\xdfe &amp;amp; Pl\xe4tze&lt;/p&gt;</description>"
        b"<guid>k\xf6ln-1</guid></item></channel></rss>"
    ),
    "windows1252_declared": (
        b'<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><title>x'
        b"</title><item><title>\x93Quoted\x94 \x96 dash \x80</title><link>https://e.com/1</link>"
        b"</item></channel></rss>"
    ),
    "latin1_undeclared": (  # read as windows-1252, with feedparser's warning
        b'<rss version="2.0"><channel><title>Caf\xe9</title><item><title>\x93q\x94</title>'
        b"<guid>1</guid></item></channel></rss>"
    ),
    "gb2312_declared": (
        '<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><title>新闻'
        "</title><item><title>中文标题</title><link>https://e.com/1</link></item>"
        "</channel></rss>"
    ).encode("gb2312"),
    "utf8_bom": b"\xef\xbb\xbf" + rss(item("<title>BOM</title><guid>1</guid>")),
    "declared_latin1_but_utf8": rss(
        item("<title>Caf\u00e9 \u2014 na\u00efve</title><guid>1</guid>"),
        head='<?xml version="1.0" encoding="ISO-8859-1"?>',
    ),
    "entities_in_title": rss(
        item(
            "<title>AT&amp;T &#8220;quoted&#8221; &#150; caf&#233; &lt;3 &amp;nbsp;</title>"
            "<guid>1</guid>"
        )
    ),
    "entities_in_html": rss(
        item(
            "<description>&lt;p&gt;Caf&amp;eacute; &amp;amp; &amp;#150; &amp;#x2019; &amp;nbsp;x "
            "&amp;foo; &amp;bar AT&amp;T &amp;copy 2024 &amp;#39;q&amp;#39; a &lt; b "
            "&amp;#X41;&lt;/p&gt;</description><guid>1</guid>"
        )
    ),
    "cdata": rss(
        item(
            "<title><![CDATA[Title with <em>HTML</em> & more]]></title>"
            "<description><![CDATA[<p>Hello <b>world</b> &amp; <a href=x.html>more</a></p>]]>"
            "</description><guid>1</guid>"
        )
    ),
    "html_in_title": rss(item("<title>&lt;b&gt;Bold&lt;/b&gt; news &amp;amp; views</title>")),
    "markup_cleaned": rss(
        item(
            '<description><![CDATA[<p onclick=\'evil()\' class="x" style="color: red; '
            'background: url(x)">Hi<script>alert(1)</script><iframe src="/f"></iframe>'
            '<img src="/i.png" alt="a &quot;b&quot;" width=10/><br/><font color=red>f</font>'
            "<!-- note --><p/><a href='javascript:alert(1)' rel=NOFOLLOW>j</a>"
            "<svg><circle r='1'/></svg><style>p{}</style></p>]]></description><guid>1</guid>"
        )
    ),
    "xml_base": rss(
        item(
            "<title>Relative</title><link>items/1?a=1&amp;b=2</link>"
            '<description>&lt;a href="../up.html"&gt;up&lt;/a&gt; &lt;img src="/i.png"&gt;'
            '&lt;a href="https://other.example/x"&gt;x&lt;/a&gt;</description>'
        ),
        attributes=' xml:base="https://base.example/dir/"',
    ),
    "xml_base_nested": atom(
        '<entry xml:base="/blog/"><title>t</title><id>post-1</id><link href="post-1.html"/>'
        '<content type="html" xml:base="2024/">&lt;a href="img/x.png"&gt;x&lt;/a&gt;</content>'
        '</entry><entry><title>u</title><id>u</id><link href="u.html"/></entry>'
        '<entry xml:base="javascript:alert(1)"><title>v</title><id>v</id><link href="v"/></entry>',
        attributes=' xml:base="https://site.example/root/"',
    ),
    "xml_base_on_item": rss(
        '<item xml:base="https://other.example/"><title>t</title><link>a</link></item>'
        "<item><title>u</title><link>b</link></item>"
    ),
    "relative_links": rss(item("<title>Rel</title><link>/2024/story</link><guid>/g/1</guid>")),
    "description_and_content": rss(
        item(
            "<title>Both</title><description>Short &lt;b&gt;teaser&lt;/b&gt;</description>"
            "<content:encoded><![CDATA[<p>The <i>full</i> text</p>]]></content:encoded>"
        )
        + item(
            "<title>Content first</title><content:encoded>&lt;p&gt;Full&lt;/p&gt;"
            "</content:encoded><description>Teaser</description><guid>2</guid>"
        )
        + item("<title>Only content</title><content:encoded>Body</content:encoded>")
    ),
    "media_description": rss(
        item(
            "<title>Media</title><description>First</description>"
            "<media:description>Second</media:description><media:title>Other</media:title>"
            '<media:content url="https://e.com/v.mp4"><media:title>Inner</media:title>'
            "</media:content><guid>1</guid>"
        )
        + item(
            "<media:title>Media title first</media:title><title>Item title</title><guid>2</guid>"
        )
    ),
    "missing_guid": rss(
        item("<title>No guid</title><link>https://example.com/a</link>")
        + item("<title>No guid, no link</title><description>Some text</description>")
    ),
    "guid_permalink": rss(
        item('<title>a</title><guid isPermaLink="false">tag:x,2024:1</guid>')
        + item('<title>b</title><guid isPermaLink="true">https://e.com/b</guid>')
        + item("<title>c</title><guid>https://e.com/c</guid><link>https://e.com/c-link</link>")
        + item('<title>d</title><guid isPermaLink="True">rel/d</guid>')
    ),
    "dates": rss(
        "".join(
            item(f"<title>d{n}</title><guid>{n}</guid><pubDate>{date}</pubDate>")
            for n, date in enumerate(
                [
                    "Tue, 10 Jun 2003 04:00:00 GMT",
                    "Tue, 10 Jun 2003 04:00:00 EST",
                    "Tue, 10 Jun 2003 04:00:00 +0530",
                    "10 Jun 2003 04:00 PDT",
                    "Tue, 10 Jun 2003 04:00:00 UT",
                    "Tue, 10 Jun 2003 04:00:00",
                    "Tue, 10 Jun 2003 04:00:00 XYZ",
                    "2003-06-10T04:00:00+02:00",
                    "2003-06-10T04:00:00.123Z",
                    "2003-06-10",
                    "2020/1/10 14:33:00",
                    "yesterday",
                    "",
                ]
            )
        )
        + item(
            "<title>dc</title><guid>dc</guid><dc:date>2003-06-10T04:00:00Z</dc:date>"
            "<pubDate>Wed, 11 Jun 2003 04:00:00 GMT</pubDate>"
        )
    ),
    "authors_and_tags": rss(
        item(
            "<title>a</title><guid>1</guid><author>jane@example.com (Jane Doe)</author>"
            '<category domain="https://e.com/c">World</category><category>Politics</category>'
            "<dc:subject>Economy</dc:subject><dc:creator>John Smith</dc:creator>"
        )
        + item("<title>b</title><guid>2</guid><dc:creator>Only Creator</dc:creator>")
    ),
    "language": rss(
        item('<title xml:lang="fr_FR">Bonjour</title><guid>1</guid>')
        + item("<title>Hello</title><guid>2</guid>"),
        channel="<language>en-GB</language><ttl>30</ttl>",
    ),
    "nested_namespace": rss(
        '<feedburner:info xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0" '
        'uri="x"/>'
        + item(
            '<title>fb</title><fb:origLink xmlns:fb="http://rssnamespace.org/feedburner/ext/1.0">'
            "https://e.com/orig</fb:origLink><guid>1</guid>"
        )
    ),
    "c1_and_mojibake": rss(
        item("<title>caf\u00c3\u00a9 \u0096 dash \u0093q\u0094</title><guid>1</guid>")
    ),
    "atom_text_and_html": atom(
        '<entry><title type="html">&lt;i&gt;Italic&lt;/i&gt; &amp;amp; co</title>'
        "<id>urn:uuid:1</id><updated>2024-03-01T10:00:00Z</updated>"
        '<published>2024-02-29T23:00:00-05:00</published><link rel="alternate" '
        'href="/entries/1"/><link rel="enclosure" href="/a.mp3"/>'
        '<summary type="text">Plain &lt;b&gt; text</summary>'
        '<content type="html">&lt;p&gt;Body&lt;/p&gt;</content>'
        '<category term="t1" label="Label 1"/><category label="only label"/></entry>'
        "<entry><title>No link</title><id>https://example.com/id/2</id>"
        "<author><name>Ann</name><email>ann@example.com</email></author>"
        "<content>Plain content</content></entry>",
        attributes=' xml:lang="de"',
    ),
    "rss10": (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<channel rdf:about="https://e.com/"><title>RDF</title><link>https://e.com/</link>'
        b"</channel>"
        b'<item rdf:about="https://e.com/1"><title>One</title><link>https://e.com/1</link>'
        b"<dc:date>2024-01-01T00:00:00Z</dc:date><dc:creator>X</dc:creator></item>"
        b"</rdf:RDF>"
    ),
}

DECLINED = {
    "doctype_entities": (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "expanded">]>'
        b'<rss version="2.0"><channel><title>&e;</title></channel></rss>'
    ),
    "external_dtd": (
        b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:9/rss.dtd">'
        b'<rss version="2.0"><channel><title>t</title></channel></rss>'
    ),
    "atom_xhtml": atom(
        '<entry><title>x</title><id>1</id><content type="xhtml"><div '
        'xmlns="http://www.w3.org/1999/xhtml"><p>Hi</p></div></content></entry>'
    ),
    "inline_markup_in_description": rss(
        item("<title>t</title><description><b>x</b></description>")
    ),
    "base64_content": atom('<entry><id>1</id><content type="image/png">AAAA</content></entry>'),
    "undefined_entity": rss(item("<title>&nbsp;</title>")),
    "not_well_formed": rss(item("<title>open")),
    "unknown_default_namespace": b'<rss xmlns="urn:x" version="2.0"><channel/></rss>',
}


@pytest.mark.parametrize("name", sorted(ACCEPTED), ids=sorted(ACCEPTED))
def test_hand_made_feed_matches_feedparser(name: str) -> None:
    accepted(ACCEPTED[name])


@pytest.mark.parametrize("name", sorted(DECLINED), ids=sorted(DECLINED))
def test_declined_feed_still_parses_through_feedparser(name: str) -> None:
    body = DECLINED[name]
    assert parse_fast(body, feed_id="f", url=URL) is None
    try:
        via_parse_feed = parse_feed(body, feed_id="f", url=URL)
    except ParseError:
        assert feedparser_result(body) is None
    else:
        assert via_parse_feed == feedparser_result(body)


def test_declared_encoding_is_decoded_as_declared() -> None:
    """fastfeedparser read this ISO-8859-1 feed as UTF-8; feedparser and the fast path do not."""
    feed = accepted(ACCEPTED["latin1_declared"])
    assert feed.title == "Café Ångström"
    assert feed.articles[0].title == "Grüße aus Köln"
    assert feed.articles[0].summary_text == "Straße & Plätze"
    windows = accepted(ACCEPTED["windows1252_declared"])
    assert windows.articles[0].title == "“Quoted” – dash €"


def test_entities_are_decoded_once() -> None:
    feed = accepted(ACCEPTED["entities_in_title"])
    assert feed.articles[0].title == "AT&T “quoted” – café <3 &nbsp;"
    assert "Café & – ’" in accepted(ACCEPTED["entities_in_html"]).articles[0].summary_text


def test_relative_links_resolve_against_xml_base() -> None:
    article = accepted(ACCEPTED["xml_base"]).articles[0]
    assert article.link == "https://base.example/dir/items/1?a=1&b=2"
    assert 'href="https://base.example/up.html"' in article.summary
    assert 'src="https://base.example/i.png"' in article.summary


def test_nested_xml_base_applies_to_its_element_only() -> None:
    first, second, third = accepted(ACCEPTED["xml_base_nested"]).articles
    assert first.link == "https://site.example/blog/post-1.html"
    assert 'href="https://site.example/blog/2024/img/x.png"' in first.content
    assert second.link == "https://site.example/root/u.html"
    assert third.link == "https://site.example/root/v"  # an unsafe base is ignored


def test_description_beside_content_encoded() -> None:
    teaser_first, content_first, only_content = accepted(
        ACCEPTED["description_and_content"]
    ).articles
    assert teaser_first.summary_text == "Short teaser"
    assert teaser_first.content_text == "The full text"
    assert content_first.summary_text == "Teaser"
    assert only_content.summary == only_content.content == "Body"


def test_unsafe_markup_is_removed_as_feedparser_removes_it() -> None:
    summary = accepted(ACCEPTED["markup_cleaned"]).articles[0].summary
    for unsafe in ("script", "onclick", "iframe", "javascript:", "url(", "<style"):
        assert unsafe not in summary


def test_fast_path_leaves_nothing_to_the_network() -> None:
    """A DTD is never read: the fast path declines before lxml sees the document."""
    assert parse_fast(DECLINED["external_dtd"], feed_id="f", url=URL) is None
    assert parse_fast(DECLINED["doctype_entities"], feed_id="f", url=URL) is None


def test_every_ported_handler_is_one_feedparser_has() -> None:
    """A handler ported for an element feedparser does not handle would be an invention."""
    reader = FeedReader(URL, {})
    assert {f"_start_{key}" for key in reader.starts} <= FEEDPARSER_HANDLERS
    assert {f"_end_{key}" for key in reader.ends} <= FEEDPARSER_HANDLERS


def test_parse_feed_returns_the_fast_result() -> None:
    body = ACCEPTED["authors_and_tags"]
    assert parse_feed(body, feed_id="f", url=URL) == parse_fast(body, feed_id="f", url=URL)


# ---- random documents ---------------------------------------------------------------------------
HTML_PIECES = [
    "<p>",
    "</p>",
    "<b>",
    "</b>",
    "<br/>",
    "<br>",
    "</br>",
    "<hr />",
    "<img src='x.png'>",
    '<img src="/a b.png" alt="x > y">',
    '<a href="/rel?a=1&b=2">',
    "<a href=rel.html title=t>",
    "</a>",
    '<a href="javascript:x()">',
    '<span style="color: red">',
    "</span>",
    '<div onclick="x" class="c" CLASS="d">',
    "</div>",
    "<font>",
    "</font>",
    "<o:p>",
    "<script>s</script>",
    "<style>p{}</style>",
    "<!-- c -->",
    "<!-- unclosed",
    "<![CDATA[x]]>",
    "<svg><g/></svg>",
    "<math></math>",
    "<!DOCTYPE html>",
    "<?pi?>",
    "<>",
    "</>",
    "< p>",
    "&amp;",
    "&nbsp;",
    "&nbsp",
    "&#150;",
    "&#x2019;",
    "&#39;",
    "&#34;",
    "&#0;",
    "&foo;",
    "&",
    "&#",
    "&#x;",
    "<",
    ">",
    "'",
    '"',
    "=",
    " ",
    "\n",
    "\r\n",
    "\t",
    "text",
    "é",
    "\u0096",
    "Ã©",
    "&lt;",
    "&gt;",
    "&copy",
    "&amp",
    "/>",
    "<p/>",
    "<b/>",
    "<a name=x/>",
    '<img src="x"/>',
    "<br />",
    '<a href="&#38">',
    "<a href='it&#39;s'>",
    '<p title="a&#34;b">',
    "<abbr title='x'>",
    "<input type=checkbox checked>",
    "<a rel=NOFOLLOW href=/x>",
    "<TABLE BORDER=1>",
    "</TABLE>",
    "<td nowrap>",
    "<a href=x/>",
]
HTML_PIECES += [
    "<A HREF='X'>",
    '<p\n class="a">',
    '<img src="x"\n/>',
    "<br/ >",
    "<b >",
    "</b >",
    "</ b>",
    "<a b c>",
    "<a href=>",
    '<a href = "x" >',
    "<a href='x'y>",
    '<a href="x" href="y">',
    "&#1234567;",
    "&#xD800;",
    "&#128;",
    "&#159;",
    "&#8364;",
    "&euro;",
    "&AMP;",
    "&amp;amp;",
    "&a.b;",
    "&a-b",
    '<a href="&#38x">',
    '<a title="&#x26;&#38;&amp">',
    "<a title='&quot;'>",
    '<p style="color: red;background:blue">',
    '<p style="margin: 0 auto">',
    '<p style="x:expression(1)">',
    '<td style="border: 1px solid red">',
    '<a href="http://x.com/a b">',
    '<a href="  /x  ">',
    '<a href="HTTP://X">',
    '<a href="mailto:a@b">',
    '<a href="data:x">',
    '<img src="//cdn/x.png">',
    '<blockquote cite="/c">',
    "<q cite=x>",
    "<area href=x>",
    "<video poster=/p src=/v>",
    "<source src=/s>",
    "<audio src=a>",
    "<form action=/f>",
    "<input src=x>",
    "<object data=x>",
    "<iframe src=x>",
    "<applet>",
    "</applet>",
    "</script>",
    "<del cite=x>",
    '<img src="a.png" longdesc="/d" usemap="#m">',
    "<a href=/x?a=1;b=2>",
    "<b/>x",
    "<3/>",
    "< 3",
    "<-",
    "<=",
    "a<",
    "<!x>",
    "<!-- a -- >",
    "<!---->",
    "<?xml?>",
    "<a\tb='c'>",
    '<img alt="">',
    "<img alt=''>",
    "<a rel='NoFollow' type=TEXT/HTML>",
    "<p lang=EN>",
]
SVG_PIECES = [
    "<svg>",
    "</svg>",
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">',
    "<svg xmlns='urn:other'>",
    '<svg xmlns="">',
    "<SVG Width=10 PreserveAspectRatio=none>",
    "<path d='M0 0L1 1Z'/>",
    '<path d="M0 0" fill="none" stroke-width="2"></path>',
    "</path>",
    "<g>",
    "</g>",
    "<g/>",
    "<linearGradient id=g gradientUnits=x>",
    "</linearGradient>",
    "<stop offset=0 stop-color=red />",
    '<use xlink:href="#a"/>',
    '<use xlink:href="javascript:x()" xmlns:xlink="urn:x">',
    "<rect style='fill: red; color: blue; stroke-width: 2' onclick=x>",
    '<a href="/x" xlink:href="/y" target=_blank>',
    '<p style="fill: red; color: blue">',
    "<title>",
    "</title>",
    "<text x=1>",
    "</text>",
    "<foreignObject>",
    "</foreignObject>",
    "<defs>",
    "</defs>",
    "<circle r=1 class=c id=x>",
    '<image xlink:href="/i.png" width=1>',
    "<font-face>",
    "<svg:rect>",
]
html_fragments = st.lists(st.sampled_from(HTML_PIECES), max_size=12).map("".join)
svg_fragments = st.lists(
    st.sampled_from([*SVG_PIECES, *SVG_PIECES, *HTML_PIECES]), max_size=14
).map("".join)
BASES = ["https://example.com/news/feed.xml", "http://e.com", "", "file:///tmp/f.xml"]


def assert_cleaned_as_feedparser_cleans(markup: str, base: str) -> None:
    """clean_html gives what feedparser's two passes (relative URIs, then sanitizing) give."""
    markup = markup.strip()
    expected = _sanitize_html(
        resolve_relative_uris(markup, base, "utf-8", "text/html"), "utf-8", "text/html"
    )
    assert clean_html(markup, base, "text/html") == expected


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html_fragments, st.sampled_from(BASES))
def test_clean_html_matches_feedparser_passes(markup: str, base: str) -> None:
    assert_cleaned_as_feedparser_cleans(markup, base)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(svg_fragments, st.sampled_from(BASES))
def test_clean_html_matches_feedparser_passes_on_inline_svg(markup: str, base: str) -> None:
    assert_cleaned_as_feedparser_cleans(markup, base)


def test_long_tags_are_cleaned_as_feedparser_cleans_them() -> None:
    """Past the length the tag cache keeps, tags are cleaned each time, the same way."""
    markup = f'<p title="{"x" * 3000}">a &amp; b</p>< c{"y" * 3000}> <a href="/{"z" * 3000}">l</a>'
    cleaned = _clean_simple_html(markup, URL)
    assert cleaned is not None
    assert cleaned == _sanitize_html(
        resolve_relative_uris(markup, URL, "utf-8", "text/html"), "utf-8", "text/html"
    )


def test_inline_svg_is_cleaned_without_feedparser() -> None:
    """SVG's camel-case names come back, its elements pass inside <svg> and nowhere else."""
    markup = (
        '<p>x<svg viewBox="0 0 1 1" onload="evil()"><linearGradient id="g"></linearGradient>'
        '<path d="M0 0" style="fill: red"></path></svg><path d="M1 1"></path></p>'
    )
    cleaned = _clean_simple_html(markup, URL)
    assert cleaned == (
        '<p>x<svg viewBox="0 0 1 1" xmlns="http://www.w3.org/2000/svg">'
        '<linearGradient id="g"></linearGradient><path d="M0 0"></path></svg></p>'
    )
    assert cleaned == _sanitize_html(
        resolve_relative_uris(markup, URL, "utf-8", "text/html"), "utf-8", "text/html"
    )


DATES = ["Tue, 10 Jun 2003 04:00:00 GMT", "2003-06-10T04:00:00Z", "2003/6/10", "junk", ""]
TEXTS = st.lists(st.sampled_from([*HTML_PIECES, "plain words", "Ünïcödé"]), max_size=6).map("".join)


@st.composite
def random_items(draw: st.DrawFn) -> str:
    parts = [f"<title>{html.escape(draw(TEXTS))}</title>"]
    if draw(st.booleans()):
        parts.append(f"<guid>{html.escape(draw(st.sampled_from(['1', '/rel', 'x y'])))}</guid>")
    if draw(st.booleans()):
        parts.append(
            f"<link>{html.escape(draw(st.sampled_from(['/a', 'https://e.com/b'])))}</link>"
        )
    for element in draw(
        st.lists(
            st.sampled_from(["description", "content:encoded", "media:description"]), max_size=3
        )
    ):
        text = draw(TEXTS)
        cdata = "]]>" not in text and draw(st.booleans())
        parts.append(
            f"<{element}>{f'<![CDATA[{text}]]>' if cdata else html.escape(text)}</{element}>"
        )
    if draw(st.booleans()):
        parts.append(f"<pubDate>{draw(st.sampled_from(DATES))}</pubDate>")
    if draw(st.booleans()):
        parts.append(f"<category>{html.escape(draw(TEXTS))}</category>")
    return item("".join(draw(st.permutations(parts))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(random_items(), min_size=1, max_size=4))
def test_random_feed_matches_feedparser(items: list[str]) -> None:
    body = rss("".join(items))
    fast = parse_fast(body, feed_id="f", url=URL)
    if fast is not None:
        assert_same_feed(fast, feedparser_result(body))


def test_corpus_folder_is_where_the_benchmark_looks() -> None:
    """The benchmark reads the whole corpus; the tests read it too where it is there."""
    from tests.benchmarks.parse import CORPUS_FEEDS

    assert Path(CORPUS_FEEDS) == SHARED_CORPUS / "feeds" / "real"


ITEM_PARTS = [
    "<title>T &amp;amp; t</title>",
    '<title type="html">&lt;b&gt;H&lt;/b&gt;</title>',
    '<title xml:lang="en_GB">Lang</title>',
    "<title></title>",
    "<dc:title>DC</dc:title>",
    "<media:title>MT</media:title>",
    "<link>/a</link>",
    "<link>https://e.com/b?x=1&amp;y=2</link>",
    '<link href="/c" rel="alternate"/>',
    '<atom:link href="/d" rel="self"/>',
    "<link/>",
    "<guid>g1</guid>",
    '<guid isPermaLink="false">g2</guid>',
    "<guid>/g3</guid>",
    "<id>i1</id>",
    "<description>D &amp;lt;i&amp;gt;i&amp;lt;/i&amp;gt;</description>",
    "<description><![CDATA[<p>CD</p>]]></description>",
    '<description xml:lang="de">De</description>',
    "<content:encoded>&lt;p&gt;CE&lt;/p&gt;</content:encoded>",
    "<summary>S</summary>",
    '<summary type="html">&lt;p&gt;SH&lt;/p&gt;</summary>',
    "<dc:description>DD</dc:description>",
    "<media:description>MD</media:description>",
    "<itunes:summary>IS</itunes:summary>",
    "<pubDate>Tue, 10 Jun 2003 04:00:00 GMT</pubDate>",
    "<dc:date>2003-06-11T00:00:00Z</dc:date>",
    "<published>2003-06-12</published>",
    "<updated>2003/6/13 10:00</updated>",
    "<lastBuildDate>bad</lastBuildDate>",
    "<author>a@e.com (A)</author>",
    "<author>Plain</author>",
    "<dc:creator>C</dc:creator>",
    "<itunes:author>IA</itunes:author>",
    "<author><name>N</name><email>n@e.com</email><uri>/u</uri></author>",
    "<category>c1</category>",
    '<category domain="d">c2</category>',
    "<dc:subject>s</dc:subject>",
    "<media:keywords>k1, k2,,</media:keywords>",
    "<itunes:keywords>ik</itunes:keywords>",
    '<media:category scheme="x">mc</media:category>',
    '<category term="t"/>',
    '<enclosure url="/e.mp3" type="audio/mpeg"/>',
    '<source url="https://s.e/">Src</source>',
    "<image><title>IT</title><url>/i</url><link>/il</link></image>",
    "<media:group><media:title>G</media:title><media:description>GD</media:description>"
    '<media:content url="/m"/></media:group>',
    "<comments>/c</comments>",
    "<slash:comments>3</slash:comments>",
    "<foo>bar</foo>",
    '<foo a="1"/>',
    "<language>fr</language>",
    "<dc:language>es</dc:language>",
    "<!-- c -->",
    '<media:thumbnail url="/t"/>',
    "<tags>x, y</tags>",
    "<abstract>Ab</abstract>",
    "<contributor><name>Co</name></contributor>",
    "<itunes:explicit>yes</itunes:explicit>",
]
CHANNEL_PARTS = [
    "<language>en</language>",
    "<ttl>15</ttl>",
    "<ttl>x</ttl>",
    '<ttl a="1"/>',
    "<description>Channel</description>",
    '<atom:link href="/feed" rel="self"/>',
    "<image><title>Logo</title><url>/logo</url><link>/</link></image>",
    "<textinput><title>Search</title><name>q</name><link>/s</link></textinput>",
    "<managingEditor>ed@e.com (Ed)</managingEditor>",
    "<webMaster>wm@e.com</webMaster>",
    "<category>cat</category>",
    "<generator>gen</generator>",
    "<docs>/docs</docs>",
    '<cloud domain="x" port="80"/>',
    "<lastBuildDate>Tue, 10 Jun 2003 04:00:00 GMT</lastBuildDate>",
    "<dc:language>de</dc:language>",
    "<title>Second title</title>",
    "<link>/second</link>",
    '<itunes:image href="/ci"/>',
    "<itunes:author>Pod</itunes:author>",
    "<itunes:owner><itunes:name>O</itunes:name><itunes:email>o@e.com</itunes:email></itunes:owner>",
    "<author>Chan</author>",
    "<title></title>",
]
NAMESPACES = (
    ' xmlns:atom="http://www.w3.org/2005/Atom" xmlns:itunes="http://www.itunes.com/dtds/'
    'podcast-1.0.dtd" xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
)


@st.composite
def structured_rss(draw: st.DrawFn) -> bytes:
    item_attributes = st.sampled_from(
        ["", ' xml:base="/sub/"', ' xml:base="https://o.e/"', ' xml:lang=""', ' base="x/"']
    )
    items = [
        f"<item{draw(item_attributes)}>"
        + "".join(draw(st.lists(st.sampled_from(ITEM_PARTS), max_size=8)))
        + "</item>"
        for _ in range(draw(st.integers(1, 3)))
    ]
    channel = "".join(draw(st.lists(st.sampled_from(CHANNEL_PARTS), max_size=4)))
    lang = draw(st.sampled_from(["", ' xml:lang="pt_BR"', ' xml:base="https://b.e/x/"']))
    return rss("".join(items), channel=channel, attributes=NAMESPACES + lang)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structured_rss())
def test_random_structure_matches_feedparser(body: bytes) -> None:
    fast = parse_fast(body, feed_id="f", url=URL)
    if fast is not None:
        assert_same_feed(fast, feedparser_result(body))


ENTRY_PARTS = [
    "<title>E</title>",
    '<title type="html">&lt;b&gt;E&lt;/b&gt;</title>',
    '<title type="text">a &amp;lt; b</title>',
    "<id>urn:1</id>",
    "<id>/rel/2</id>",
    '<link href="/e1"/>',
    '<link rel="alternate" type="text/html" href="https://e.com/e2"/>',
    '<link rel="related" href="/r"/>',
    '<link rel="alternate" type="application/pdf" href="/p"/>',
    "<published>2024-03-01T10:00:00+02:00</published>",
    "<updated>2024-03-02T00:00:00Z</updated>",
    "<summary>Sum</summary>",
    '<summary type="html">&lt;p&gt;S&lt;/p&gt;</summary>',
    '<content type="html">&lt;p&gt;C&lt;/p&gt;</content>',
    "<content>Text content</content>",
    '<content type="text/html">&lt;i&gt;x&lt;/i&gt;</content>',
    '<content src="/c.html"/>',
    "<author><name>A</name></author>",
    "<author><email>a@e.com</email></author>",
    "<contributor><name>Co</name></contributor>",
    '<category term="t" label="L"/>',
    '<category term="t2" scheme="s"/>',
    "<rights>R</rights>",
    "<source><title>Src</title><id>src</id></source>",
    '<entry-meta a="1"/>',
]


@st.composite
def structured_atom(draw: st.DrawFn) -> bytes:
    entry_attributes = st.sampled_from(["", ' xml:lang="fr"', ' xml:base="/b/"'])
    entries = "".join(
        f"<entry{draw(entry_attributes)}>"
        + "".join(draw(st.lists(st.sampled_from(ENTRY_PARTS), max_size=8)))
        + "</entry>"
        for _ in range(draw(st.integers(1, 3)))
    )
    return atom(entries, attributes=draw(st.sampled_from(["", ' xml:lang="en-US"'])))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structured_atom())
def test_random_atom_matches_feedparser(body: bytes) -> None:
    fast = parse_fast(body, feed_id="f", url=URL)
    if fast is not None:
        assert_same_feed(fast, feedparser_result(body))


HOSTILE_MARKUP = {
    "unclosed_unquoted": "<a href=" + "/" * 200_000,
    "many_attributes": "<a" + " b" * 100_000,
    "many_tags": "<b>x</b>" * 50_000,
    "many_entities": "&amp;&#150;&foo;" * 50_000,
    "many_comments": "<!-- c -->" * 50_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE_MARKUP), ids=sorted(HOSTILE_MARKUP))
def test_clean_html_is_linear_on_hostile_markup(name: str) -> None:
    markup = HOSTILE_MARKUP[name]
    started = time.perf_counter()
    clean_html(markup, URL, "text/html")
    assert time.perf_counter() - started < 2.0


def test_deep_nesting_is_declined() -> None:
    body = rss(item("<title>t</title>" + "<x>" * 100 + "</x>" * 100))
    assert parse_fast(body, feed_id="f", url=URL) is None
