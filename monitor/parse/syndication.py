"""RSS 0.9x/1.0/2.0 and Atom documents into Articles, through feedparser.

feedparser detects the encoding and recovers from malformed XML. Before it runs, this module
picks the Content-Type it is told (valid UTF-8 is read as UTF-8 whatever the labels say, as
miniflux does); documents whose declared entities would expand are refused (`entities.py`).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.errors import ParseError
from monitor.models import Article, ParsedFeed
from monitor.parse.alternates import advertised_feeds, looks_like_html
from monitor.parse.caps import CAPS, capped_text, capped_url
from monitor.parse.entities import ascii_compatible, refuse_entity_expansion
from monitor.parse.normalize import (
    build_article,
    collapse_whitespace,
    datetime_from_struct,
    html_to_text,
    link_base,
    unique_by_key,
    unique_names,
)
from monitor.redact import redact_url  # a leaf, as for errors.py: the page's links may hold tokens

XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")
CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
MAX_WARNING_LENGTH = 300
# Year/month/day with slashes, no time zone (taken as UTC).
SLASHED_DATE = re.compile(
    r"\s*(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)

Node = dict[str, Any]  # a FeedParserDict


def _get(node: Node | None, key: str, default: Any = None) -> Any:
    """Plain dict lookup: FeedParserDict's own maps `updated` to `published`, with a warning."""
    return dict.get(node, key, default) if node is not None else default


_dict_get = dict.get  # the same, where the node is known (a C call, no Python frame)


def parse_syndication(
    body: bytes, *, feed_id: str, url: str, content_type: str | None
) -> ParsedFeed:
    """Parse an RSS or Atom document; ParseError when feedparser finds no feed in it."""
    refuse_entity_expansion(body, feed_id=feed_id, url=url)  # parse_feed did: for direct calls
    ascii_view = ascii_compatible(body)
    headers = {
        "content-type": _content_type_for(body, ascii_view, content_type),
        "content-location": link_base(url),
    }
    try:
        result = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            resolve_relative_uris=True,
            sanitize_html=True,
        )
    except MemoryError:  # the worker's memory limit (`offload.py`), not a feedparser bug
        raise
    except Exception as exc:  # a feedparser bug on hostile input; never fatal to the caller
        raise ParseError("feedparser failed", feed_id=feed_id, url=url) from exc
    version: str = _get(result, "version") or ""
    entries: list[Any] = _get(result, "entries") or []
    warning = _warning(result)
    if not version and not entries:
        raise ParseError(_not_a_feed(body, url, content_type, warning), feed_id=feed_id, url=url)
    return parsed_feed(result, version, entries, warning, feed_id=feed_id, url=link_base(url))


def _not_a_feed(body: bytes, url: str, content_type: str | None, warning: str | None) -> str:
    """Why the body is no feed: for an HTML page (a site's home page given as the feed's URL, or
    an error page), the feeds it advertises, one of which is most likely what was meant."""
    if not looks_like_html(body, content_type):
        return f"not a feed: {warning or 'no feed element'}"
    feeds = [redact_url(feed) for feed in advertised_feeds(body, url)]
    if feeds:
        return f"an HTML page, not a feed; it advertises: {', '.join(feeds)}"
    return "an HTML page, not a feed, and it advertises none"


def parsed_feed(
    result: Node,
    version: str,
    entries: list[Any],
    warning: str | None,
    *,
    feed_id: str,
    url: str,
    articles: tuple[Article, ...] | None = None,
) -> ParsedFeed:
    """A feed's fields and entries, in feedparser's shapes, as the `ParsedFeed` model: shared by
    the feedparser path and the lxml fast path (`fast.py`), so both build articles alike.

    `articles`: the articles already built (`incremental.py`, from `entry_articles`), in place
    of `entries`'.
    """
    if articles is None:
        articles = unique_by_key(entry_articles(result, version, entries, feed_id=feed_id, url=url))
    feed: Node = _get(result, "feed") or {}
    return ParsedFeed(
        format=version or "unknown",
        title=capped_text(_text(feed, "title", "title_detail"), CAPS.title),
        link=capped_url(_get(feed, "link") or None),
        language=_language(feed),
        articles=articles,
        ttl_seconds=_ttl_seconds(_get(feed, "ttl")),
        warning=warning,
    )


def feed_defaults(result: Node, version: str) -> tuple[str | None, tuple[str, ...]]:
    """(language, authors) of the feed, which every article without its own inherits."""
    feed: Node = _get(result, "feed") or {}
    return _language(feed), _authors(feed) if version.startswith("atom") else ()


def entry_articles(
    result: Node, version: str, entries: list[Any], *, feed_id: str, url: str
) -> Iterator[Article]:
    """One article per entry, in order, repeated keys included."""
    language, feed_authors = feed_defaults(result, version)
    for entry in entries:
        yield _article(
            entry, feed_id=feed_id, url=url, language=language, feed_authors=feed_authors
        )


