"""Normalisation shared by the feed formats: canonical URLs, HTML to text, dates, keys and hashes.

`html_to_text` is a small linear tokenizer rather than `html.parser.HTMLParser`: on CPython before
the CVE-2025-6069 fix, HTMLParser takes quadratic time on input such as `"<a" * 200_000`, and
article text comes from strangers.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from monitor.models import Article

# Query parameters that only track the click; dropping them lets one story, linked from several
# places, get one canonical URL. Compared case-insensitively.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga"}
)
# Controls and every kind of space (a stray NBSP must not survive one pass and not the next).
CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]|\s")
DEFAULT_PORTS = {"http": 80, "https": 443}
# A guid longer than this is stored as its hash: keys are indexed, and PostgreSQL refuses
# B-tree entries over ~2.7 kB.
MAX_KEY_LENGTH = 512

# Elements whose boundaries separate words ("<p>a</p><p>b</p>" is "a b", not "ab").
BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "caption", "center", "dd"),
        *("details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer"),
        *("form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "li", "main"),
        *("nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th"),
        *("thead", "tr", "ul"),
    }
)
SKIPPED_TAGS = frozenset({"script", "style"})
MARKUP_START = re.compile(r"<(?:/?[A-Za-z]|[!?])")  # "<" before anything else is text
TAG_NAME = re.compile(r"/?([A-Za-z][A-Za-z0-9:-]*)")
SKIPPED_END = {tag: re.compile(rf"</{tag}\s*>", re.IGNORECASE) for tag in SKIPPED_TAGS}
SPACES = re.compile(r"\s{2,}|[^\S ]")  # what is not already a single space
NO_GT_LEFT = -2
# Two passes, each linear: a single `\s*\n\s*` backtracks quadratically over long runs of spaces.
HORIZONTAL_RUN = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
LINE_BREAK_RUN = re.compile(r" ?\n[ \n]*")


def body_hash(body: bytes) -> str:
    """A stable hash of a response body, to skip parsing a body seen last time."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def canonical_url(url: str, base: str | None = None) -> str | None:
    """The URL that identifies an article: absolute, without tracking parameters or fragment.

    Resolves `url` against `base`, lower-cases scheme and host, drops the default port, the
    fragment, `utm_*` and click ids, keeps the other parameters in order. None for anything
    that is not an http(s) URL with a host.
    """
    try:
        absolute = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(absolute)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not host:
        return None
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{parts.netloc.rpartition('@')[0]}@{netloc}"
    path, query = _quote_controls(parts.path or "/"), _quote_controls(_clean_query(parts.query))
    return urlunsplit((scheme, netloc, path, query, ""))


def _quote_controls(text: str) -> str:
    """Percent-encode spaces and control characters, as URL serialisers do (WHATWG URL)."""
    return CONTROL_OR_SPACE.sub(lambda m: quote(m.group(), safe=""), text)


def link_base(feed_url: str) -> str:
    """The feed URL as a base for relative links: without credentials, so none leak into them."""
    try:
        parts = urlsplit(feed_url)
    except ValueError:
        return feed_url
    if "@" not in parts.netloc:
        return feed_url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _clean_query(query: str) -> str:
    kept = [param for param in query.split("&") if param and not _is_tracking(param)]
    return "&".join(kept)


def _is_tracking(param: str) -> bool:
    name = param.partition("=")[0].lower()
    return name.startswith("utm_") or name in TRACKING_PARAMS


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace become one space (one newline where the run held a line break)."""
    text = HORIZONTAL_RUN.sub(" ", text)
    return LINE_BREAK_RUN.sub("\n", text).strip()


def plain_text(text: str) -> str:
    """Text that is plain by its format's rules (JSON Feed): entities decoded, spaces collapsed."""
    return collapse_whitespace(html.unescape(text))


def html_to_text(markup: str) -> str:
    """The words of an HTML fragment: tags, comments, scripts and styles dropped, entities decoded.

    Block elements and `<br>` become line breaks so words on either side stay apart; other
    whitespace collapses to single spaces. Linear in the input size.
    """
    if "<" not in markup and "&" not in markup:
        return SPACES.sub(" ", markup).strip()
    pieces: list[str] = []
    for kind, value in _HtmlTokens(markup):
        if kind == "text":
            pieces.append(SPACES.sub(" ", html.unescape(value)))
        elif value in BLOCK_TAGS:
            pieces.append("\n")
    return collapse_whitespace("".join(pieces))


