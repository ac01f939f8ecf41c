"""Field size caps, applied where every parser's fields become an `Article` (`build_article`).

Article text comes from strangers: a 9 MB title was stored whole and logged whole. The caps are
`monitor.models.ARTICLE_CAPS`; a cut field ends with a mark that says so. Applied after the
fast path and feedparser alike, so that the two still give equal articles.
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.models import ARTICLE_CAPS

CAPS = ARTICLE_CAPS
# How far back from a cut an unfinished tag or character reference is looked for.
MAX_REFERENCE_LENGTH = 32


def capped_text(text: str, limit: int, mark: str = CAPS.text_mark) -> str:
    """`text`, or its first characters and `mark`, `limit` characters in all."""
    if len(text) <= limit:
        return text
    return text[: limit - len(mark)].rstrip() + mark


def capped_markup(markup: str, limit: int) -> str:
    """HTML cut like `capped_text`, but never inside a tag or a character reference."""
    mark = CAPS.markup_mark
    if len(markup) <= limit:
        return markup
    cut = markup[: limit - len(mark)]
    tag = cut.rfind("<")
    if tag > cut.rfind(">"):
        cut = cut[:tag]
    reference = cut.rfind("&", len(cut) - MAX_REFERENCE_LENGTH)
    if reference >= 0 and ";" not in cut[reference:]:
        cut = cut[:reference]
    return cut.rstrip() + mark


def capped_names(names: Iterable[str], each: int) -> tuple[str, ...]:
    """At most `CAPS.names` distinct names, each capped at `each` characters."""
    kept: dict[str, None] = {}
    for name in names:
        if len(kept) == CAPS.names:
            break
        kept.setdefault(capped_text(name, each), None)
    return tuple(kept)


def capped_url(url: str | None) -> str | None:
    """The URL, or None when longer than `CAPS.url`."""
    return url if url is None or len(url) <= CAPS.url else None
