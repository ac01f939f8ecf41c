"""`parse_feed`: a fetched body of any supported format into a `ParsedFeed`.

It loads lxml and feedparser, which the daemon's own process needs only when it parses in a
thread (`offload.py`); the package imports this module on the first use of `parse_feed`.
"""

from __future__ import annotations

from monitor.errors import ParseError
from monitor.models import ParsedFeed
from monitor.parse.entities import refuse_entity_expansion
from monitor.parse.incremental import parse_with_memo
from monitor.parse.jsonfeed import is_json_feed, parse_json_feed
from monitor.parse.syndication import parse_syndication

__all__ = ["parse_feed"]


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
    # Before any parser: feedparser's loose fallback expands declared entities unbounded. This
    # check, linear and allocating nothing in proportion to the expansion, is also part of what
    # keeps the thread that parses the first small bodies in the daemon's own process, where no
    # memory limit holds, safe (`offload._inline_safe`).
    refuse_entity_expansion(body, feed_id=feed_id, url=url)
    try:
        fast = parse_with_memo(body, feed_id=feed_id, url=url, content_type=content_type, memo=memo)
    except MemoryError:  # the worker's memory limit: feedparser would need more
        raise
    except Exception:  # a fast-path bug on odd input must not lose a feed that feedparser reads
        fast = None
    if fast is not None:
        return fast
    return parse_syndication(body, feed_id=feed_id, url=url, content_type=content_type)
