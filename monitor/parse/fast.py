"""A fast path for RSS and Atom: lxml reads the XML, a port of feedparser's rules reads the fields.

`parse_fast` gives the `ParsedFeed` that `parse_syndication` (feedparser) gives, or None when the
document has something it does not reproduce exactly: a body that is not UTF-8, a DOCTYPE, XML
that lxml refuses, inline XHTML, base64 content, an element whose feedparser handler is not
ported here. The caller then uses feedparser. The element rules mirror feedparser's
`mixin.py` and `namespaces/`, quirks included; dates, URL joins and `looks_like_html` call
feedparser's own functions, and articles are built by `syndication.parsed_feed`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import time
from collections.abc import Callable
from html.entities import name2codepoint
from typing import Any, cast

from feedparser.datetimes import _parse_date
from feedparser.encodings import RE_XML_PI_ENCODING
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _HTMLSanitizer, _sanitize_html
from feedparser.urls import (
    RelativeURIResolver,
    _urljoin,
    make_safe_absolute_uri,
    resolve_relative_uris,
)
from lxml import etree

from monitor.models import ParsedFeed
from monitor.parse.normalize import link_base
from monitor.parse.syndication import WIDE_ENCODINGS, XML_ENCODING, parsed_feed

Node = dict[str, Any]

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
MAX_DEPTH = 64
KNOWN_VERSIONS = frozenset(
    {"rss090", "rss091u", "rss092", "rss093", "rss094", "rss20", "rss10", "rss", "atom10"}
)
RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
NETSCAPE_RSS = "http://my.netscape.com/rdf/simple/0.9/"

MATCH_NAMESPACES: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}
FEEDPARSER_HANDLERS = frozenset(
    name for name in dir(_FeedParserMixin) if name.startswith(("_start_", "_end_"))
)
CAN_BE_RELATIVE_URI = frozenset(_FeedParserMixin.can_be_relative_uri)
HTML_TYPES = frozenset(_FeedParserMixin.html_types)
TEXT_TYPES = frozenset({"text/plain", "text/html"})
# Elements whose cleaned value can reach an Article or the feed's title (the rest are skipped).
MARKUP_ELEMENTS = frozenset({"title", "description", "summary", "content"})
# Elements whose value syndication reads (feedparser stores the others under other keys).
READ_ELEMENTS = frozenset(
    {
        *("title", "description", "summary", "content", "link", "id", "author", "category"),
        *("tags", "itunes_keywords", "media_keywords", "published", "updated", "language"),
        "ttl",
    }
)
# Keys that syndication reads: an unknown element of that name would overwrite one.
READ_KEYS = frozenset(
    {
        *("id", "link", "title", "title_detail", "summary", "summary_detail", "content"),
        *("author", "authors", "tags", "published", "published_parsed", "updated"),
        *("updated_parsed", "language", "image", "textinput", "_links"),
    }
)
EMAIL = re.compile(
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
C1_CONTROL = re.compile("[\x80-\x9f]")
TEXTINPUT_KEEPERS = frozenset({"title", "link", "description", "name"})
IMAGE_KEEPERS = frozenset({"title", "link", "description", "url", "href", "width", "height"})


class Decline(Exception):
    """The document has a feature that the fast path does not reproduce exactly."""


def parse_fast(body: bytes, *, feed_id: str, url: str) -> ParsedFeed | None:
    """The feed as `parse_syndication` would parse it, or None to leave it to feedparser."""
    document = _xml_body(body)
    if document is None:
        return None
    try:
        root, declarations = _parse_xml(document)
        reader = _FeedReader(link_base(url), declarations)
        reader.read(root)
    except (etree.XMLSyntaxError, Decline, RecursionError, ValueError):
        return None
    if reader.version not in KNOWN_VERSIONS:
        return None
    result = {"feed": reader.feed, "entries": reader.entries}
    return parsed_feed(
        result, reader.version, reader.entries, None, feed_id=feed_id, url=link_base(url)
    )


def _parse_xml(document: bytes) -> tuple[etree._Element, dict[int, list[tuple[str, str]]]]:
    """The tree, and the namespaces each element declares, by its number in document order.

    feedparser's namespace maps are document-wide and change as declarations are met, so the
    walk replays them in that order.
    """
    events = etree.iterparse(io.BytesIO(document), events=("start-ns", "start"), **XML_OPTIONS)
    declarations: dict[int, list[tuple[str, str]]] = {}
    pending: list[tuple[str, str]] = []
    number = 0
    for event, value in events:
        if event == "start":
            if pending:
                declarations[number] = pending
                pending = []
            number += 1
        else:
            pending.append(value)
    return events.root, declarations


def _xml_body(body: bytes) -> bytes | None:
    """The document as UTF-8 without BOM, decoded as feedparser decodes it; None otherwise."""
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
            if transcoded is None:
                return None
            body = transcoded
    first = FIRST_ELEMENT.search(body)
    if first is None or PROLOG_DECLARATION.search(body, 0, first.start()):
        return None
    return body


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


Handler = Callable[[Node], None]
EndHandler = Callable[[], None]


class _FeedReader:
    """feedparser's `_FeedParserMixin` state machine, for the elements that decide Articles."""

    def __init__(self, base: str, declarations: dict[int, list[tuple[str, str]]]) -> None:
        self.base = base  # feedparser's baseuri: the Content-Location it is given
        self.lang: str | None = None
        self.version = ""
        self.feed: Node = {}
        self.entries: list[Node] = []
        self.depths: list[dict[str, int]] = []  # feedparser's property_depth_map, per entry
        self.sourcedata: Node = {}
        self.contentparams: Node = {}
        self.stack: list[tuple[str, bool, list[str]]] = []
        self.langstack: list[str | None] = []
        self.basestack: list[str] = []
        self.infeed = self.inentry = self.incontent = self.inimage = self.intextinput = 0
        self.inauthor = self.incontributor = self.inpublisher = self.insource = 0
        self.summary_key: str | None = None
        self.title_depth = -1
        self.depth = 0
        self.has_content = 0
        self.guidislink = False
        self.namespacemap: dict[str | None, str] = {}
        self.namespaces_in_use: dict[str, str] = {}
        self.tag_names: dict[str, tuple[str, str, bool]] = {}
        self.declarations = declarations
        self.number = 0  # of the element being started, in document order
        self.starts, self.ends = self._handlers()

    # ---- the walk ---------------------------------------------------------------------------
    def read(self, root: etree._Element) -> None:
        self._walk(root)

    def _walk(self, element: etree._Element) -> None:
        """feedparser's SAX events for `element`: start, text (to the open entry), children, end."""
        tag = element.tag
        if not isinstance(tag, str):
            raise Decline("entity reference")
        declared = self.declarations.get(self.number)
        self.number += 1
        if declared is not None:
            self._declare(declared)
        name, key, core = self.tag_names.get(tag) or self._tag_name(tag)
        self._start(name, key, core, element)
        stack = self.stack
        text = element.text
        if text and stack:
            stack[-1][2].append(text)
        for child in element:
            if isinstance(child.tag, str):
                self._walk(child)
            elif child.tag is not etree.Comment and child.tag is not etree.PI:
                raise Decline("entity reference")
            text = child.tail
            if text and stack:
                stack[-1][2].append(text)
        self._end(name, key)

    def _declare(self, declared: list[tuple[str, str]]) -> None:
        for prefix, uri in declared:
            if uri:  # xmlns="" undeclares: feedparser ignores it
                self._track_namespace(prefix or None, uri)
        self.tag_names.clear()

    def _tag_name(self, tag: str) -> tuple[str, str, bool]:
        """(feedparser's element name, handler key, whether it is RSS/Atom core) of an lxml tag."""
        if not tag.isascii():
            raise Decline("non-ASCII element name")  # expat and libxml2 may disagree on those
        namespace, _, local = tag[1:].rpartition("}") if tag[0] == "{" else ("", "", tag)
        if "backend.userland.com/rss" in namespace.lower():
            namespace = "http://backend.userland.com/rss"
        prefix = MATCH_NAMESPACES.get(namespace.lower()) if namespace else ""
        if prefix is None:  # expat names an unknown namespace by its first declared prefix
            declared = (p for p, uri in self.namespaces_in_use.items() if p and uri == namespace)
            prefix = next(declared, None)
            if prefix is None:
                raise Decline("element in an unknown default namespace")
        name = f"{prefix.lower()}:{local.lower()}" if prefix else local.lower()
        head, _, tail = name.partition(":") if ":" in name else ("", "", name)
        head = self.namespacemap.get(head, head) if head else ""
        key = f"{head}_{tail}" if head else tail
        result = (name, key, not head)
        self.tag_names[tag] = result
        return result

    def _start(self, name: str, key: str, core: bool, element: etree._Element) -> None:
        """feedparser's `unknown_starttag`: depth, base, language, then the element's handler."""
        self.depth += 1
        items = element.items()
        attrs = _attributes(cast("list[tuple[str, str]]", items)) if items else {}
        if self.depth > MAX_DEPTH:
            raise Decline("too deep")
        if self.depth == 1 or (attrs and ("xml:base" in attrs or "base" in attrs)):
            self._set_base(attrs)
        self.basestack.append(self.base)
        lang = self._language(attrs) if attrs else self.lang
        if lang and name in ("feed", "rss"):
            self.feed["language"] = lang.replace("_", "-")
        self.lang = lang
        self.langstack.append(lang)
        if self.incontent:
            raise Decline("markup inside a text construct")  # feedparser turns it into XHTML
        if core:
            if name not in TEXTINPUT_KEEPERS:
                self.intextinput = 0
            if name not in IMAGE_KEEPERS:
                self.inimage = 0
        handler = self.starts.get(key)
        if handler is not None:
            handler(attrs)
        else:
            self._start_unknown(name, key, attrs)

    def _language(self, attrs: Node) -> str | None:
        lang: str | None = attrs.get("xml:lang", attrs.get("lang"))
        if lang is None:
            return self.lang
        return lang or None

    def _start_unknown(self, name: str, key: str, attrs: Node) -> None:
        if "_start_" + key in FEEDPARSER_HANDLERS:
            raise Decline(f"feedparser handles <{name}> in a way not ported here")
        if key in READ_KEYS:
            raise Decline(f"unknown element <{name}> named like a field")
        if not attrs:
            self._push(key, True)  # feedparser keeps it under its own name
        elif key == "ttl":
            self._context()["ttl"] = attrs

    def _end(self, name: str, key: str) -> None:
        handler = self.ends.get(key)
        if handler is not None:
            handler()
        elif "_end_" + key in FEEDPARSER_HANDLERS:
            raise Decline(f"feedparser handles </{name}> in a way not ported here")
        else:
            self._pop(key)
        self.basestack.pop()
        if self.basestack and self.basestack[-1]:
            self.base = self.basestack[-1]
        if self.langstack:
            self.langstack.pop()
            if self.langstack:
                self.lang = self.langstack[-1]
        self.depth -= 1

    def _set_base(self, attrs: Node) -> None:
        """feedparser recomputes the base at every element; it must not change unless declared."""
        self.base = _next_base(self.base, attrs.get("xml:base", attrs.get("base")))
        if _next_base(self.base, None) != self.base:
            raise Decline("a base URL that changes from element to element")

    def _track_namespace(self, prefix: str | None, uri: str) -> None:
        lower = uri.lower()
        if not self.version:
            if (prefix, lower) == (None, NETSCAPE_RSS):
                self.version = "rss090"
            elif lower == "http://purl.org/rss/1.0/":
                self.version = "rss10"
            elif lower == "http://www.w3.org/2005/atom":
                self.version = "atom10"
        if "backend.userland.com/rss" in lower:
            uri = lower = "http://backend.userland.com/rss"
        if lower in MATCH_NAMESPACES:
            self.namespacemap[prefix] = MATCH_NAMESPACES[lower]
            self.namespaces_in_use[MATCH_NAMESPACES[lower]] = uri
        else:
            self.namespaces_in_use[prefix or ""] = uri

    # ---- feedparser's stack -----------------------------------------------------------------
    def _push(self, element: str, expecting_text: bool | int) -> None:
        self.stack.append((element, bool(expecting_text), []))

    def _pop(self, element: str, strip: bool = True) -> str | None:
        """feedparser's `pop`: the element's text, cleaned and stored where feedparser puts it."""
        if not self.stack or self.stack[-1][0] != element:
            return None
        _, expecting_text, pieces = self.stack.pop()
        output = "".join(pieces)
        if strip:
            output = output.strip()
        if not expecting_text or element not in READ_ELEMENTS:
            return output  # where feedparser would store it, syndication never reads
        params = self.contentparams
        if element in CAN_BE_RELATIVE_URI and output and (element != "id" or self.guidislink):
            output = _joined(self.base or "", output)
        if (
            not self.version.startswith("atom")
            and params.get("type") == "text/plain"
            and ("<" in output or "&" in output)
            and _FeedParserMixin.looks_like_html(output)
        ):
            params["type"] = "text/html"
        if element in MARKUP_ELEMENTS and params.get("type", "text/html") in HTML_TYPES:
            output = clean_html(output, self.base, params.get("type", "text/html"))
        output = _as_feedparser_text(output)
        if element in ("category", "tags", "itunes_keywords"):
            return output
        if element == "title" and -1 < self.title_depth <= self.depth:
            return output
        self._store(element, output)
        return output

    def _store(self, element: str, output: str) -> None:
        if self.inentry and not self.insource:
            self._store_in_entry(element, output)
        elif self.infeed or self.insource:
            context = self._context()
            if element == "description":
                element = "subtitle"
            context[element] = output
            if element == "link":
                context["link"] = LINK_ENTITY.sub(r"&\g<1>", output) if "&" in output else output
                if not context.get("_links"):
                    raise Decline("link text without a link element")
            elif self.incontent:
                context[element + "_detail"] = {**self.contentparams, "value": output}

    def _store_in_entry(self, element: str, output: str) -> None:
        entry = self.entries[-1]
        if element == "content":
            entry.setdefault("content", []).append({**self.contentparams, "value": output})
        elif element == "link":
            if self.inimage:
                return
            if "&" in output:
                output = LINK_ENTITY.sub(r"&\g<1>", output.replace("&amp;", "&"))
            entry["link"] = output
            if output and not entry.get("_links"):
                raise Decline("link text without a link element")
        else:
            if element == "description":
                element = "summary"
            depths = self.depths[-1]
            old = depths.get(element)
            if old is None or self.depth <= old:  # feedparser's property_depth_map
                depths[element] = self.depth
                entry[element] = output
            if self.incontent:
                entry[element + "_detail"] = {**self.contentparams, "value": output}

    def _context(self) -> Node:
        if self.insource:
            return self.sourcedata
        if self.inimage and "image" in self.feed:
            image: Node = self.feed["image"]
            return image
        if self.intextinput:
            if "textinput" not in self.feed:
                raise Decline("textinput inside an item")
            textinput: Node = self.feed["textinput"]
            return textinput
        if self.inentry:
            return self.entries[-1]
        return self.feed

    def _save(self, key: str, value: object, overwrite: bool = False) -> None:
        context = self._context()
        if overwrite:
            context[key] = value
        else:
            context.setdefault(key, value)

    def _push_content(self, tag: str, attrs: Node, default_type: str, expecting: int) -> None:
        self.incontent += 1
        if self.lang:
            self.lang = self.lang.replace("_", "-")
        content_type = _FeedParserMixin.map_content_type(attrs.get("type", default_type))
        if tag in MARKUP_ELEMENTS and (content_type not in TEXT_TYPES or "mode" in attrs):
            raise Decline(f"{content_type} content")  # xhtml, base64, ...
        self.contentparams = {"type": content_type, "language": self.lang, "base": self.base}
        self._push(tag, expecting)

    def _pop_content(self, tag: str) -> str | None:
        value = self._pop(tag)
        self.incontent -= 1
        self.contentparams.clear()
        return value

    # ---- handlers (feedparser's names, without _start_/_end_) -------------------------------
    def _handlers(self) -> tuple[dict[str, Handler], dict[str, EndHandler]]:
        starts: dict[str, Handler] = {}
        ends: dict[str, EndHandler] = {}
        for names, start, end in self._handler_table():
            for name in names.split():
                if start is not None:
                    starts[name] = start
                if end is not None:
                    ends[name] = end
        return starts, ends

    def _handler_table(self) -> list[tuple[str, Handler | None, EndHandler | None]]:
        pop = self._pop
        return [
            ("rss", self._start_rss, None),
            ("channel", self._start_channel, self._end_channel),
            ("feed", self._start_feed, self._end_channel),
            ("item entry", self._start_item, self._end_item),
            ("image", self._start_image, self._end_image),
            ("textinput", self._start_textinput, self._end_textinput),
            (
                "author managingeditor dc_author dc_creator itunes_author",
                self._start_author,
                self._end_author,
            ),
            ("contributor", self._start_contributor, self._end_contributor),
            ("dc_contributor", self._start_dc_contributor, self._end_dc_contributor),
            ("name itunes_name", lambda a: self._push("name", 0), self._end_name),
            ("email itunes_email", lambda a: self._push("email", 0), self._end_email),
            ("url homepage uri", lambda a: self._push("href", 1), self._end_url),
            (
                "webmaster dc_publisher",
                lambda a: self._push("publisher", 1),
                lambda: self._skip(pop("publisher")),
            ),
            ("itunes_owner", self._start_owner, self._end_owner),
            (
                "subtitle tagline itunes_subtitle",
                self._content_of("subtitle", "text/plain"),
                lambda: self._skip(self._pop_content("subtitle")),
            ),
            (
                "rights copyright dc_rights",
                self._content_of("rights", "text/plain"),
                lambda: self._skip(self._pop_content("rights")),
            ),
            (
                "info feedburner_browserfriendly",
                self._content_of("info", "text/plain"),
                lambda: self._skip(self._pop_content("info")),
            ),
            ("title dc_title", self._start_title, self._end_title),
            ("media_title", self._start_title, self._end_media_title),
            (
                "description dc_description media_description",
                self._start_description,
                self._end_description,
            ),
            ("abstract", self._start_abstract, self._end_description),
            ("summary itunes_summary", self._start_summary, self._end_summary),
            ("content", self._start_content, self._end_content),
            ("content_encoded fullitem", self._start_content_encoded, self._end_content),
            ("link", self._start_link, lambda: self._skip(pop("link"))),
            ("guid id", self._start_guid, self._end_guid),
            ("language dc_language", lambda a: self._push("language", 1), self._end_language),
            (
                "published pubdate issued dcterms_issued",
                lambda a: self._push("published", 1),
                lambda: self._end_date("published"),
            ),
            (
                "updated modified lastbuilddate dc_date dcterms_modified",
                lambda a: self._push("updated", 1),
                lambda: self._end_date("updated"),
            ),
            (
                "created dcterms_created",
                lambda a: self._push("created", 1),
                lambda: self._skip(pop("created")),
            ),
            (
                "expirationdate",
                lambda a: self._push("expired", 1),
                lambda: self._skip(pop("expired")),
            ),
            ("category keywords dc_subject", self._start_category, self._end_category),
            ("media_category", self._start_media_category, self._end_category),
            ("itunes_category", self._start_itunes_category, self._end_category),
            ("media_keywords", None, lambda: self._end_keywords("media_keywords", None)),
            (
                "itunes_keywords",
                None,
                lambda: self._end_keywords("itunes_keywords", "http://www.itunes.com/"),
            ),
            ("tags", lambda a: self._push("tags", 1), lambda: self._end_keywords("tags", None)),
            ("enclosure", self._start_enclosure, None),
            ("source", self._start_source, self._end_source),
            ("cloud media_content media_group", lambda a: None, None),
            (
                "generator",
                lambda a: self._push("generator", 1),
                lambda: self._skip(pop("generator")),
            ),
            (
                "newlocation",
                lambda a: self._push("newlocation", 1),
                lambda: self._skip(pop("newlocation")),
            ),
            ("width", lambda a: self._push("width", 0), lambda: self._end_number("width")),
            ("height", lambda a: self._push("height", 0), lambda: self._end_number("height")),
            ("media_thumbnail", lambda a: self._push("url", 1), lambda: self._skip(pop("url"))),
            ("media_rating", lambda a: self._push("rating", 1), lambda: self._skip(pop("rating"))),
            ("media_credit", lambda a: self._push("credit", 1), lambda: self._skip(pop("credit"))),
            (
                "media_restriction",
                lambda a: self._push("restriction", 1),
                lambda: self._skip(pop("restriction")),
            ),
            (
                "media_license",
                lambda a: self._push("license", 1),
                lambda: self._skip(pop("license")),
            ),
            (
                "media_player",
                lambda a: self._push("media_player", 0),
                lambda: self._skip(pop("media_player")),
            ),
            (
                "itunes_image itunes_link",
                self._start_itunes_image,
                None,  # feedparser's generic pop: itunes_link's never matches, and stays
            ),
            ("itunes_block", None, lambda: self._skip(pop("itunes_block", False))),
            ("itunes_explicit", None, lambda: self._skip(pop("itunes_explicit", False))),
        ]

    @staticmethod
    def _skip(_: object) -> None:
        """An end handler whose result feedparser stores where syndication never reads."""

    def _content_of(self, tag: str, default_type: str) -> Handler:
        return lambda attrs: self._push_content(tag, attrs, default_type, 1)

    def _start_rss(self, attrs: Node) -> None:
        if not self.version or not self.version.startswith("rss"):
            declared = attrs.get("version", "")
            self.version = RSS_VERSIONS.get(declared) or (
                "rss20" if declared.startswith("2.") else "rss"
            )

    def _start_channel(self, attrs: Node) -> None:
        self.infeed = 1
        self._cdf_common(attrs)

    def _start_feed(self, attrs: Node) -> None:
        self.infeed = 1
        if not self.version:
            version = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}
            self.version = version.get(attrs.get("version") or "", "atom")

    def _end_channel(self) -> None:
        self.infeed = 0

    @staticmethod
    def _cdf_common(attrs: Node) -> None:
        if "lastmod" in attrs or "href" in attrs:
            raise Decline("CDF attributes")

    def _start_item(self, attrs: Node) -> None:
        self.entries.append({})
        self.depths.append({})
        self._push("item", 0)
        self.inentry = 1
        self.guidislink = False
        self.title_depth = -1
        about = attrs.get(self._standard_prefix("rdf:about"))
        if about:
            self._context()["id"] = about
        self._cdf_common(attrs)

    def _standard_prefix(self, name: str) -> str:
        prefix, _, suffix = name.partition(":")
        return f"{self.namespacemap.get(prefix, prefix)}:{suffix}"

    def _end_item(self) -> None:
        self._pop("item")
        self.inentry = 0
        self.has_content = 0

    def _start_image(self, attrs: Node) -> None:
        context = self._context()
        if not self.inentry:
            context.setdefault("image", {})
        self.inimage = 1
        self.title_depth = -1
        self._push("image", 0)

    def _end_image(self) -> None:
        self._pop("image")
        self.inimage = 0

    def _start_textinput(self, attrs: Node) -> None:
        self._context().setdefault("textinput", {})
        self.intextinput = 1
        self.title_depth = -1
        self._push("textinput", 0)

    def _end_textinput(self) -> None:
        self._pop("textinput")
        self.intextinput = 0

    def _start_author(self, attrs: Node) -> None:
        self.inauthor = 1
        self._push("author", 1)
        self._context().setdefault("authors", []).append({})

    def _end_author(self) -> None:
        self._pop("author")
        self.inauthor = 0
        self._sync_author_detail()

    def _start_contributor(self, attrs: Node) -> None:
        self.incontributor = 1
        self._push("contributor", 0)

    def _end_contributor(self) -> None:
        self._pop("contributor")
        self.incontributor = 0

    def _start_dc_contributor(self, attrs: Node) -> None:
        self.incontributor = 1
        self._push("name", 0)

    def _end_dc_contributor(self) -> None:
        self._end_name()
        self.incontributor = 0

    def _start_owner(self, attrs: Node) -> None:
        self.inpublisher = 1
        self._push("publisher", 0)

    def _end_owner(self) -> None:
        self._pop("publisher")
        self.inpublisher = 0

    def _end_name(self) -> None:
        value = self._pop("name")
        if self.inpublisher:
            self._save_author("name", value, "publisher")
        elif self.inauthor:
            self._save_author("name", value)
        elif self.intextinput:
            self._context()["name"] = value

    def _end_email(self) -> None:
        value = self._pop("email")
        if self.inpublisher:
            self._save_author("email", value, "publisher")
        elif self.inauthor:
            self._save_author("email", value)

    def _end_url(self) -> None:
        value = self._pop("href")
        if self.inauthor:
            self._save_author("href", value)

    def _save_author(self, key: str, value: str | None, prefix: str = "author") -> None:
        context = self._context()
        context.setdefault(prefix + "_detail", {})[key] = value
        self._sync_author_detail()
        context.setdefault("authors", [{}])[-1][key] = value

    def _sync_author_detail(self) -> None:
        """feedparser's: "Name (email)" from the last author, or name and email from the text."""
        context = self._context()
        detail: Node = context.get("authors", [{}])[-1]
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                context["author"] = f"{name} ({email})"
            elif name or email:
                context["author"] = name or email
            return
        author = context.get("author")
        if not author:
            return
        found = EMAIL.search(author)
        email = None
        if found:
            email = found.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "")
            author = author.replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        if author or email:
            context.setdefault("author_detail", detail)
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email

    def _start_title(self, attrs: Node) -> None:
        self._push_content(
            "title", attrs, "text/plain", self.infeed or self.inentry or self.insource
        )

    def _end_title(self) -> None:
        if self._pop_content("title"):
            self.title_depth = self.depth

    def _end_media_title(self) -> None:
        title_depth = self.title_depth
        self._end_title()
        self.title_depth = title_depth

    def _start_description(self, attrs: Node) -> None:
        if "summary" in self._context() and not self.has_content:
            self.summary_key = "content"
            self._start_content(attrs)
        else:
            self._push_content(
                "description", attrs, "text/html", self.infeed or self.inentry or self.insource
            )

    def _start_abstract(self, attrs: Node) -> None:
        self._push_content(
            "description", attrs, "text/plain", self.infeed or self.inentry or self.insource
        )

    def _end_description(self) -> None:
        if self.summary_key == "content":
            self._end_content()
        else:
            self._pop_content("description")
        self.summary_key = None

    def _start_summary(self, attrs: Node) -> None:
        if "summary" in self._context() and not self.has_content:
            self.summary_key = "content"
            self._start_content(attrs)
        else:
            self.summary_key = "summary"
            self._push_content("summary", attrs, "text/plain", 1)

    def _end_summary(self) -> None:
        if self.summary_key == "content":
            self._end_content()
        else:
            self._pop_content(self.summary_key or "summary")
        self.summary_key = None

    def _start_content(self, attrs: Node) -> None:
        self.has_content = 1
        self._push_content("content", attrs, "text/plain", 1)
        if attrs.get("src"):
            self.contentparams["src"] = attrs["src"]
        self._push("content", 1)  # feedparser pushes twice; the first entry stays behind

    def _start_content_encoded(self, attrs: Node) -> None:
        self.has_content = 1
        self._push_content("content", attrs, "text/html", 1)

    def _end_content(self) -> None:
        content_type = self.contentparams.get("type")
        if content_type is None:
            raise Decline("content end without content")
        value = self._pop_content("content")
        if content_type in TEXT_TYPES:
            self._save("summary", value)

    def _start_link(self, attrs: Node) -> None:
        attrs = dict(attrs)
        attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
        context = self._context()
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            attrs["href"] = href
        if "href" in attrs:
            attrs["href"] = _joined(self.base or "", attrs["href"])
        if not (self.inentry and self.inimage):
            context["_links"] = context.get("_links", 0) + 1
        if "href" not in attrs:
            self._push("link", self.infeed or self.inentry or self.insource)
        elif attrs["rel"] == "alternate" and (
            _FeedParserMixin.map_content_type(attrs["type"]) in HTML_TYPES
        ):
            context["link"] = attrs["href"]

    def _start_guid(self, attrs: Node) -> None:
        self.guidislink = attrs.get("ispermalink", "true") == "true"
        self._push("id", 1)

    def _end_guid(self) -> None:
        value = self._pop("id")
        self._save("guidislink", self.guidislink and "link" not in self._context())
        if self.guidislink:
            self._save("link", value)

    def _end_language(self) -> None:
        self.lang = self._pop("language")

    def _end_date(self, name: str) -> None:
        value = self._pop(name)
        context = self._context()
        if self.inentry and context is self.entries[-1]:  # feed-level dates are not read
            context[f"{name}_parsed"] = _parsed_date(value) if value else None

    def _start_category(self, attrs: Node) -> None:
        scheme = attrs.get("scheme", attrs.get("domain"))
        self._add_tag(attrs.get("term"), scheme, attrs.get("label"))
        self._push("category", 1)

    def _start_media_category(self, attrs: Node) -> None:
        attrs.setdefault("scheme", "http://search.yahoo.com/mrss/category_schema")
        self._start_category(attrs)

    def _start_itunes_category(self, attrs: Node) -> None:
        self._add_tag(attrs.get("text"), "http://www.itunes.com/", None)
        self._push("category", 1)

    def _end_category(self) -> None:
        value = self._pop("category")
        if not value:
            return
        tags = self._context().get("tags")
        if tags is None:
            raise Decline("category end without tags")
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._add_tag(value, None, None)

    def _end_keywords(self, element: str, scheme: str | None) -> None:
        value = self._pop(element)
        if value is None:  # feedparser's AttributeError, swallowed
            return
        for term in value.split(","):
            if term.strip() or element == "tags":
                self._add_tag(term.strip(), scheme, None)

    def _add_tag(self, term: str | None, scheme: str | None, label: str | None) -> None:
        tags = self._context().setdefault("tags", [])
        if not term and not scheme and not label:
            return
        value = {"term": term, "scheme": scheme, "label": label}
        if value not in tags:
            tags.append(value)

    def _start_enclosure(self, attrs: Node) -> None:
        context = self._context()
        context["_links"] = context.get("_links", 0) + 1

    def _start_source(self, attrs: Node) -> None:
        self._push("source", 1)
        self.insource = 1
        self.title_depth = -1

    def _end_source(self) -> None:
        self.insource = 0
        self._pop("source")
        self._context()["source"] = dict(self.sourcedata)
        self.sourcedata.clear()

    def _end_number(self, element: str) -> None:
        if self._pop(element) is None:
            raise Decline("feedparser fails on int(None)")

    def _start_itunes_image(self, attrs: Node) -> None:
        self._push("itunes_image", 0)
        if attrs.get("href") or attrs.get("url"):
            self._context()["image"] = {"href": attrs.get("href") or attrs.get("url")}


