"""Normalisation shared by the feed formats: canonical URLs, HTML to text, dates, keys and hashes.

`html_to_text` is a small linear tokenizer rather than `html.parser.HTMLParser`: on CPython before
the CVE-2025-6069 fix, HTMLParser takes quadratic time on input such as `"<a" * 200_000`, and
article text comes from strangers.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from monitor.models import Article
from monitor.parse.caps import CAPS, capped_markup, capped_names, capped_text, capped_url

# Query parameters that only track the click; dropping them lets one story, linked from several
# places, get one canonical URL. Compared case-insensitively.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga"}
)
# Controls and every kind of space (a stray NBSP must not survive one pass and not the next).
CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]|\s")
DEFAULT_PORTS = {"http": 80, "https": 443}
# An absolute URL that is canonical but for its fragment and query: lower-case scheme and host,
# no port, no credentials, no ";" path parameters (which urljoin may rewrite), no spaces.
PLAIN_URL = re.compile(
    r"(https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(/[^?#;\s\x00-\x1f\x7f]*)?"
    r"(?:\?([^#\s\x00-\x1f\x7f]*))?(?:#.*)?",
    re.DOTALL,
)
# An absolute URL that urljoin splits and puts back unchanged, whatever the base: lower-case
# http(s), a plain host, no ";" parameters, no empty query or fragment, no spaces or controls.
PLAIN_ABSOLUTE_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[^\x00-\x20\x7f?#;]*)?"
    r"(?:\?[^\x00-\x20\x7f#]+)?(?:#[^\x00-\x20\x7f]+)?"
)
# Changed when the parser reads some bodies differently (2: entity bombs refused, fields capped).
PARSER_REVISION = b"parse-2"
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
# One token of markup, in the order a browser-like reader tries them at a "<": a comment (to the
# end when never closed), a script or style element with its raw text (likewise), a tag (its
# name captured), a declaration or processing instruction. A "<" that starts none of them is text.
MARKUP_TOKEN = re.compile(
    r"<!--(?:.*?-->|().*)"
    r"|<[Ss][Cc][Rr][Ii][Pp][Tt](?![A-Za-z0-9:-])[^>]*>(?:.*?(?i:</script\s*>)|().*)"
    r"|<[Ss][Tt][Yy][Ll][Ee](?![A-Za-z0-9:-])[^>]*>(?:.*?(?i:</style\s*>)|().*)"
    r"|</?([A-Za-z][A-Za-z0-9:-]*)[^>]*>"
    r"|<[!?][^>]*>",
    re.DOTALL,
)
TAG_NAME_GROUP = 4  # the groups before it are set when a comment or raw text runs to the end
UNCLOSED_GROUPS = range(1, TAG_NAME_GROUP)
TOKEN_PARTS = MARKUP_TOKEN.groups + 1  # in MARKUP_TOKEN.split: the text before, then the groups
# Stand-ins for a dropped token and a block boundary: controls that html.unescape never yields.
TAG_MARK, BLOCK_MARK = "\x01", "\x02"
SPACES = re.compile(r"\s{2,}|[^\S ]")  # what is not already a single space


def body_hash(body: bytes) -> str:
    """A stable hash of a response body, to skip parsing a body seen last time.

    Salted with `PARSER_REVISION`, so that a body an earlier parser read differently (one it
    took for a feed, as it took entity bombs) is parsed again rather than found unchanged."""
    return hashlib.blake2b(body, digest_size=16, person=PARSER_REVISION).hexdigest()


def canonical_url(url: str, base: str | None = None) -> str | None:
    """The URL that identifies an article: absolute, without tracking parameters or fragment.

    Resolves `url` against `base`, lower-cases scheme and host, drops the default port, the
    fragment, `utm_*` and click ids, keeps the other parameters in order. None for anything
    that is not an http(s) URL with a host.
    """
    url = url.strip()
    plain = PLAIN_URL.fullmatch(url)
    if plain is None:
        return _parsed_canonical_url(url, base)
    # Most links: what _parsed_canonical_url gives, without its parsing.
    origin, path, query = plain.groups()
    query = _clean_query(query) if query else ""
    return f"{origin}{path or '/'}?{query}" if query else f"{origin}{path or '/'}"


def _parsed_canonical_url(url: str, base: str | None) -> str | None:
    try:
        absolute = urljoin(base, url) if base else url
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


def joined_url(base: str, url: str) -> str:
    """`urljoin(base, url)`, without its parsing and rebuilding for a plain absolute URL."""
    if PLAIN_ABSOLUTE_URL.fullmatch(url) and splittable_url(base):
        return url
    return urljoin(base, url)


@functools.lru_cache(maxsize=256)
def splittable_url(url: str) -> bool:
    """Whether urlsplit takes `url` (urljoin raises ValueError for a base it does not)."""
    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


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
    return _joined_lines(text.split("\n"))


def _joined_lines(lines: list[str]) -> str:
    """The lines with their spaces collapsed, without blank ones. (`str.split` splits on what
    `\\s` matches.)"""
    return "\n".join(filter(None, map(" ".join, map(str.split, lines))))  # C loops, no frames


def plain_text(text: str) -> str:
    """Text that is plain by its format's rules (JSON Feed): entities decoded, spaces collapsed."""
    return collapse_whitespace(html.unescape(text))


