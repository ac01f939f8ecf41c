"""Canonical URLs, HTML to text, dates, keys and hashes (monitor.parse.normalize)."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.parse import canonical_url
from monitor.parse.normalize import (
    BLOCK_MARK,
    BLOCK_TAGS,
    MAX_KEY_LENGTH,
    TAG_MARK,
    _joined_lines,
    _marked_text,
    _parsed_canonical_url,
    _text_pieces,
    article_key,
    collapse_whitespace,
    content_hash,
    datetime_from_struct,
    html_to_text,
    parse_date,
    unique_names,
)

CANONICAL = [
    ("https://example.com/a?utm_source=rss&id=1&utm_MEDIUM=x", None, "https://example.com/a?id=1"),
    ("https://example.com/a?UTM_Campaign=x", None, "https://example.com/a"),
    ("https://example.com/a?b=2&fbclid=X&a=1&gclid=Y&_ga=1", None, "https://example.com/a?b=2&a=1"),
    (
        "https://example.com/?mc_cid=1&mc_eid=2&igshid=3&yclid=4&dclid=5",
        None,
        "https://example.com/",
    ),
    ("https://example.com/a?x=1&&y=&utm_=z", None, "https://example.com/a?x=1&y="),
    ("https://example.com/a?utmost=1", None, "https://example.com/a?utmost=1"),
    ("https://example.com/a#section-2", None, "https://example.com/a"),
    ("HTTPS://News.Example.COM/Path/Case", None, "https://news.example.com/Path/Case"),
    ("http://example.com:80/a", None, "http://example.com/a"),
    ("https://example.com:443/a", None, "https://example.com/a"),
    ("http://example.com:443/a", None, "http://example.com:443/a"),
    ("https://example.com:8443/a", None, "https://example.com:8443/a"),
    ("https://example.com", None, "https://example.com/"),
    ("https://example.com?q=1", None, "https://example.com/?q=1"),
    ("/news/1?utm_source=x", "https://example.com/feed.xml", "https://example.com/news/1"),
    ("2.html", "https://example.com/news/1.html", "https://example.com/news/2.html"),
    ("//cdn.example.com/a", "https://example.com/", "https://cdn.example.com/a"),
    ("  https://example.com/a \n", None, "https://example.com/a"),
    ("https://user:Pass@Example.com/a", None, "https://user:Pass@example.com/a"),
    ("http://[2001:DB8::1]:80/a", None, "http://[2001:db8::1]/a"),
    ("https://example.com/a%20b?q=%C3%A9", None, "https://example.com/a%20b?q=%C3%A9"),
    ("https://example.com/a b?q=x y", None, "https://example.com/a%20b?q=x%20y"),
    ("https://example.com/a\x0c#frag", None, "https://example.com/a%0C"),
    ("mailto:desk@example.com", None, None),
    ("javascript:alert(1)", None, None),
    ("ftp://example.com/file", None, None),
    ("urn:uuid:1234", None, None),
    ("relative/only", None, None),
    ("", None, None),
    ("https://", None, None),
    ("http://[::1/a", None, None),
    ("https://example.com:99999/a", None, None),
]


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    CANONICAL,
    ids=[f"{i}-{c[0][:40]}" for i, c in enumerate(CANONICAL)],
)
def test_canonical_url(url: str, base: str | None, expected: str | None) -> None:
    assert canonical_url(url, base) == expected


@given(
    st.text(max_size=60), st.sampled_from(["", "https://example.com/feed", "http://a.b:8080/x/"])
)
def test_canonical_url_is_idempotent(url: str, base: str) -> None:
    once = canonical_url(url, base or None)
    if once is not None:
        assert canonical_url(once) == once
        assert once.startswith(("http://", "https://"))
        assert "#" not in once


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["id", "utm_source", "UTM_x", "fbclid", "page", "q"]),
            st.text("abc123", max_size=4),
        ),
        max_size=6,
    )
)
def test_canonical_url_keeps_other_parameters_in_order(params: list[tuple[str, str]]) -> None:
    query = "&".join(f"{name}={value}" for name, value in params)
    kept = [f"{n}={v}" for n, v in params if not n.lower().startswith("utm_") and n != "fbclid"]
    expected = "https://example.com/p" + ("?" + "&".join(kept) if kept else "")
    assert canonical_url(f"https://example.com/p?{query}#frag") == expected


URL_PIECES = st.sampled_from(
    [
        *("http://", "https://", "HTTP://", "a.com", "A", "b", "-", ".", ":80", ":", "@", "/"),
        *("//", "?", "&", "=", "#", ";", "utm_source=1", "fbclid", " ", "\t", "\n", "\x00"),
        *("é", "%20", "[::1]", "..", "1"),
    ]
)


@settings(max_examples=500)
@given(
    st.sampled_from(["http://", "https://", "HTTP://", " https://", ""]),
    st.lists(URL_PIECES, max_size=14).map("".join),
    st.sampled_from([None, "https://example.com/feed", "http://a.b:8080/x/", "https://u@h.c/;b"]),
)
def test_canonical_url_shortcut_agrees_with_parsing(
    scheme: str, rest: str, base: str | None
) -> None:
    url = scheme + rest
    assert canonical_url(url, base) == _parsed_canonical_url(url.strip(), base)


HTML_TO_TEXT = [
    ("plain words", "plain words"),
    ("", ""),
    ("<p>Hello <b>wor</b>ld</p>", "Hello world"),
    ("<p>one</p><p>two</p>", "one\ntwo"),
    ("line<br>break<br/>again<BR />end", "line\nbreak\nagain\nend"),
    ("<div><ul><li>a</li><li>b</li></ul></div>", "a\nb"),
    ("<table><tr><td>x</td><td>y</td></tr></table>", "x\ny"),
    ("a<script>var s = '<p>no</p>';</script>b", "ab"),
    ("a<style type='text/css'>p { color: red }</style>b", "ab"),
    ("a<SCRIPT>x</SCRIPT >b", "ab"),
    ("<script>never closed", ""),
    (
        "AT&amp;T &lt;tag&gt; &quot;q&quot; &#8211; &#x41; &eacute; &nbsp;x",
        'AT&T <tag> "q" – A é x',
    ),
    ("a &unknown; b & c", "a &unknown; b & c"),
    ("a <!-- hidden <p> --> b", "a b"),
    ("a <!-- never closed", "a"),
    ("<!DOCTYPE html><?xml x?>text", "text"),
    ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
    ("x <3 y", "x <3 y"),
    ("dangling <a href='x", "dangling <a href='x"),
    ("  lots \t of \n\n\n  space  ", "lots of space"),  # a line break in HTML text is a space
    ("<p>  padded  </p>\n\n<p> out </p>", "padded\nout"),
    ('<img src="x.jpg" alt="pic">caption', "caption"),
    ("<h1>Title</h1>Body<hr>End", "Title\nBody\nEnd"),
    ("Кириллица<br>中文", "Кириллица\n中文"),
    ("a\x01<p>b\x02</p>&amp;", "a\x01\nb\x02\n&"),  # the marks of the fast path, as text
]


@pytest.mark.parametrize(("markup", "text"), HTML_TO_TEXT, ids=[t[0][:30] for t in HTML_TO_TEXT])
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


class ReferenceText(HTMLParser):
    """The same extraction on the stdlib parser: a reference for well-formed markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.skipping += tag in ("script", "style")
        if tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_startendtag(self, tag: str, attrs: object) -> None:
        if tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self.skipping -= tag in ("script", "style")
        if tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.pieces.append(re.sub(r"\s+", " ", data))  # a line break in text is a space


