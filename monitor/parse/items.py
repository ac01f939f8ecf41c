"""A feed document's items as raw bytes: where each RSS item or Atom entry starts and ends,
found by one scan that skips CDATA sections, comments and processing instructions (in well-formed
XML a literal `<item` can only hide in those), and a digest of each (`incremental.py`)."""

from __future__ import annotations

import hashlib
import itertools
import re
from bisect import bisect_right
from dataclasses import dataclass

from monitor.parse.fast import FIRST_ELEMENT

DIGEST_SIZE = 8
ATOM_ROOT = re.compile(rb"<feed[\s>/]")


def _item_scanner(tag: bytes) -> re.Pattern[bytes]:
    """The start of markup that may hide a tag (group 1 None: CDATA, comment, processing
    instruction), or the tag's start (group 1 "") or end ("/")."""
    return re.compile(rb"<(?:!\[CDATA\[|!--|\?|(/?)" + tag + rb"(?=[\s>/]))")


ITEM_SCAN = _item_scanner(b"item")
ENTRY_SCAN = _item_scanner(b"entry")
HIDING_ENDS = {b"![": b"]]>", b"!-": b"-->", b"?": b"?>"}  # by the bytes after "<"
START_TAG_REST = re.compile(rb"""(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""")
END_TAG_REST = re.compile(rb"\s*>")
ELEMENT_START = re.compile(rb"<[A-Za-z_]")
QUESTION = ord("?")


def digest(data: bytes) -> bytes:
    """The 8-byte digest the memo keeps of an item's bytes or its article's key."""
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest()


@dataclass(frozen=True, slots=True)
class Items:
    """A document's top-level items: their byte spans, one contiguous run, and their digests."""

    document: bytes
    spans: list[tuple[int, int]]
    digests: list[bytes]

    def reduced(self, kept: list[int]) -> bytes:
        """The document with only the `kept` items (indices, ascending), each with the
        whitespace that follows it."""
        document, spans = self.document, self.spans
        last = len(spans) - 1
        parts = [document[: spans[0][0]]]
        for index in kept:
            end = spans[index + 1][0] if index < last else spans[index][1]
            parts.append(document[spans[index][0] : end])
        parts.append(document[spans[-1][1] :])
        return b"".join(parts)

    @property
    def elements_follow(self) -> bool:
        """Whether an element follows the last item (which may read what items leave)."""
        return ELEMENT_START.search(self.document, self.spans[-1][1]) is not None


def split_items(document: bytes) -> Items | None:
    """The items of a gated document (`fast._xml_body`), or None when it cannot be read item by
    item (see the module docstring)."""
    first = FIRST_ELEMENT.search(document)
    if first is None:
        return None
    root_close = document.find(b">", first.start())
    if root_close < 0:
        return None
    scan = ENTRY_SCAN if ATOM_ROOT.match(document, first.start()) else ITEM_SCAN
    spans, hidden = _item_spans(document, scan, root_close)
    if not spans or _declares_namespace(document, spans[0][0], spans[-1][1], hidden):
        return None  # feedparser's namespace maps change at each declaration it meets
    for (_, end), (start, _) in itertools.pairwise(spans):
        if document[end:start].strip():
            return None
    return Items(document, spans, [digest(document[start:end]) for start, end in spans])


def _declares_namespace(document: bytes, start: int, end: int, hidden: list[int]) -> bool:
    """Whether `document[start:end]` has "xmlns" outside the CDATA sections, comments and
    processing instructions that `hidden` lists (flat: start, end, start, end, ...): the bytes
    of a namespace declaration, or text it cannot tell from one. An SVG in an item's CDATA
    content holds such bytes, which feedparser reads as text."""
    at = document.find(b"xmlns", start, end)
    while at >= 0:
        if bisect_right(hidden, at) % 2 == 0:  # not between a hiding start and its end
            return True
        at = document.find(b"xmlns", at + 1, end)
    return False


def _item_spans(
    document: bytes, scan: re.Pattern[bytes], start: int
) -> tuple[list[tuple[int, int]], list[int]]:
    """(start, end) of each item, none nested, empty when the tags are odd; and where the CDATA
    sections, comments and processing instructions after `start` are (flat: start, end, ...)."""
    spans: list[tuple[int, int]] = []
    hidden: list[int] = []
    opened = -1
    position = start
    while (match := scan.search(document, position)) is not None:
        slash = match.group(1)
        if slash is None:  # skip to the end of the CDATA section, comment or PI
            at = match.start() + 1
            end = HIDING_ENDS[document[at : at + (1 if document[at] == QUESTION else 2)]]
            found = document.find(end, match.end())
            if found < 0:
                return [], []
            position = found + len(end)
            hidden += (match.start(), position)
        elif not slash:
            rest = START_TAG_REST.match(document, match.end())
            if opened >= 0 or rest is None or rest.group(1):
                return [], []  # nested, odd start tag, or <item/>
            opened, position = match.start(), rest.end()
        else:
            rest = END_TAG_REST.match(document, match.end())
            if opened < 0 or rest is None:
                return [], []
            spans.append((opened, rest.end()))
            opened, position = -1, rest.end()
    return ([], []) if opened >= 0 else (spans, hidden)
