"""Incremental parsing: the items whose bytes are unchanged since the last parse are not parsed.

A changed feed usually differs from its last version by an item or two, yet a full parse reads
all of them (about 50), and the store then skips the unchanged ones by their content hash. So
`parse_with_memo` cuts each RSS item or Atom entry out of the document as raw bytes (`items.py`)
and remembers a digest of each in `ParsedFeed.item_memo` (`memo.py`).
Given the last parse's memo, the items whose digest it holds are cut out of the document before
lxml reads it; `articles` then holds the other items' articles only, and `skipped_items` counts
the items found in the memo. The memo also keeps, per item, a digest of its article's key (so a
new item repeating the key of an earlier unchanged one is dropped, as `unique_by_key` drops it
in a full parse) and its published time (`memo_published`, for the publishing rate).

An item's article depends on its own bytes and on a context; the memo is used only when the
document's context equals the memo's, otherwise the document is parsed whole. The context is:
the memo format, the feed URL (the base of links), the content type and the gate's encoding
warning, the reader's format version, the feed's language and (Atom) authors that every article
inherits, the root element's (and RSS 2.0 `channel`'s) attributes and namespaces, and the
reader's state where each item starts (`ItemReader.walk_state`: depth, open elements, xml:base
and xml:lang, namespaces, the flags feedparser's rules carry between elements). Why it suffices:

* the reader is a deterministic function of that state and the item's bytes, and every parse
  checks that each item starts in the same state and leaves the reader, and the feed's fields,
  as it found them (else no memo at all). So removing an item changes nothing for the items
  after it, nor for the feed's title, link, language and ttl, and an unchanged item read in the
  same state gives the same article as before;
* the first item is always read, even when unchanged (its article is then dropped): it checks
  the state the document's prefix leaves, which the memo's context must match;
* what follows the last item may read what items leave behind (feedparser's title depth and
  guid-is-link flags): when elements follow, those must be the same after every item too;
* documents where this reasoning does not hold are read whole, without a memo: nested items,
  `<item/>`, non-whitespace between items, namespace declarations after the root's start tag
  (feedparser's namespace maps change as it meets them), prefixed item tags, a DOCTYPE, or
  whatever the reader's item count does not confirm.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lxml import etree

from monitor.models import Article, ParsedFeed
from monitor.parse.fast import _xml_body, read_document
from monitor.parse.feed_reader import FeedReader
from monitor.parse.items import Items, digest, split_items
from monitor.parse.memo import MEMO_VERSION, Memo, MemoRow, micros
from monitor.parse.normalize import link_base
from monitor.parse.syndication import entry_articles, feed_defaults, parsed_feed
from monitor.parse.values import Node
from monitor.parse.walk import READ_ELEMENTS, Declarations


# ---- the reader, checking that items are independent ------------------------------------------
class ItemReader(FeedReader):
    """`FeedReader` that checks each item starts in the same state and leaves the reader (and
    the feed's fields) as it found it: `neutral` False otherwise.

    It reads documents whose items are one run separated by whitespace alone (`split_items`,
    and `_result` checks that the reader met as many items): so the feed's fields where an item
    starts are those the item before it left, and are snapshot once per item, at its end.
    """

    def __init__(self, base: str, declarations: Declarations) -> None:
        super().__init__(base, declarations)
        self.item_state: tuple[object, ...] | None = None
        self.neutral = True
        self.trails: set[tuple[int, bool]] = set()  # what items leave for what follows them
        self.leftovers: set[tuple[str, bool] | None] = set()  # the stack's top after items
        self._floor = -1  # the stack's length where the first item starts
        self._floor_top: tuple[str, bool, list[str]] | None = None
        self.root_info: tuple[object, ...] = ()
        self._feed_before: tuple[object, ...] | None = None  # the fields where the item starts

    def read(self, root: etree._Element) -> None:
        channel = root.find("channel") if root.tag == "rss" else None
        self.root_info = (
            root.tag,
            root.items(),
            tuple(root.nsmap.items()),
            channel.items() if channel is not None else None,
        )
        super().read(root)

    def walk_state(self) -> tuple[object, ...]:
        """What an item's reading may depend on, besides its bytes (what `_start_item` resets
        excepted).

        Not the stack below the item: the item's own entry shields it until `_end_item`. Items
        may leave entries behind (feedparser's `_start_content` pushes twice), which the next
        items never reach, and whose text nobody reads.
        """
        feed = self.feed
        return (
            self.depth,
            self.base,
            self.lang,
            self.version,
            self.infeed,
            self.inentry,
            self.incontent,
            self.inimage,
            self.intextinput,
            self.inauthor,
            self.incontributor,
            self.inpublisher,
            self.insource,
            self.has_content,
            self.summary_key,
            tuple(self.contentparams.items()),
            tuple(self.namespacemap.items()),
            tuple(self.namespaces_in_use.items()),
            "image" in feed,
            "textinput" in feed,
            bool(self.sourcedata),
        )

    def _feed_state(self) -> tuple[object, ...]:
        """The feed's fields an item could change (their reprs: some are mutable)."""
        get = self.feed.get
        return (
            len(self.feed),
            get("title"),
            get("link"),
            get("language"),
            get("author"),
            repr(get("ttl")),
            repr(get("authors")),
            repr(get("image")),
            repr(get("textinput")),
        )

    def _start_checked_item(self, attrs: Node) -> None:
        state = self.walk_state()
        if self.item_state is None:
            self.item_state = state
        elif state != self.item_state:
            self.neutral = False
        if self._floor < 0:
            stack = self.stack
            self._floor = len(stack)
            self._floor_top = stack[-1] if stack else None
            if any(entry[0] in READ_ELEMENTS for entry in stack):
                self.neutral = False  # the text between items, or the items' end, could matter
        if self._feed_before is None:
            self._feed_before = self._feed_state()
        FeedReader._start_item(self, attrs)

    def _end_checked_item(self) -> None:
        FeedReader._end_item(self)
        feed_after = self._feed_state()
        if self.walk_state() != self.item_state or feed_after != self._feed_before:
            self.neutral = False
        self._feed_before = feed_after
        stack, floor = self.stack, self._floor
        if len(stack) < floor or (floor and stack[floor - 1] is not self._floor_top):
            self.neutral = False  # the item popped what was below it
        self.leftovers.add(stack[-1][:2] if len(stack) > floor else None)
        self.trails.add((self.title_depth, self.guidislink))


ItemReader.starts = {**FeedReader.starts, "item": ItemReader._start_checked_item}
ItemReader.starts["entry"] = ItemReader._start_checked_item
ItemReader.ends = {**FeedReader.ends, "item": ItemReader._end_checked_item}
ItemReader.ends["entry"] = ItemReader._end_checked_item


@dataclass(frozen=True, slots=True)
class Request:
    """One parse's inputs, besides the document's items."""

    feed_id: str
    url: str
    content_type: str | None
    warning: str | None


def parse_with_memo(
    body: bytes,
    *,
    feed_id: str,
    url: str,
    content_type: str | None = None,
    memo: bytes | None = None,
) -> ParsedFeed | None:
    """`fast.parse_fast`'s result with `item_memo` set when the document can be read item by
    item; given the last parse's `memo`, with only the new items' articles. None where
    `parse_fast` declines (feedparser's turn)."""
    gated = _xml_body(body, content_type)
    if gated is None:
        return None
    document, warning = gated
    request = Request(feed_id, url, content_type, warning)
    items = split_items(document)
    if items is None:
        return _without_memo(document, request)
    remembered = Memo.decode(memo)
    parsed = _parse_new_items(items, request, remembered) if remembered is not None else None
    if parsed is not None:
        return parsed
    reader = read_document(document, url, ItemReader)
    if reader is None:
        return None
    every = list(range(len(items.spans)))
    return _result(reader, items, every, request) or _plain(reader, request)


def _parse_new_items(items: Items, request: Request, remembered: Memo) -> ParsedFeed | None:
    """The parse of the document without the items the memo holds (but the first, which
    checks the context); None when the memo cannot be used."""
    known = {row[0]: row for row in remembered.rows}
    count = len(items.spans)
    kept = [0] + [i for i in range(1, count) if items.digests[i] not in known]
    reduced = items.reduced(kept) if len(kept) < count else items.document
    reader = read_document(reduced, request.url, ItemReader)
    if reader is None:
        return None
    return _result(reader, items, kept, request, remembered=remembered, known=known)


def _result(
    reader: ItemReader,
    items: Items,
    kept: list[int],
    request: Request,
    *,
    remembered: Memo | None = None,
    known: dict[bytes, MemoRow] | None = None,
) -> ParsedFeed | None:
    """The ParsedFeed with its memo, from a reading of the `kept` items; None when the reading
    cannot be trusted item by item, or its context is not the memo's."""
    if not reader.neutral or len(reader.entries) != len(kept):
        return None
    if items.elements_follow and (len(reader.trails) > 1 or len(reader.leftovers) > 1):
        return None
    result = {"feed": reader.feed, "entries": reader.entries}
    context = _context(reader, result, items, request)
    if remembered is not None and context != remembered.context:
        return None
    base = link_base(request.url)
    read = entry_articles(result, reader.version, reader.entries, feed_id=request.feed_id, url=base)
    articles, rows, skipped = _merge(items, dict(zip(kept, read, strict=True)), known or {})
    feed = parsed_feed(
        result,
        reader.version,
        reader.entries,
        request.warning,
        feed_id=request.feed_id,
        url=base,
        articles=articles,
    )
    memo = Memo(context, rows).encode()
    return dataclasses.replace(feed, item_memo=memo, skipped_items=skipped)


def _merge(
    items: Items, read: dict[int, Article], known: dict[bytes, MemoRow]
) -> tuple[tuple[Article, ...], list[MemoRow], int]:
    """(the new items' articles, first of each key as in `unique_by_key`; the memo's rows; how
    many items the memo held)."""
    articles: list[Article] = []
    rows: list[MemoRow] = []
    seen_keys: set[str] = set()
    unread_keys: set[bytes] = set()  # key digests of the items not read
    skipped = 0
    for index, raw in enumerate(items.digests):
        article = read.get(index)
        old = known.get(raw)
        skipped += old is not None
        if article is None:
            assert old is not None  # only items in the memo are left unread
            unread_keys.add(old[1])
            rows.append(old)
            continue
        key = digest(article.key.encode("utf-8", "surrogatepass"))
        if old is None and article.key not in seen_keys and key not in unread_keys:
            articles.append(article)
        seen_keys.add(article.key)
        rows.append((raw, key, micros(article.published)))
    return tuple(articles), rows, skipped


def _context(reader: ItemReader, result: Node, items: Items, request: Request) -> bytes:
    """The digest of what every item's article depends on besides its bytes."""
    language, authors = feed_defaults(result, reader.version)
    trail = (*reader.trails, *reader.leftovers) if items.elements_follow else None
    text = repr(
        (
            MEMO_VERSION,
            request.url,
            request.content_type,
            request.warning,
            reader.version,
            language,
            authors,
            reader.root_info,
            reader.item_state,
            trail,
        )
    )
    return digest(text.encode("utf-8", "surrogatepass"))


def _plain(reader: FeedReader, request: Request) -> ParsedFeed:
    """The ParsedFeed of a whole reading, without a memo (as `fast.parse_fast` gives it)."""
    result = {"feed": reader.feed, "entries": reader.entries}
    return parsed_feed(
        result,
        reader.version,
        reader.entries,
        request.warning,
        feed_id=request.feed_id,
        url=link_base(request.url),
    )


def _without_memo(document: bytes, request: Request) -> ParsedFeed | None:
    reader = read_document(document, request.url, FeedReader)
    return _plain(reader, request) if reader is not None else None


__all__ = ["ItemReader", "parse_with_memo"]