def html_to_text(markup: str) -> str:
    """The words of an HTML fragment: tags, comments, scripts and styles dropped, entities decoded.

    Block elements and `<br>` become line breaks so words on either side stay apart; other
    whitespace collapses to single spaces. Linear in the input size.
    """
    if "<" not in markup and "&" not in markup:
        return " ".join(markup.split())
    if TAG_MARK in markup or BLOCK_MARK in markup:
        return collapse_whitespace("".join(_text_pieces(markup)))
    return _joined_lines(_marked_text(markup).replace(TAG_MARK, "").split(BLOCK_MARK))


def _marked_text(markup: str) -> str:
    """The text with entities decoded and each token replaced by a mark (a block tag's
    BLOCK_MARK): marks that no entity reference can decode to or run into, so the text is
    decoded as if run by run."""
    head_end = markup.rfind(">") + 1
    # split, not sub with a function: [text, the token's groups..., text, ...] comes from C.
    parts = MARKUP_TOKEN.split(markup[:head_end])
    tokens = len(parts) // TOKEN_PARTS
    marked = [TAG_MARK] * (2 * tokens + 1)
    marked[::2] = parts[::TOKEN_PARTS]
    marked[1::2] = [
        BLOCK_MARK if name is not None and name.lower() in BLOCK_TAGS else TAG_MARK
        for name in parts[TAG_NAME_GROUP::TOKEN_PARTS]
    ]
    text = "".join(marked)
    # A comment, script or style that runs to the end sets one of the groups before the name.
    if all(parts[group::TOKEN_PARTS].count(None) == tokens for group in UNCLOSED_GROUPS):
        comment = markup.find("<!--", head_end)
        text += markup[head_end:] if comment < 0 else markup[head_end:comment]
    return html.unescape(text) if "&" in text else text


def _text_pieces(markup: str) -> list[str]:
    """The text runs (entities decoded, spaces single) and a line break for each block tag.

    A "<" that does not open a tag, comment or declaration closed later in the text is data,
    as browsers read it. Tokens are only looked for up to the last ">": past it, a "<" can
    only open a comment that never closes, so that tail is scanned once.
    """
    head_end = markup.rfind(">") + 1
    pieces: list[str] = []
    pos = 0
    for token in MARKUP_TOKEN.finditer(markup, 0, head_end):
        start = token.start()
        if start > pos:
            pieces.append(_text_run(markup[pos:start]))
        pos = token.end()
        name = token.group(TAG_NAME_GROUP)
        if name is not None:
            if name.lower() in BLOCK_TAGS:
                pieces.append("\n")
        elif token.lastindex is not None:  # a comment, script or style that never closes
            return pieces
    comment = markup.find("<!--", pos)
    tail = markup[pos:] if comment < 0 else markup[pos:comment]
    if tail:
        pieces.append(_text_run(tail))
    return pieces


def _text_run(text: str) -> str:
    if "&" in text:
        text = html.unescape(text)
    return SPACES.sub(" ", text)


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
    digest = hashlib.blake2b(title.encode("utf-8", "surrogatepass"), digest_size=16)
    digest.update(b"\x00")  # the parts fed one by one hash as their joined text, uncopied
    digest.update(summary.encode("utf-8", "surrogatepass"))
    digest.update(b"\x00")
    digest.update(content.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


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
    """An Article from one format's fields, capped (`caps.py`): derives the canonical URL, the
    key and the hash."""
    title = capped_text(title, CAPS.title)
    summary, summary_text = (
        capped_markup(summary, CAPS.summary),
        capped_text(summary_text, CAPS.summary, CAPS.markup_mark),
    )
    content, content_text = (
        capped_markup(content, CAPS.content),
        capped_text(content_text, CAPS.content, CAPS.markup_mark),
    )
    authors, tags = capped_names(authors, CAPS.author), capped_names(tags, CAPS.tag)
    link = capped_url(link)
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
