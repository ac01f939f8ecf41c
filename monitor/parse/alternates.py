"""An HTML page where a feed was expected: whether a body is one, and the feeds it advertises.

A site names its feeds in its pages' heads with `<link rel="alternate" type="application/rss+xml"
href="...">` (RSS Autodiscovery; the same for Atom and JSON Feed), relative to the page's URL or
its `<base href>`. The page is attacker-controlled: only the head is read (up to HEAD_LIMIT
characters), and an href with control characters or too long to be a URL is dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

__all__ = ["FEED_TYPES", "advertised_feeds", "looks_like_html"]

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
HEAD_LIMIT = 1 << 20  # characters of the page read for its links
MAX_ADVERTISED = 20
MAX_HREF = 2048
CHUNK = 1 << 16

# After a BOM, blanks, an XML declaration and comments: a doctype of html, or an <html> tag.
_HTML_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:!doctype\s+html|html)[\s>]",
    re.IGNORECASE | re.DOTALL,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def looks_like_html(body: bytes, content_type: str | None = None) -> bool:
    """Whether a body is an HTML page: served as one, or starting as one does."""
    if content_type and content_type.split(";")[0].strip().lower() in HTML_TYPES:
        return True
    return _HTML_START.match(body[:4096]) is not None


def advertised_feeds(body: bytes, page_url: str | None = None) -> tuple[str, ...]:
    """The feed URLs an HTML page's alternate links name, in page order and without repeats,
    resolved against `page_url` and the page's `<base href>` (as written when neither is an
    http(s) URL, as for a saved page)."""
    finder = _LinkFinder()
    text = body.decode("utf-8", errors="replace")[:HEAD_LIMIT]
    for start in range(0, len(text), CHUNK):
        finder.feed(text[start : start + CHUNK])
        if finder.in_body:
            break
    base = page_url if page_url and _is_web(page_url) else None
    if finder.base is not None:
        base = urljoin(base, finder.base) if base else finder.base
    resolved = (urljoin(base, href) if base and _is_web(base) else href for href in finder.hrefs)
    return tuple(dict.fromkeys(resolved))[:MAX_ADVERTISED]


def _is_web(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")


class _LinkFinder(HTMLParser):
    """Collects the hrefs of feed alternate links and the first `<base href>`, until <body>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.base: str | None = None
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.in_body:
            return
        if tag == "body":
            self.in_body = True
            return
        values = {name: (value or "").strip() for name, value in attrs}
        href = values.get("href", "")
        if not href or len(href) > MAX_HREF or _CONTROL.search(href):
            return
        if tag == "base" and self.base is None:
            self.base = href
        elif tag == "link" and self._is_feed(values):
            self.hrefs.append(href)

    @staticmethod
    def _is_feed(values: dict[str, str]) -> bool:
        rel = values.get("rel", "").lower().split()
        media_type = values.get("type", "").split(";")[0].strip().lower()
        return "alternate" in rel and media_type in FEED_TYPES