def _article(
    entry: Node,
    *,
    feed_id: str,
    url: str,
    language: str | None,
    feed_authors: tuple[str, ...],
) -> Article:
    get = _dict_get
    summary, summary_text = _html_and_text(get(entry, "summary_detail"), entry, "summary")
    content, content_text = _html_and_text(_first_content(get(entry, "content")))
    tags = get(entry, "tags")
    return build_article(
        feed_id=feed_id,
        feed_url=url,
        guid=get(entry, "id"),
        link=get(entry, "link"),
        title=_text(entry, "title", "title_detail"),
        summary=summary,
        content=content,
        summary_text=summary_text,
        content_text=content_text,
        authors=_authors(entry) or feed_authors,
        tags=unique_names(get(tag, "term") or get(tag, "label") for tag in tags) if tags else (),
        published=_date(entry, "published", "published_parsed"),
        updated=_date(entry, "updated", "updated_parsed"),
        language=_detail_language(entry) or language,
    )


def _date(entry: Node, name: str, parsed: str) -> datetime | None:
    """feedparser's parsed date, except for "2020/1/10 14:33:00", which it reads as 1 November."""
    raw = _dict_get(entry, name)
    slashed = SLASHED_DATE.match(raw) if raw and isinstance(raw, str) else None
    if slashed is None:
        return datetime_from_struct(_dict_get(entry, parsed))
    year, month, day, hour, minute, second = (int(part or 0) for part in slashed.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _is_html(detail: Node | None) -> bool:
    """feedparser types text as text/plain, text/html or application/xhtml+xml."""
    return detail is None or "html" in (_get(detail, "type") or "text/html")


def _text(node: Node, name: str, detail: str) -> str:
    """A title as plain text, whether the feed gave it as text or as HTML."""
    value = _dict_get(node, name) or ""
    if _is_html(_dict_get(node, detail)):
        return html_to_text(value)
    return collapse_whitespace(value)


def _html_and_text(
    detail: Node | None, node: Node | None = None, name: str = ""
) -> tuple[str, str]:
    """(HTML for display, text for matching) of a summary or content construct."""
    if detail is not None:
        value = _get(detail, "value") or ""
    else:
        value = (_get(node, name) or "") if node is not None else ""
    if _is_html(detail):
        return value, html_to_text(value)
    return html.escape(value, quote=False), collapse_whitespace(value)


def _first_content(contents: list[Node] | None) -> Node | None:
    """The entry's first HTML content, else its first content of any type."""
    if not contents:
        return None
    return next((c for c in contents if _is_html(c)), contents[0])


def _authors(node: Node) -> tuple[str, ...]:
    people = _get(node, "authors") or ()
    names = [_get(p, "name") or _get(p, "email") for p in people if isinstance(p, dict)]
    return unique_names(names or [_get(node, "author")])


def _language(feed: Node) -> str | None:
    value = _get(feed, "language") or _detail_language(feed)
    return (value.strip() or None) if isinstance(value, str) else None


def _detail_language(node: Node) -> str | None:
    """xml:lang as feedparser carries it on a text construct."""
    detail = _get(node, "title_detail") or _get(node, "summary_detail")
    language = _get(detail, "language") if detail else None
    return language if isinstance(language, str) and language.strip() else None


def _ttl_seconds(value: object) -> int | None:
    """RSS 2.0 `<ttl>` is in minutes."""
    if not isinstance(value, str) or not value.strip().isdigit():
        return None
    minutes = int(value.strip())
    return minutes * 60 if 0 < minutes < 10**6 else None


def _warning(result: Node) -> str | None:
    """feedparser's `bozo_exception`, as one line."""
    if not _get(result, "bozo"):
        return None
    exc = _get(result, "bozo_exception")
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "malformed document"
    return collapse_whitespace(text).replace("\n", " ")[:MAX_WARNING_LENGTH]


def _content_type_for(body: bytes, ascii_view: bytes, content_type: str | None) -> str:
    """The Content-Type feedparser is told, which decides the encoding it tries first.

    Valid UTF-8 is UTF-8, whatever the server or the XML declaration claim (a declared
    single-byte encoding almost never yields valid UTF-8 by chance). Otherwise the document's
    own declaration beats the server's charset, which is often a server-wide default. The media
    type is always an XML one: text/* would make feedparser assume US-ASCII (RFC 3023).
    """
    if ascii_view is body:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return "application/xml; charset=utf-8"
    if ascii_view is not body or XML_ENCODING.match(ascii_view, 0, 1024):
        return "application/xml"
    charset = CHARSET_PARAM.search(content_type or "")
    return f"application/xml; charset={charset.group(1)}" if charset else "application/xml"
