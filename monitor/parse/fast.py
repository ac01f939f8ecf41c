"""A fast path for RSS and Atom: lxml reads the XML, a port of feedparser's rules reads the fields.

`parse_fast` gives the `ParsedFeed` that `parse_syndication` (feedparser) gives, or None when the
document has something it does not reproduce exactly: an encoding feedparser would guess
otherwise, a DOCTYPE, XML that lxml refuses, inline XHTML, base64 content, an element whose
feedparser handler is not ported here. The caller then uses feedparser. This module is the gate
and the XML parse; the walk is `walk.py`, the handlers `constructs.py` and `feed_reader.py`, the
value steps `values.py`, the HTML cleaning `sanitize.py`; `syndication.parsed_feed` builds the
articles.
"""

from __future__ import annotations

import io
import re
from typing import Any, TypeVar

from feedparser.encodings import RE_XML_PI_ENCODING, lazy_chardet_encoding
from lxml import etree

from monitor.models import ParsedFeed
from monitor.parse.entities import WIDE_ENCODINGS
from monitor.parse.feed_reader import FeedReader
from monitor.parse.normalize import link_base
from monitor.parse.syndication import CHARSET_PARAM, XML_ENCODING, parsed_feed
from monitor.parse.walk import Declarations, Decline

# Hardened: no DTD, no entity expansion, no network, libxml2's default size limits.
XML_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
    "encoding": "utf-8",  # feedparser is told charset=utf-8 for valid UTF-8, whatever is declared
    "collect_ids": False,
}
UTF8_BOM = b"\xef\xbb\xbf"
PROLOG_DECLARATION = re.compile(rb"<!(?!--)")  # DOCTYPE (and so ENTITY); comments are fine
FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
# syndication's form of feedparser's CharacterEncodingOverride, for a body read as windows-1252.
OVERRIDE_WARNING = (
    "CharacterEncodingOverride: document declared as utf-8, but parsed as windows-1252"
)
Reader = TypeVar("Reader", bound=FeedReader)
KNOWN_VERSIONS = frozenset(
    {"rss090", "rss091u", "rss092", "rss093", "rss094", "rss20", "rss10", "rss", "atom10"}
)


def parse_fast(
    body: bytes, *, feed_id: str, url: str, content_type: str | None = None
) -> ParsedFeed | None:
    """The feed as `parse_syndication` would parse it, or None to leave it to feedparser."""
    gated = _xml_body(body, content_type)
    if gated is None:
        return None
    document, warning = gated
    reader = read_document(document, url, FeedReader)
    if reader is None:
        return None
    result = {"feed": reader.feed, "entries": reader.entries}
    return parsed_feed(
        result, reader.version, reader.entries, warning, feed_id=feed_id, url=link_base(url)
    )


def read_document(document: bytes, url: str, reader_type: type[Reader]) -> Reader | None:
    """The walk of a document the gate let through (`_xml_body`), or None when it declines."""
    try:
        root, declarations = _parse_xml(document)
        reader = reader_type(link_base(url), declarations)
        reader.read(root)
    except (etree.XMLSyntaxError, Decline, RecursionError, ValueError):
        return None
    return reader if reader.version in KNOWN_VERSIONS else None


def _parse_xml(document: bytes) -> tuple[etree._Element, Declarations]:
    """The tree, and the namespaces each element declares.

    feedparser's namespace maps are document-wide and change as declarations are met, so the
    walk replays them in document order. Most feeds declare them all on the root element: with
    no "xmlns" after its start tag, its `nsmap` (in declaration order) says it all.
    """
    first = FIRST_ELEMENT.search(document)
    close = document.find(b">", first.start()) if first else -1
    if close >= 0 and document.find(b"xmlns", close) < 0:
        root = etree.fromstring(document, etree.XMLParser(**XML_OPTIONS))
        declared = [(prefix or "", uri) for prefix, uri in root.nsmap.items()]
        return root, {root: declared} if declared else {}
    events = etree.iterparse(io.BytesIO(document), events=("start-ns", "start"), **XML_OPTIONS)
    declarations: Declarations = {}
    pending: list[tuple[str, str]] = []
    for event, value in events:
        if event == "start-ns":
            pending.append(value)
        elif pending:
            declarations[value] = pending
            pending = []
    return events.root, declarations


def _xml_body(body: bytes, content_type: str | None = None) -> tuple[bytes, str | None] | None:
    """The document as UTF-8 without BOM, decoded as feedparser decodes it, and feedparser's
    warning about its encoding; None otherwise."""
    warning = None
    has_bom = body.startswith(UTF8_BOM)
    if has_bom:
        body = body[3:]
    if any(body.startswith(marker) for marker, _ in WIDE_ENCODINGS):
        return None
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            transcoded = None if has_bom else _transcoded(body)
            if transcoded is None and not has_bom:
                transcoded, warning = _as_windows_1252(body, content_type), OVERRIDE_WARNING
            if transcoded is None:
                return None
            body = transcoded
    first = FIRST_ELEMENT.search(body)
    if first is None or PROLOG_DECLARATION.search(body, 0, first.start()):
        return None
    return body, warning


def _as_windows_1252(body: bytes, content_type: str | None) -> bytes | None:
    """A body that is not UTF-8 and names no encoding, as feedparser reads it: it tries UTF-8,
    then (without chardet) windows-1252, and warns that it did."""
    if CHARSET_PARAM.search(content_type or "") or lazy_chardet_encoding is not None:
        return None  # syndication passes the charset on; chardet would guess
    if RE_XML_PI_ENCODING.match(body) or XML_ENCODING.match(body, 0, 1024):
        return None
    try:
        return body.decode("windows-1252").encode("utf-8")
    except UnicodeDecodeError:
        return None  # bytes windows-1252 leaves undefined: feedparser goes on to iso-8859-2


def _transcoded(body: bytes) -> bytes | None:
    """A body that is not UTF-8, in the encoding it declares, as UTF-8.

    syndication then gives feedparser no charset, so feedparser decodes with the declared
    encoding (gb2312 read as gb18030); a body that fails that is left to feedparser, which
    goes on guessing and warns.
    """
    declared = RE_XML_PI_ENCODING.match(body)
    if declared is None or XML_ENCODING.match(body, 0, 1024) is None:
        return None
    try:
        encoding = declared.group(1).decode("utf-8").lower()
        encoding = "gb18030" if encoding == "gb2312" else encoding
        return body.decode(encoding).encode("utf-8")
    except (UnicodeError, LookupError):
        return None
