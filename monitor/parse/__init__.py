"""The parse stage: a fetched body into a `ParsedFeed` of normalised `Article`s.

`parse_feed` (`document.py`) detects the format and dispatches to `jsonfeed`, or for RSS and Atom
to `fast` (lxml) with `syndication` (feedparser) as the fallback for what the fast path declines;
`FeedParser` runs it in a process or thread pool, off the event loop. `alternates` tells an HTML
page from a feed and lists the feeds the page advertises. `parse_feed` is imported on
first use: a process that never parses (a `monitor once` where every feed is unchanged, the
daemon while its workers parse) does not load lxml and feedparser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.parse.alternates import advertised_feeds, looks_like_html
from monitor.parse.memo import memo_published
from monitor.parse.normalize import body_hash, canonical_url
from monitor.parse.offload import FeedParser

if TYPE_CHECKING:
    from monitor.parse.document import parse_feed

__all__ = [
    "FeedParser",
    "advertised_feeds",
    "body_hash",
    "canonical_url",
    "looks_like_html",
    "memo_published",
    "parse_feed",
]


def __getattr__(name: str) -> Any:
    if name == "parse_feed":
        from monitor.parse.document import parse_feed

        return parse_feed
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
