"""feedparser's steps on single values, as the fast path takes them: attribute names, URL
joins and xml:base, the repair of mojibake and C1 controls, dates. Remembered where values
repeat, and short-cut where feedparser's step would give its input back."""

from __future__ import annotations

import functools
import re
import time
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri

from monitor.parse.normalize import PLAIN_ABSOLUTE_URL, splittable_url

Node = dict[str, Any]

MATCH_NAMESPACES: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}
C1_CONTROL_IN_UTF8 = re.compile(b"\xc2[\x80-\x9f]")  # U+0080 to U+009F


def without_semicolon(reference: re.Match[str]) -> str:
    """feedparser's `&\\1` for an entity reference in a link (a function: no template to
    expand at every call)."""
    return "&" + reference.group(1)


def attributes(items: list[tuple[str, str]]) -> Node:
    """Attributes as feedparser's strict parser names them (with each local name too)."""
    plain: Node = {raw.lower(): value for raw, value in items}
    if max(plain) < "{":  # no namespaced "{uri}name" (nor non-ASCII name): most elements
        if "rel" in plain or "type" in plain:
            for key in ("rel", "type"):
                if plain.get(key):
                    plain[key] = plain[key].lower()
        return plain
    named: Node = {}
    local_names: list[tuple[str, str]] = []
    for raw, value in items:
        if raw[0] == "{":
            namespace, _, local = raw[1:].partition("}")
            prefix = MATCH_NAMESPACES.get(namespace.lower(), "")
            named[(f"{prefix}:{local}" if prefix else local).lower()] = value
            local_names.append((local.lower(), value))
        else:
            named[raw.lower()] = value
            local_names.append((raw.lower(), value))
    for local, value in local_names:
        named[local] = value
    return {k: v.lower() if k in ("rel", "type") and v else v for k, v in named.items()}


def joined(base: str, url: str) -> str:
    """feedparser's `_urljoin`: an absolute http(s) URL that urljoin gives back as it is, or the
    join, remembered (ids and links repeat, within a feed and across polls)."""
    if PLAIN_ABSOLUTE_URL.fullmatch(url) and splittable_url(base):
        return url
    return _joined_slowly(base, url)


@functools.lru_cache(maxsize=4096)
def _joined_slowly(base: str, url: str) -> str:
    joined: str = _urljoin(base, url)
    return joined


def next_base(base: str, declared: str | None) -> str:
    """feedparser's baseuri after a start tag that declares `declared` (xml:base) or nothing."""
    value = declared or base
    if base:
        return make_safe_absolute_uri(base, value) or base
    return _urljoin(base, value)  # type: ignore[no-any-return]


def as_feedparser_text(text: str) -> str:
    """feedparser's last steps on every value: undo UTF-8 read as Latin-1, map C1 to cp1252."""
    if text.isascii():
        return text
    try:  # (not contextlib.suppress: that costs more than the usual failure itself)
        repaired = text.encode("iso-8859-1").decode("utf-8")  # fails early on most text
    except (UnicodeEncodeError, UnicodeDecodeError):
        repaired = text  # not UTF-8 read as Latin-1
    # C1 controls, found in the UTF-8 form: a regex finds a literal prefix there much faster.
    if C1_CONTROL_IN_UTF8.search(repaired.encode("utf-8", "surrogatepass")):
        return repaired.translate(_cp1252)
    return repaired


@functools.lru_cache(maxsize=4096)
def parsed_date(value: str) -> time.struct_time | None:
    """feedparser's `_parse_date`, remembered: an entry's dates often repeat (published and
    updated), and so do a feed's items from one poll to the next."""
    parsed: time.struct_time | None = _parse_date(value)
    return parsed
