"""feedparser's walk over a feed document, replayed on an lxml tree.

`ElementWalk` holds what feedparser's `_FeedParserMixin` keeps while it reads: the element
stack, namespaces, xml:base and xml:lang, and where a value is stored (`unknown_starttag`,
`push`, `pop`), quirks included. The element handlers are in `constructs.py` and `feed_reader.py`.
Each tag's dispatch is worked out once (`Spec`, shared by documents with the same namespaces),
not at every element.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

from feedparser.mixin import _FeedParserMixin
from lxml import etree

from monitor.parse.sanitize import clean_html
from monitor.parse.values import (
    MATCH_NAMESPACES,
    Node,
    as_feedparser_text,
    attributes,
    joined,
    next_base,
    without_semicolon,
)

Declarations = dict[etree._Element, list[tuple[str, str]]]

MAX_DEPTH = 64
NETSCAPE_RSS = "http://my.netscape.com/rdf/simple/0.9/"
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
UNSTORED_ELEMENTS = frozenset({"category", "tags", "itunes_keywords"})  # their end handlers do
LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
TEXTINPUT_KEEPERS = frozenset({"title", "link", "description", "name"})
IMAGE_KEEPERS = frozenset({"title", "link", "description", "url", "href", "width", "height"})


# Specs by namespace state (and walk class), shared by every walk: a feed's tags repeat, and so
# do its namespaces from one poll to the next. Specs hold no state of a walk.
SPECS: dict[tuple[object, ...], dict[object, Spec]] = {}
MAX_NAMESPACE_STATES = 256


class Decline(Exception):
    """The document has a feature that the fast path does not reproduce exactly."""


class Push(NamedTuple):
    """A start handler that only pushes an element (feedparser's `push(name, expecting)`)."""

    name: str
    expecting: bool


class Pop(NamedTuple):
    """An end handler that only pops an element, whose value it leaves where `pop` puts it."""

    name: str


Handler = Callable[[Any, Node], object]  # (the walk, the attributes)
EndHandler = Callable[[Any], object]
HandlerTable = list[tuple[str, Handler | Push | None, EndHandler | Pop | None]]


class Spec(NamedTuple):
    """What the walk does at one tag's start and end, for the namespaces then in force."""

    name: str  # feedparser's element name ("dc:creator")
    key: str  # its handler name ("dc_creator")
    keeps_textinput: int  # 0: a core element that ends feedparser's intextinput (else 1)
    keeps_image: int  # likewise for inimage: its hack for empty elements
    start: Handler | None  # None: push `push`, if any
    push: str
    expecting: bool
    end: EndHandler


class ElementWalk:
    """feedparser's state while it reads a document; `elements.FeedReader` adds the handlers."""

    def __init__(self, base: str, declarations: Declarations) -> None:
        self.base = base  # feedparser's baseuri: the Content-Location it is given
        self.lang: str | None = None
        self.version = ""
        self.feed: Node = {}
        self.entries: list[Node] = []
        self.depths: list[dict[str, int]] = []  # feedparser's property_depth_map, per entry
        self.sourcedata: Node = {}
        self.contentparams: Node = {}
        self.stack: list[tuple[str, bool, list[str]]] = []
        self.infeed = self.inentry = self.incontent = self.inimage = self.intextinput = 0
        self.inauthor = self.incontributor = self.inpublisher = self.insource = 0
        self.summary_key: str | None = None
        self.title_depth = -1
        self.depth = 0
        self.has_content = 0
        self.guidislink = False
        self.namespacemap: dict[str | None, str] = {}
        self.namespaces_in_use: dict[str, str] = {}
        self.declarations = declarations
        self.specs = self._specs_for_namespaces()

    # feedparser's `_start_*` and `_end_*` by name, for each subclass (see `set_handlers`).
    starts: ClassVar[dict[str, Handler | Push]] = {}
    ends: ClassVar[dict[str, EndHandler | Pop]] = {}

    @classmethod
    def set_handlers(cls, table: HandlerTable) -> None:
        """(space-separated handler names, start, end) as the class's handlers."""
        cls.starts, cls.ends = {}, {}
        for names, start, end in table:
            for name in names.split():
                if start is not None:
                    cls.starts[name] = start
                if end is not None:
                    cls.ends[name] = end

    # ---- the walk ---------------------------------------------------------------------------
    def read(self, root: etree._Element) -> None:
        declared = self.declarations.get(root)
        if declared is not None:
            self._declare(declared)
            self.declarations = {e: d for e, d in self.declarations.items() if e is not root}
        self._walk(root, self.base, None)

    def _walk(self, element: etree._Element, parent_base: str, parent_lang: str | None) -> None:
        """feedparser's SAX events for `element`: start, text (to the open entry), children, end.

        `parent_base` and `parent_lang` are what feedparser's basestack and langstack restore
        when the element ends.
        """
        if self.declarations and element in self.declarations:
            self._declare(self.declarations[element])
        tag: object = element.tag  # a function for comments and processing instructions
        spec = self.specs.get(tag) or self._spec(tag)  # `specs` is shared: one lookup per tag
        if spec is None:
            return
        name, _, keeps_textinput, keeps_image, start, push, expecting, end = spec
        depth = self.depth = self.depth + 1
        if depth > MAX_DEPTH or self.incontent:
            raise Decline("too deep, or markup inside a text construct")  # feedparser: XHTML
        items = element.items()
        if items or depth == 1:
            attrs = attributes(items) if items else {}  # type: ignore[arg-type]
            lang = self._enter(attrs, name, depth)
        else:
            attrs, lang = {}, self.lang
        self.lang = lang
        base = self.base
        self.intextinput *= keeps_textinput
        self.inimage *= keeps_image
        stack = self.stack
        if start is not None:
            start(self, attrs)
        elif push:
            stack.append((push, expecting, []))
        text = element.text
        if text and stack:
            stack[-1][2].append(text)
        for child in element if len(element) else ():  # (len: cheaper than an empty iterator)
            self._walk(child, base, lang)
            text = child.tail
            if text and stack:
                stack[-1][2].append(text)
        end(self)
        if depth > 1:
            self.base = parent_base or self.base
            self.lang = parent_lang
        self.depth = depth - 1

    def _enter(self, attrs: Node, name: str, depth: int) -> str | None:
        """feedparser's `unknown_starttag` for xml:base and xml:lang; the element's language."""
        if depth == 1 or "xml:base" in attrs or "base" in attrs:
            self._set_base(attrs)
        lang: str | None = attrs.get("xml:lang", attrs.get("lang"))
        if lang is None:
            lang = self.lang
        elif not lang:
            lang = None
        if lang and name in ("feed", "rss"):
            self.feed["language"] = lang.replace("_", "-")
        return lang

    def _spec(self, tag: object) -> Spec | None:
        """The dispatch of `tag` under the namespaces in force (kept in `specs`); None for a
        comment or processing instruction."""
        if tag is etree.Comment or tag is etree.PI:
            return None
        if not isinstance(tag, str):
            raise Decline("entity reference")
        name, key, core = self._tag_name(tag)
        start, end = self.starts.get(key), self.ends.get(key)
        if start is None:
            if "_start_" + key in FEEDPARSER_HANDLERS:
                raise Decline(f"feedparser handles <{name}> in a way not ported here")
            if key in READ_KEYS:
                raise Decline(f"unknown element <{name}> named like a field")
            start = _unknown_start(key)
        if end is None and "_end_" + key in FEEDPARSER_HANDLERS:
            raise Decline(f"feedparser handles </{name}> in a way not ported here")
        push = start if isinstance(start, Push) else Push("", False)
        if end is None or isinstance(end, Pop):
            end = _generic_end(key if end is None else end.name)
        spec = Spec(
            name=name,
            key=key,
            keeps_textinput=int(not core or name in TEXTINPUT_KEEPERS),
            keeps_image=int(not core or name in IMAGE_KEEPERS),
            start=None if isinstance(start, Push) else start,
            push=push.name,
            expecting=push.expecting,
            end=end,
        )
        self.specs[tag] = spec
        return spec

    def _specs_for_namespaces(self) -> dict[object, Spec]:
        """The specs worked out so far, by any walk, under the namespaces now in force."""
        key = (type(self), *self.namespacemap.items(), None, *self.namespaces_in_use.items())
        specs = SPECS.get(key)
        if specs is None:
            if len(SPECS) >= MAX_NAMESPACE_STATES:
                SPECS.clear()
            specs = SPECS[key] = {}
        return specs

    def _declare(self, declared: list[tuple[str, str]]) -> None:
        for prefix, uri in declared:
            if uri:  # xmlns="" undeclares: feedparser ignores it
                self._track_namespace(prefix or None, uri)
        self.specs = self._specs_for_namespaces()

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
        return name, key, not head

    def _set_base(self, attrs: Node) -> None:
        """feedparser recomputes the base at every element; it must not change unless declared."""
        self.base = next_base(self.base, attrs.get("xml:base", attrs.get("base")))
        if next_base(self.base, None) != self.base:
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
        stack = self.stack
        if not stack or stack[-1][0] != element:
            return None
        _, expecting_text, pieces = stack.pop()
        output = "".join(pieces)
        if strip:
            output = output.strip()
        if not expecting_text or element not in READ_ELEMENTS:
            return output  # where feedparser would store it, syndication never reads
        params = self.contentparams
        if element in CAN_BE_RELATIVE_URI and output and (element != "id" or self.guidislink):
            output = joined(self.base or "", output)
        if (
            params
            and params.get("type") == "text/plain"
            and ("<" in output or "&" in output)
            and not self.version.startswith("atom")
            and _FeedParserMixin.looks_like_html(output)
        ):
            params["type"] = "text/html"
        if element in MARKUP_ELEMENTS and params.get("type", "text/html") in HTML_TYPES:
            output = clean_html(output, self.base, params.get("type", "text/html"))
        if not output.isascii():
            output = as_feedparser_text(output)
        if element in UNSTORED_ELEMENTS:
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
                if "&" in output:
                    output = LINK_ENTITY.sub(without_semicolon, output)
                context["link"] = output
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
                output = LINK_ENTITY.sub(without_semicolon, output.replace("&amp;", "&"))
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


def _unknown_start(key: str) -> Handler:
    """feedparser keeps an unknown element under its own name (an attribute-only one not)."""

    def start(walk: ElementWalk, attrs: Node) -> None:
        if not attrs:
            walk.stack.append((key, True, []))
        elif key == "ttl":
            walk._context()["ttl"] = attrs

    return start


def _generic_end(element: str) -> EndHandler:
    """feedparser's `pop` of `element`; just the stack entry dropped when syndication never
    reads the value."""
    if element in READ_ELEMENTS:
        return lambda walk: walk._pop(element)

    def drop(walk: ElementWalk) -> None:
        stack = walk.stack
        if stack and stack[-1][0] == element:
            stack.pop()

    return drop