def reference_text(markup: str) -> str:
    parser = ReferenceText()
    parser.feed(markup)
    parser.close()
    return collapse_whitespace("".join(parser.pieces))


words = st.text("abc xyzé\n\t&;#", max_size=12).map(lambda s: s.replace("&", "&amp;"))
tags = st.sampled_from(["p", "b", "div", "span", "li", "br", "em", "td", "script", "h2"])


@st.composite
def markup(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 3 and draw(st.booleans()):
            tag = draw(tags)
            if tag == "br":
                parts.append("<br/>")
            else:
                inner = draw(words) if tag == "script" else draw(markup(depth + 1))
                parts.append(f"<{tag} class='c'>{inner}</{tag}>")
        else:
            parts.append(draw(words))
    return "".join(parts)


@given(markup())
def test_html_to_text_agrees_with_the_stdlib_parser(document: str) -> None:
    assert html_to_text(document) == reference_text(document)


HOSTILE_MARKUP = ["<a" * 200_000, "</" * 200_000, "<!--" * 100_000, "<!" * 200_000, "< " * 200_000]


@pytest.mark.parametrize("document", HOSTILE_MARKUP, ids=[d[:4] for d in HOSTILE_MARKUP])
def test_html_to_text_is_linear_on_hostile_markup(document: str) -> None:
    # html.parser takes minutes on the first of these (quadratic); a generous bound suffices.
    started = time.monotonic()
    text = html_to_text(document)
    assert time.monotonic() - started < 5
    assert len(text) <= len(document)


# Pieces that make the fast paths' corner cases likely: entities cut by tags, unclosed
# comments and scripts, a literal "<" with or without a ">" after it, every kind of space.
HTML_PIECES = st.sampled_from(
    [
        *"<>/!?-&;#ab \n\t\r\x0c\x85\xa0\u2028",
        *("script", "SCRIPT", "style", "</script>", "</style >", "<!--", "-->", "&amp;", "&amp"),
        *("&#10;", "&#1;", "&no", "t;", "&lt", "br", "div", "<p>", "<br/>", "x3", "'", '"', "</"),
        *("<a href='", "<?", "<!"),
    ]
)


@given(st.lists(HTML_PIECES, max_size=30).map("".join))
def test_html_to_text_marks_agree_with_token_runs(document: str) -> None:
    """The whole-string passes give what decoding each text run apart gives."""
    by_runs = collapse_whitespace("".join(_text_pieces(document)))
    marked = _marked_text(document).replace(TAG_MARK, "").split(BLOCK_MARK)
    assert _joined_lines(marked) == by_runs
    assert html_to_text(document) == by_runs


def test_collapse_whitespace() -> None:
    assert collapse_whitespace(" a \u00a0 b\r\n\r\n c\t") == "a b\nc"
    assert collapse_whitespace("x" + " " * 100_000 + "y") == "x y"


@given(st.text(st.sampled_from([*" \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000ab"]), max_size=20))
def test_collapse_whitespace_agrees_with_its_regular_expressions(text: str) -> None:
    horizontal_runs_single = re.sub(r"[^\S\n]{2,}|[^\S\n ]", " ", text)
    expected = re.sub(r" ?\n[ \n]*", "\n", horizontal_runs_single).strip()
    assert collapse_whitespace(text) == expected


DATES = [
    ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("2024-05-01T10:00:00z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("2024-05-01T12:30:00+02:30", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("2024-05-01T10:00:00.123456-04:00", datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=UTC)),
    ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    (" Fri, 31 May 2019 12:17:58 -0700 ", datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)),
    ("Fri, 31 May 2019 12:17:58 GMT", datetime(2019, 5, 31, 12, 17, 58, tzinfo=UTC)),
    ("yesterday", None),
    ("2024-13-45T99:00:00Z", None),
    ("", None),
    ("Z", None),
    (None, None),
    (1714557600, None),
]


@pytest.mark.parametrize(("value", "expected"), DATES, ids=[repr(d[0]) for d in DATES])
def test_parse_date(value: object, expected: datetime | None) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


def test_parse_date_out_of_range_is_none() -> None:
    assert parse_date("0001-01-01T00:00:00+01:00") is None


def test_datetime_from_struct() -> None:
    struct = time.struct_time((2021, 7, 22, 17, 5, 55, 3, 203, 0))
    assert datetime_from_struct(struct) == datetime(2021, 7, 22, 17, 5, 55, tzinfo=UTC)
    leap = time.struct_time((2016, 12, 31, 23, 59, 60, 5, 366, 0))
    assert datetime_from_struct(leap) == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert datetime_from_struct(time.struct_time((2021, 2, 30, 0, 0, 0, 0, 0, 0))) is None
    assert datetime_from_struct(None) is None


def test_key_prefers_guid_then_url_then_hash() -> None:
    assert article_key("urn:1", "https://example.com/a", "t", "x") == "urn:1"
    assert article_key("  urn:1 \n", None, "t", "x") == "urn:1"
    assert article_key("   ", "https://example.com/a", "t", "x") == "https://example.com/a"
    assert article_key(None, "https://example.com/a", "t", "x") == "https://example.com/a"
    hashed = article_key(None, None, "Title", "Text")
    assert hashed == "sha256:" + hashlib.sha256(b"Title\nText").hexdigest()
    assert article_key(None, None, "Title", "Other") != hashed


def test_very_long_keys_are_hashed() -> None:
    long_guid = "g" * (MAX_KEY_LENGTH + 1)
    key = article_key(long_guid, None, "", "")
    assert key.startswith("sha256:") and len(key) == 71
    assert article_key("g" * MAX_KEY_LENGTH, None, "", "") == "g" * MAX_KEY_LENGTH


def test_content_hash_separates_fields() -> None:
    assert content_hash("a", "b", "") != content_hash("a", "", "b")
    assert content_hash("a", "b", "c") == content_hash("a", "b", "c")
    assert len(content_hash("", "", "")) == 32


def test_unique_names() -> None:
    assert unique_names(["B", None, " A ", "B", "", "a", "A"]) == ("B", "A", "a")


@given(st.text(max_size=200))
def test_html_to_text_never_fails_and_never_grows(document: str) -> None:
    assert len(html_to_text(document)) <= len(document)


def test_aware_offsets_are_converted() -> None:
    east = datetime(2024, 1, 1, 3, tzinfo=timezone(timedelta(hours=3)))
    assert parse_date(east.isoformat()) == datetime(2024, 1, 1, tzinfo=UTC)
