"""The parse stage: a fetched body into a `ParsedFeed` of normalised `Article`s.

`parse_feed` detects the format and dispatches to `jsonfeed`, or for RSS and Atom to `fast` (lxml)
with `syndication` (feedparser) as the fallback for what the fast path declines; `FeedParser` runs
it in a process or thread pool, off the event loop.
"""

from __future__ import annotations

from monitor.errors import ParseError
from monitor.models import ParsedFeed
from monitor.parse.incremental import parse_with_memo
from monitor.parse.jsonfeed import is_json_feed, parse_json_feed
from monitor.parse.memo import memo_published
from monitor.parse.normalize import body_hash, canonical_url
from monitor.parse.offload import FeedParser
from monitor.parse.syndication import parse_syndication

__all__ = ["FeedParser", "body_hash", "canonical_url", "memo_published", "parse_feed"]


def parse_feed(
    body: bytes,
    *,
    feed_id: str,
    url: str,
    content_type: str | None = None,
    memo: bytes | None = None,
) -> ParsedFeed:
    """Parse a feed document of any supported format. Pure and synchronous (run it in a worker).

    `url` is the feed's URL after redirects: the base for relative links. Raises
    `monitor.errors.ParseError` when the body is not a feed; a feed that needed repairs comes
    back with `ParsedFeed.warning` set.

    `memo`: the last parse's `ParsedFeed.item_memo` for this feed. The result carries the
    current document's memo when it can be read item by item, and with a memo, only the
    articles of items whose bytes are new (`monitor.parse.incremental`).
    """
    if not body or body.isspace():
        raise ParseError("empty body", feed_id=feed_id, url=url)
    if is_json_feed(body, content_type):
        return parse_json_feed(body, feed_id=feed_id, url=url)
    # The fast path declines documents with a DTD (so any with entities) before parsing them;
    # parse_syndication checks their expansion before feedparser runs.
    try:
        fast = parse_with_memo(body, feed_id=feed_id, url=url, content_type=content_type, memo=memo)
    except Exception:  # a fast-path bug on odd input must not lose a feed that feedparser reads
        fast = None
    if fast is not None:
        return fast
    return parse_syndication(body, feed_id=feed_id, url=url, content_type=content_type)
