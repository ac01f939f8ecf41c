"""Text helpers shared by the chat formats (slack, discord, teams): one-line titles, cuts with an
ellipsis, lines that fit a service's limit."""

from __future__ import annotations

from monitor.notify.messages import AlertMessage, link_url

__all__ = [
    "ELLIPSIS",
    "LINE_CHARS",
    "SNIPPET_CHARS",
    "fit_lines",
    "markdown_url",
    "one_line",
    "terms_of",
    "title_of",
    "truncate",
]

ELLIPSIS = "…"
SNIPPET_CHARS = 300  # one matched term's snippet, in every chat format
LINE_CHARS = 400  # one line of a digest


def one_line(text: str) -> str:
    return " ".join(text.split())


def truncate(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters with an ellipsis when it is longer."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def fit_lines(lines: list[str], limit: int) -> str:
    """As many whole lines as fit in `limit` characters, then an ellipsis line if any were cut."""
    joined = "\n".join(lines)
    if len(joined) <= limit:
        return joined
    kept: list[str] = []
    size = 0
    for line in lines:
        needed = len(line) + (1 if kept else 0)
        if size + needed > limit - 2:  # leave room for "\n…"
            break
        kept.append(line)
        size += needed
    return "\n".join([*kept, ELLIPSIS]) if kept else truncate(lines[0], limit)


def title_of(alert: AlertMessage) -> str:
    return one_line(alert.article.title) or link_url(alert.article.url) or alert.article.key


def terms_of(alert: AlertMessage) -> str:
    return ", ".join(dict.fromkeys(hit.term for hit in alert.match.keywords))


def markdown_url(url: str) -> str:
    """A URL safe inside a Markdown `[label](url)`: parentheses and spaces percent-encoded."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