def _attributes(items: list[tuple[str, str]]) -> Node:
    """Attributes as feedparser's strict parser names them (with each local name too)."""
    named: Node = {}
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


@functools.lru_cache(maxsize=4096)
def _parsed_date(value: str) -> time.struct_time | None:
    """feedparser's `_parse_date`, remembered: an entry's dates often repeat (published and
    updated), and so do a feed's items from one poll to the next."""
    parsed: time.struct_time | None = _parse_date(value)
    return parsed


@functools.lru_cache(maxsize=4096)
def _joined(base: str, url: str) -> str:
    """feedparser's `_urljoin`, remembered: ids and links repeat, within a feed and across polls."""
    joined: str = _urljoin(base, url)
    return joined


@functools.lru_cache(maxsize=4096)
def _safe_uri(base: str, url: str | None = None) -> str:
    """feedparser's `make_safe_absolute_uri`, remembered."""
    safe: str = make_safe_absolute_uri(base, url)
    return safe


def _next_base(base: str, declared: str | None) -> str:
    """feedparser's baseuri after a start tag that declares `declared` (xml:base) or nothing."""
    value = declared or base
    if base:
        return make_safe_absolute_uri(base, value) or base
    return _urljoin(base, value)  # type: ignore[no-any-return]


def _as_feedparser_text(text: str) -> str:
    """feedparser's last steps on every value: undo UTF-8 read as Latin-1, map C1 to cp1252."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252) if C1_CONTROL.search(text) else text


# ---- HTML in text constructs ------------------------------------------------------------------
# feedparser runs two sgmllib passes over HTML values: RelativeURIResolver (absolute URLs,
# attributes sorted and re-quoted), then _HTMLSanitizer (unsafe elements and attributes
# dropped). `clean_html` does both in one scan for markup whose tokens it can read exactly as
# sgmllib does, and calls feedparser's own passes for the rest (comments, scripts, SVG, ...).
BANG = re.compile(r"<!((?!DOCTYPE|--|\[))", re.IGNORECASE)
SHORT_TAG = re.compile(r"<([^<>\s]+?)\s*/>")
MARKUP_OR_REFERENCE = re.compile(r"[<&]")
UNQUOTED = r"[-a-zA-Z0-9./:_%#?=&;+,~@!$*()]+"  # a subset of sgmllib's attrfind
ATTRIBUTE = rf"""\s+([a-zA-Z_][-:.a-zA-Z_0-9]*)(?:\s*=\s*("[^"<>]*"|'[^'<>]*'|{UNQUOTED}))?"""
START_TAG = re.compile(rf"<([a-zA-Z][a-zA-Z0-9]*)((?:{ATTRIBUTE})*)\s*/?>")
ATTRIBUTES = re.compile(ATTRIBUTE)
END_TAG = re.compile(r"</([a-zA-Z][a-zA-Z0-9]*)\s*>")
COMMENT_CLOSE = re.compile(r"--\s*>")
CHARREF = re.compile(r"&#([0-9]+|[xX][0-9a-fA-F]+);")
ENTITYREF = re.compile(r"&([a-zA-Z][-.a-zA-Z0-9]*)[^a-zA-Z0-9]")
ENTITY_OR_CHARREF = re.compile(r"&(?:([a-zA-Z][-.a-zA-Z0-9]*)|#([0-9]+))(;?)")
BARE_AMPERSAND = re.compile(r"&(?!#\d+;|#x[0-9a-fA-F]+;|\w+;)")
LITERAL_LT_BEFORE = frozenset(" \t\n\r\f\v0123456789=-")  # "<" then one of these is text
VOID_ELEMENTS = frozenset(_HTMLSanitizer.elements_no_end_tag)
ACCEPTABLE_ELEMENTS = frozenset(_HTMLSanitizer.acceptable_elements)
ACCEPTABLE_ATTRIBUTES = frozenset(_HTMLSanitizer.acceptable_attributes)
REFUSED_ELEMENTS = frozenset({*_HTMLSanitizer.unacceptable_elements_with_end_tag, "svg", "math"})
RELATIVE_URIS = frozenset(RelativeURIResolver.relative_uris)
STYLE_SANITIZER = _HTMLSanitizer("utf-8", "text/html")


def clean_html(markup: str, base: str, content_type: str) -> str:
    """feedparser's `resolve_relative_uris` then `_sanitize_html` of an HTML value."""
    if "<" not in markup and "&" not in markup:
        return markup.strip().replace("\r\n", "\n")
    cleaned = _clean_simple_html(markup, base)
    if cleaned is None:
        resolved = resolve_relative_uris(markup, base, "utf-8", content_type)
        sanitized: str = _sanitize_html(resolved, "utf-8", content_type)
        return sanitized
    return cleaned.strip().replace("\r\n", "\n")


def _clean_simple_html(markup: str, base: str) -> str | None:
    """Both passes in one scan; None for markup outside the subset read here."""
    text = BANG.sub(r"&lt;!\1", markup) if "<!" in markup else markup
    text = SHORT_TAG.sub(_short_tag, text) if "/>" in text else text
    if "&#3" in text:
        text = text.replace("&#39;", "'").replace("&#34;", '"')
    pieces: list[str] = []
    pos, length = 0, len(text)
    while pos < length:
        found = MARKUP_OR_REFERENCE.search(text, pos)
        if found is None:
            pieces.append(text[pos:])
            break
        start = found.start()
        if start > pos:
            pieces.append(text[pos:start])
        if text[start] == "&":
            pos = _reference(text, start, pieces)
        else:
            pos = _markup(text, start, pieces, base)
            if pos < 0:
                return None
    return "".join(pieces)


def _short_tag(match: re.Match[str]) -> str:
    tag = match.group(1)
    return f"<{tag} />" if tag in VOID_ELEMENTS else f"<{tag}></{tag}>"


def _reference(text: str, start: int, pieces: list[str]) -> int:
    """sgmllib's reading of "&" and what _BaseHTMLProcessor writes for it."""
    found = CHARREF.match(text, start)
    if found:
        ref = found.group(1).lower()
        value = int(ref[1:], 16) if ref[0] == "x" else int(ref)
        if value in _cp1252:
            pieces.append(f"&#{hex(ord(_cp1252[value]))[1:]};")
        else:
            pieces.append(f"&#{ref};")
        return found.end()
    found = ENTITYREF.match(text, start)
    if found:
        name = found.group(1)
        known = name in name2codepoint or name == "apos"
        pieces.append(f"&{name};" if known else f"&amp;{name}")
        end = found.end()
        return end if text[end - 1] == ";" else end - 1
    pieces.append("&")  # sgmllib's "incomplete" reference: kept as text
    return start + 1


def _markup(text: str, start: int, pieces: list[str], base: str) -> int:
    """A tag at `start`: its cleaned form appended; the position after it, or -1 to give up."""
    following = text[start + 1 : start + 2]
    if not following or following in LITERAL_LT_BEFORE:
        pieces.append("<")
        return start + 1
    if following == "!":
        return _comment(text, start, pieces)
    if following == "/":
        return _end_tag(text, start, pieces)
    return _start_tag(text, start, pieces, base)


def _end_tag(text: str, start: int, pieces: list[str]) -> int:
    found = END_TAG.match(text, start)
    if found is None:
        return -1
    tag = found.group(1).lower()
    if tag in VOID_ELEMENTS or tag in REFUSED_ELEMENTS:
        return -1  # the first pass drops a void end tag: text on each side would meet
    if tag in ACCEPTABLE_ELEMENTS:
        pieces.append(f"</{tag}>")
    return found.end()


def _start_tag(text: str, start: int, pieces: list[str], base: str) -> int:
    found = START_TAG.match(text, start)
    if found is None:
        return -1
    cleaned = _cleaned_start_tag(found.group(), base)
    if cleaned is None:
        return -1
    pieces.append(cleaned)
    return found.end()


@functools.lru_cache(maxsize=8192)
def _cleaned_start_tag(source: str, base: str) -> str | None:
    """What the two passes make of one start tag ("" when dropped); remembered, as tags repeat."""
    found = START_TAG.match(source)
    assert found is not None
    tag = found.group(1).lower()
    if tag in REFUSED_ELEMENTS:
        return None
    if tag not in ACCEPTABLE_ELEMENTS:
        return ""  # dropped, its content kept
    attributes = _sanitized_attributes(_resolved_attributes(tag, found.group(2), base))
    if attributes is None:
        return None
    return f"<{tag}{attributes} />" if tag in VOID_ELEMENTS else f"<{tag}{attributes}>"


def _comment(text: str, start: int, pieces: list[str]) -> int:
    """A closed comment is kept by both passes (`<!--x-- >` written as `<!--x-->`)."""
    if not text.startswith("<!--", start):
        return -1
    close = COMMENT_CLOSE.search(text, start + 4)
    if close is None:
        return -1
    comment = text[start + 4 : close.start()]
    if "<![CDATA[" in comment:
        return -1  # _sanitize_html escapes that even inside a comment
    pieces.append(f"<!--{comment}-->")
    return close.end()


def _resolved_attributes(tag: str, source: str, base: str) -> list[tuple[str, str]]:
    """The first pass: sgmllib's attribute values, sorted, URLs made absolute, then escaped."""
    named: dict[str, str] = {}
    for found in ATTRIBUTES.finditer(source):
        name, value = found.group(1), found.group(2)
        if value is None:
            value = name
        else:
            if value[:1] in ("'", '"') and value[:1] == value[-1:]:
                value = value[1:-1]
            if "&" in value:
                value = ENTITY_OR_CHARREF.sub(_convert_reference, value)
        named[name.lower()] = value
    attributes = sorted(
        (key, value.lower() if key in ("rel", "type") and value else value)
        for key, value in named.items()
    )
    return [
        (
            key,
            _escape_attribute(
                ((tag, key) in RELATIVE_URIS and _safe_uri(base, value.strip())) or value
            ),
        )
        for key, value in attributes
    ]


def _sanitized_attributes(attributes: list[tuple[str, str]]) -> str | None:
    """The second pass over the first one's output: only acceptable attributes, safe URLs."""
    written: list[str] = []
    for key, escaped in attributes:
        if "&#34;" in escaped:
            return None  # the second pass would read a quote inside the value
        value = escaped.replace("&#39;", "'")
        if "&" in value:
            value = ENTITY_OR_CHARREF.sub(_convert_reference, value)
        if key == "style":
            value = STYLE_SANITIZER.sanitize_style(value)
            if not value:
                continue
        elif key not in ACCEPTABLE_ATTRIBUTES:
            continue
        elif key == "href":
            value = _safe_uri(value)
        written.append(f' {key}="{_escape_attribute(value)}"')
    return "".join(written)


def _convert_reference(found: re.Match[str]) -> str:
    """sgmllib's `_convert_ref` as _BaseHTMLProcessor configures it."""
    if found.group(2):
        return f"&#{found.group(2)};"
    if found.group(3):
        return f"&{found.group(1)};"
    return f"&{found.group(1)}"


def _escape_attribute(value: str) -> str:
    value = value.replace(">", "&gt;").replace("<", "&lt;").replace('"', "&quot;")
    return BARE_AMPERSAND.sub("&amp;", value) if "&" in value else value