class _HtmlTokens:
    """Yields ("text", data) and ("tag", lower-case name) from HTML, in one pass.

    A `<` that does not open a tag, comment or declaration closed later in the text is data,
    as browsers read it. The position of the next `>` is remembered, so a text of many
    unclosed `<` is still scanned once.
    """

    def __init__(self, markup: str) -> None:
        self.markup = markup
        self.next_gt = -1

    def __iter__(self) -> Iterator[tuple[str, str]]:
        markup, pos, search = self.markup, 0, 0
        while (found := MARKUP_START.search(markup, search)) is not None:
            lt = found.start()
            end, tag = self._markup_at(lt)
            if end < 0:  # a literal "<": part of the text run
                search = self._after_literal(lt)
                if search < 0:
                    break
                continue
            if lt > pos:
                yield "text", markup[pos:lt]
            pos = search = end
            if tag:
                yield "tag", tag
                if tag in SKIPPED_TAGS and markup[lt + 1] != "/":
                    pos = search = self._skip_raw_text(tag, end)
        if pos < len(markup):
            yield "text", markup[pos:]

    def _after_literal(self, lt: int) -> int:
        """Where to look for markup after a literal "<"; -1 when the rest can only be text."""
        if self.next_gt != NO_GT_LEFT:
            return lt + 1
        return self.markup.find("<!--", lt + 1)  # with no ">" left, only a comment can start

    def _markup_at(self, lt: int) -> tuple[int, str]:
        """(end, tag name) of the markup that starts at `lt`; end -1 when it is not markup."""
        markup = self.markup
        if markup.startswith("<!--", lt):
            close = markup.find("-->", lt + 4)
            return (len(markup) if close < 0 else close + 3), ""
        name = TAG_NAME.match(markup, lt + 1)
        if name is None and not markup.startswith(("<!", "<?"), lt):
            return -1, ""
        gt = self._gt_after(lt)
        if gt < 0:
            return -1, ""
        return gt + 1, (name.group(1).lower() if name else "")

    def _gt_after(self, lt: int) -> int:
        if self.next_gt < lt and self.next_gt != NO_GT_LEFT:
            found = self.markup.find(">", lt)
            self.next_gt = found if found >= 0 else NO_GT_LEFT
        return -1 if self.next_gt == NO_GT_LEFT else self.next_gt

    def _skip_raw_text(self, tag: str, start: int) -> int:
        close = SKIPPED_END[tag].search(self.markup, start)
        return len(self.markup) if close is None else close.end()


def datetime_from_struct(value: time.struct_time | None) -> datetime | None:
    """feedparser's `*_parsed` (UTC struct_time) as an aware datetime; None if unusable."""
    if value is None:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_date(value: object) -> datetime | None:
    """An RFC 3339 date (JSON Feed), or an RFC 822 one as some feeds write, in UTC; else None.

    A date without a time zone is taken as UTC.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def content_hash(title: str, summary: str, content: str) -> str:
    """Changes when the item's visible text changes: tells an edit apart from a repeat."""
    data = "\x00".join((title, summary, content)).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def article_key(guid: str | None, url: str | None, title: str, text: str) -> str:
    """The stable key: the guid if any, else the canonical URL, else a hash of title and text."""
    key = (guid or "").strip() or url
    if key is None:
        digest = hashlib.sha256(f"{title}\n{text}".encode("utf-8", "surrogatepass"))
        return "sha256:" + digest.hexdigest()
    if len(key) > MAX_KEY_LENGTH:
        return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def unique_names(names: Iterable[str | None]) -> tuple[str, ...]:
    """Non-empty names, whitespace collapsed, first occurrence kept, in order."""
    seen: dict[str, None] = {}
    for name in names:
        cleaned = collapse_whitespace(name) if name else ""
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def unique_by_key(articles: Iterable[Article]) -> tuple[Article, ...]:
    """The articles with distinct keys; a repeated item keeps its first occurrence."""
    seen: dict[str, Article] = {}
    for article in articles:
        seen.setdefault(article.key, article)
    return tuple(seen.values())


def build_article(
    *,
    feed_id: str,
    feed_url: str,
    guid: str | None,
    link: str | None,
    title: str,
    summary: str,
    content: str,
    summary_text: str,
    content_text: str,
    authors: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    published: datetime | None = None,
    updated: datetime | None = None,
    language: str | None = None,
) -> Article:
    """An Article from one format's fields: derives the canonical URL, the key and the hash."""
    url = canonical_url(link, base=feed_url) if link else None
    return Article(
        feed_id=feed_id,
        key=article_key(guid, url, title, content_text or summary_text),
        url=url,
        link=link or None,
        title=title,
        summary=summary,
        content=content,
        summary_text=summary_text,
        content_text=content_text,
        authors=authors,
        tags=tags,
        published=published,
        updated=updated,
        language=language or None,
        content_hash=content_hash(title, summary, content),
    )
