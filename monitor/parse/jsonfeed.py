"""JSON Feed 1.0 and 1.1 documents (https://www.jsonfeed.org/version/1.1/) into Articles.

Fields the spec defines as plain text (title, summary, content_text) are kept as text and
escaped for the HTML fields; `content_html` is HTML. Dates are RFC 3339.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from monitor.errors import ParseError
from monitor.models import Article, ParsedFeed
from monitor.parse.caps import CAPS, capped_text, capped_url
from monitor.parse.normalize import (
    build_article,
    html_to_text,
    joined_url,
    link_base,
    parse_date,
    plain_text,
    unique_by_key,
    unique_names,
)

JSON_MEDIA_TYPES = frozenset({"application/feed+json", "application/json"})
VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
FORMATS = {"1": "json10", "1.0": "json10", "1.1": "json11"}
LEADING_SPACE = re.compile(rb"(?:\xef\xbb\xbf)?\s*")


def is_json_feed(body: bytes, content_type: str | None) -> bool:
    """True for a body that starts with `{` (after a BOM and whitespace), or that the server
    labels as JSON and that does not start like XML."""
    start = LEADING_SPACE.match(body)
    first = body[start.end() : start.end() + 1] if start else body[:1]
    if first == b"{":
        return True
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type in JSON_MEDIA_TYPES and first != b"<"


def parse_json_feed(body: bytes, *, feed_id: str, url: str) -> ParsedFeed:
    """Parse a JSON Feed; ParseError for invalid JSON or JSON that is not a JSON Feed."""
    document, warning = _load(body, feed_id=feed_id, url=url)
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIXES):
        raise ParseError("JSON document is not a JSON Feed (no version)", feed_id=feed_id, url=url)
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError("JSON Feed has no items array", feed_id=feed_id, url=url)
    number = version.rpartition("/")[2]
    if number not in FORMATS:
        warning = warning or f"unknown JSON Feed version {number[:20]!r}"
    home = _string(document.get("home_page_url"))
    language = _string(document.get("language"))
    base = link_base(url)
    articles = _articles(items, document, feed_id=feed_id, url=base, language=language)
    return ParsedFeed(
        format=FORMATS.get(number, "json"),
        title=capped_text(plain_text(_string(document.get("title")) or ""), CAPS.title),
        link=capped_url(joined_url(base, home)) if home else None,
        language=language,
        articles=unique_by_key(articles),
        warning=warning,
    )


def _load(body: bytes, *, feed_id: str, url: str) -> tuple[Mapping[str, Any], str | None]:
    warning = None
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("utf-8-sig", "replace")
        warning = "not valid UTF-8 (RFC 8259); undecodable bytes replaced"
    if not text.strip():
        raise ParseError("empty body", feed_id=feed_id, url=url)
    try:
        document = json.loads(text, strict=False)  # strict=False: raw control characters
    except (ValueError, RecursionError) as exc:
        raise ParseError("invalid JSON", feed_id=feed_id, url=url) from exc
    if not isinstance(document, dict):
        raise ParseError("JSON document is not an object", feed_id=feed_id, url=url)
    return document, warning


def _articles(
    items: list[Any],
    document: Mapping[str, Any],
    *,
    feed_id: str,
    url: str,
    language: str | None,
) -> Iterator[Article]:
    feed_authors = _authors(document)
    for item in items:
        if isinstance(item, dict):
            yield _article(item, feed_id=feed_id, url=url, language=language, authors=feed_authors)


def _article(
    item: Mapping[str, Any],
    *,
    feed_id: str,
    url: str,
    language: str | None,
    authors: tuple[str, ...],
) -> Article:
    link = _string(item.get("url")) or _string(item.get("external_url"))
    summary_text = plain_text(_string(item.get("summary")) or "")
    content, content_text = _content(item)
    tags = item.get("tags")
    return build_article(
        feed_id=feed_id,
        feed_url=url,
        guid=_identifier(item.get("id")),
        link=joined_url(url, link) if link else None,
        title=plain_text(_string(item.get("title")) or ""),
        summary=html.escape(summary_text, quote=False),
        content=content,
        summary_text=summary_text,
        content_text=content_text,
        authors=_authors(item) or authors,
        tags=unique_names(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
        published=parse_date(item.get("date_published")),
        updated=parse_date(item.get("date_modified")),
        language=_string(item.get("language")) or language,
    )


def _content(item: Mapping[str, Any]) -> tuple[str, str]:
    """(HTML, text): `content_html` if given, else `content_text` escaped."""
    markup = _string(item.get("content_html"))
    if markup is not None:
        return markup, html_to_text(markup)
    text = plain_text(_string(item.get("content_text")) or "")
    return html.escape(text, quote=False), text


def _authors(node: Mapping[str, Any]) -> tuple[str, ...]:
    """Names from 1.1's `authors` and 1.0's `author`, in that order."""
    people = node.get("authors")
    candidates = list(people) if isinstance(people, list) else []
    candidates.append(node.get("author"))
    return unique_names(
        _string(person.get("name")) for person in candidates if isinstance(person, dict)
    )


def _identifier(value: object) -> str | None:
    """An item id; the spec says string, but some feeds write numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return _string(value)


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
