"""The fast path's shortcuts against the feedparser steps they stand for.

Each helper of monitor.parse.values and monitor.parse.fast that skips work feedparser does
(a URL join, the mojibake and C1 repair, attribute naming, the namespace declarations) must
give what the full step gives; the differential test covers them only as far as the corpus and
its generators reach.
"""

from __future__ import annotations

import contextlib
import io
from urllib.parse import urljoin

import pytest
from feedparser.html import _cp1252
from feedparser.urls import _urljoin
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from monitor.parse.fast import XML_OPTIONS, _parse_xml, _xml_body
from monitor.parse.normalize import PLAIN_ABSOLUTE_URL, joined_url
from monitor.parse.values import MATCH_NAMESPACES, as_feedparser_text, attributes, joined
from tests.conftest import CORPUS

URL_PIECES = st.sampled_from(
    [
        *("/", "///", "a", "b/", "../", "./", ";", ";p=1", "?", "?q=1", "&r=2", "#", "#frag"),
        *(" ", "\t", "\x00", "[::1]", "@", "user:pw@", "é", "%20", ":", "..", ":80", "HTTP://"),
    ]
)
URLS = st.tuples(
    st.sampled_from(["", "http://", "https://", "HTTPS://", "ftp://", "//", "https:///"]),
    st.sampled_from(["", "e.com", "E.com", "e.com:8080", "[::1]", "e.com:"]),
    st.lists(URL_PIECES, max_size=6).map("".join),
).map("".join)
BASES = [
    "https://example.com/news/feed.xml",
    "http://example.com",
    "",
    "http://[::1",
    "file:///tmp/f.xml",
    "javascript:x",
]


@settings(max_examples=1500)
@given(URLS, st.sampled_from(BASES))
@example("https://e.com/a;", BASES[0])
@example("https://e.com/a?", BASES[0])
@example("https://e.com/a#", BASES[0])
@example("https://e.com?#x", BASES[0])
def test_joined_is_feedparser_urljoin(url: str, base: str) -> None:
    assert joined(base, url) == _urljoin(base, url)
    try:
        expected = urljoin(base, url)
    except ValueError:
        with pytest.raises(ValueError):
            joined_url(base, url)
    else:
        assert joined_url(base, url) == expected


@pytest.mark.parametrize(
    "url",
    ["https://e.com/a?b=1#c", "http://e.com", "https://e.com:8080/x/y.html", "https://e.com/é"],
)
def test_plain_absolute_urls_skip_the_join(url: str) -> None:
    assert PLAIN_ABSOLUTE_URL.fullmatch(url)
    for base in BASES:
        assert joined(base, url) == _urljoin(base, url) == url or base == "http://[::1"


def feedparser_text(text: str) -> str:
    """The steps as feedparser's `pop` takes them."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)


TEXT = st.text(
    st.sampled_from(
        [*"aé\u00c3\u00a9\u00e2\u0080\u0099\u0093\u0094\u0096\u009f\u00a0", "中", "\ud800"]
    ),
    max_size=12,
)


@settings(max_examples=1000)
@given(TEXT)
def test_feedparser_text_repairs_as_feedparser_does(text: str) -> None:
    assert as_feedparser_text(text) == feedparser_text(text)


def named_as_feedparser(items: list[tuple[str, str]]) -> dict[str, str]:
    """The attribute naming of the fast path before its shortcut for plain names."""
    named: dict[str, str] = {}
    local_names: list[tuple[str, str]] = []
    for raw, value in items:
        if raw[0] == "{":
            namespace, _, local = raw[1:].partition("}")
            prefix = MATCH_NAMESPACES.get(namespace.lower(), "")
            named[(f"{prefix}:{local}" if prefix else local).lower()] = value
            local_names.append((local.lower(), value))
        else:
            named[raw.lower()] = value
            local_names.append((raw.lower(), value))
    for local, value in local_names:
        named[local] = value
    return {k: v.lower() if k in ("rel", "type") and v else v for k, v in named.items()}


NAMES = st.sampled_from(
    [
        *("href", "HREF", "rel", "Rel", "type", "TYPE", "src", "xml:lang", "Ätt"),
        *(
            "{http://www.w3.org/XML/1998/namespace}lang",
            "{urn:x}rel",
            "{http://purl.org/rss/1.0/}a",
        ),
    ]
)
ITEMS = st.lists(st.tuples(NAMES, st.sampled_from(["", "X", "Alternate", "text/HTML"])), min_size=1)


@given(ITEMS)
def test_attributes_are_named_as_before(items: list[tuple[str, str]]) -> None:
    assert attributes(items) == named_as_feedparser(items)


def declarations_by_events(document: bytes) -> list[tuple[str, list[tuple[str, str]]]]:
    events = etree.iterparse(io.BytesIO(document), events=("start-ns", "start"), **XML_OPTIONS)
    found: list[tuple[str, list[tuple[str, str]]]] = []
    pending: list[tuple[str, str]] = []
    for event, value in events:
        if event == "start-ns":
            pending.append(value)
        elif pending:
            found.append((value.tag, pending))
            pending = []
    return found


FEEDS = sorted(
    path
    for path in (CORPUS / "feeds").rglob("*")
    if path.is_file() and path.suffix not in {".md", ".tsv", ".json"}
)


@pytest.mark.skipif(not FEEDS, reason="corpus not found")
def test_namespace_declarations_are_those_the_parser_reports() -> None:
    """`_parse_xml` reads the root's declarations from its nsmap when no other element can
    declare any: the same declarations, in the same order, as iterparse's events."""
    compared = 0
    for path in FEEDS:
        gated = _xml_body(path.read_bytes())
        if gated is None:
            continue
        try:
            _, declarations = _parse_xml(gated[0])
        except etree.XMLSyntaxError:
            continue
        by_events = declarations_by_events(gated[0])
        ours = [(element.tag, [(p or "", u) for p, u in d]) for element, d in declarations.items()]
        assert ours == [(tag, [(p or "", u) for p, u in d]) for tag, d in by_events], path
        compared += 1
    assert compared > 50


def test_a_declaration_below_the_root_is_found() -> None:
    document = (
        b'<rss xmlns:a="urn:a" version="2.0"><channel><x:y xmlns:x="urn:x" xmlns="urn:d"/>'
        b"</channel></rss>"
    )
    root, declarations = _parse_xml(document)
    assert [(e.tag, d) for e, d in declarations.items()] == [
        ("rss", [("a", "urn:a")]),
        ("{urn:x}y", [("x", "urn:x"), ("", "urn:d")]),
    ]
    assert root.tag == "rss"
